import { useEffect, useRef, useState } from "react";
import type { Worktree } from "../../../protocol/index.ts";
import { messageOf } from "../lib/api.ts";
import { Spinner } from "../ui/icons.tsx";
import { notify } from "../ui/notices.tsx";
import type { BoardActions } from "./actions.ts";

/** The runner's refusal to delete a dirty worktree starts with these words (runner/src/worktrees.ts). */
const isDirtyRefusal = (wt: Worktree | undefined) =>
  !!wt && wt.status === "ready" && !!wt.error?.startsWith("uncommitted changes");

/**
 * Delete a worktree, following it to the end: the dialog stays open while the runner works, closes
 * when the card goes, and if the runner refuses because of uncommitted changes it shows git's words
 * and offers a forced delete. `wt` is the live row (undefined once the card is gone).
 */
export function DeleteWorktreeDialog({
  wt,
  actions,
  onClose,
}: {
  wt: Worktree | undefined;
  actions: BoardActions;
  onClose: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const [deleteBranch, setDeleteBranch] = useState(false);
  const [sent, setSent] = useState<"none" | "normal" | "force">("none");
  const [error, setError] = useState<string | null>(null);
  const name = useRef(wt?.name ?? "");
  if (wt) name.current = wt.name;

  useEffect(() => {
    ref.current?.showModal();
  }, []);

  // Gone for everyone: done.
  useEffect(() => {
    if (wt) return;
    if (sent !== "none") notify(`Deleted “${name.current}”.`);
    onClose();
  }, [wt, sent, onClose]);

  // Whether the card went `deleting` since we asked: until then its old state says nothing new.
  const [seenDeleting, setSeenDeleting] = useState(false);
  useEffect(() => {
    if (sent !== "none" && wt?.status === "deleting") setSeenDeleting(true);
  }, [sent, wt?.status]);

  const answered = sent !== "none" && seenDeleting && wt?.status !== "deleting";
  const refused = isDirtyRefusal(wt) && (sent === "none" || (sent === "normal" && answered));
  const working = sent !== "none" && !answered;
  // The runner answered without deleting, for a reason other than uncommitted changes.
  const stopped = answered && !refused;

  const go = async (force: boolean) => {
    if (!wt) return;
    setError(null);
    setSeenDeleting(false);
    setSent(force ? "force" : "normal");
    try {
      await actions.deleteWorktree(wt.id, { force, deleteBranch });
    } catch (err) {
      setSent("none");
      setError(messageOf(err));
    }
  };

  return (
    <dialog ref={ref} className="dialog" onClose={onClose} data-testid="delete-worktree">
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          void go(refused);
        }}
      >
        <h2>Delete “{name.current}”?</h2>
        {refused ? (
          <>
            <p>The runner did not delete it: the worktree has changes that were never committed.</p>
            <pre className="git-error" data-testid="delete-refusal">
              {wt?.error}
            </pre>
            <p className="small">A forced delete throws those changes away. That cannot be undone.</p>
          </>
        ) : (
          <p>
            Its folder is removed from the runner's machine and the card goes away for everyone. Uncommitted changes
            stop the delete unless you force it.
          </p>
        )}
        {wt && (
          <label className="check">
            <input
              type="checkbox"
              checked={deleteBranch}
              onChange={(e) => setDeleteBranch(e.target.checked)}
              disabled={working}
              data-testid="delete-branch"
            />
            Also delete the branch <code>{wt.branch}</code>
          </label>
        )}
        {working && (
          <p className="muted small" data-testid="delete-progress">
            <Spinner /> Deleting on the runner…
          </p>
        )}
        {stopped && !wt?.error && <p className="muted small">The runner stopped without deleting it.</p>}
        {stopped && wt?.error && <pre className="git-error">{wt.error}</pre>}
        {error && (
          <div className="error small" role="alert" data-testid="delete-error">
            {error}
          </div>
        )}
        <div className="dialog-actions">
          <button type="button" className="btn" onClick={onClose}>
            {working ? "Close" : "Cancel"}
          </button>
          {refused ? (
            <button type="submit" className="btn btn-danger" disabled={working} data-testid="force-delete">
              Force delete
            </button>
          ) : (
            <button
              type="submit"
              className="btn btn-danger"
              disabled={working || !wt}
              // biome-ignore lint/a11y/noAutofocus: the dialog's purpose is this one decision
              autoFocus
              data-testid="confirm-delete"
            >
              {working ? "Deleting…" : "Delete worktree"}
            </button>
          )}
        </div>
      </form>
    </dialog>
  );
}
