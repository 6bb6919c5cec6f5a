import { useEffect, useRef, useState } from "react";
import type { Worktree } from "../../../protocol/index.ts";
import { messageOf } from "../lib/api.ts";
import { Spinner } from "../ui/icons.tsx";
import { notify } from "../ui/notices.tsx";
import type { BoardActions } from "./actions.ts";

/** The runner's refusal to delete a dirty worktree (its code, or from older runners its first words). */
const isDirtyRefusal = (wt: Worktree | undefined) =>
  !!wt &&
  wt.status === "ready" &&
  (wt.errorCode === "uncommitted_changes" || !!wt.error?.startsWith("uncommitted changes"));
/** The runner would not delete the branch: it has commits its base lacks. Nothing was deleted. */
const isUnmergedRefusal = (wt: Worktree | undefined) =>
  !!wt && wt.status !== "deleting" && wt.errorCode === "branch_unmerged";

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
  /** Whether the last request was forced, so asking again about the branch keeps that choice. */
  const [forced, setForced] = useState(false);
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
  const unmerged = isUnmergedRefusal(wt) && (sent === "none" || answered);
  const working = sent !== "none" && !answered;
  // The runner answered without deleting, for another reason.
  const stopped = answered && !refused && !unmerged;
  // Trellis deletes only a branch this card's create made.
  const mayDeleteBranch = !!wt?.branchCreated;

  const go = async (force: boolean, branch: { deleteBranch: boolean; deleteUnmerged?: boolean } = { deleteBranch }) => {
    if (!wt) return;
    setError(null);
    setSeenDeleting(false);
    setForced(force);
    setSent(force ? "force" : "normal");
    try {
      await actions.deleteWorktree(wt.id, { force, ...branch, deleteBranch: branch.deleteBranch && mayDeleteBranch });
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
          if (unmerged) void go(forced, { deleteBranch: true, deleteUnmerged: true });
          else void go(refused);
        }}
      >
        <h2>Delete “{name.current}”?</h2>
        {unmerged ? (
          <>
            <p>Nothing was deleted: the branch has commits that are not in its base branch.</p>
            <pre className="git-error" data-testid="delete-unmerged">
              {wt?.error}
            </pre>
            <p className="small">
              Deleting the unmerged branch loses those commits. That cannot be undone. You can also delete only the
              worktree and keep the branch.
            </p>
          </>
        ) : refused ? (
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
        {wt && !unmerged && mayDeleteBranch && (
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
        {wt && !mayDeleteBranch && (
          <p className="muted small" data-testid="branch-kept">
            The branch <code>{wt.branch}</code> stays: Trellis did not create it, so it never deletes it.
          </p>
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
          {unmerged ? (
            <>
              <button
                type="button"
                className="btn"
                disabled={working}
                onClick={() => void go(forced, { deleteBranch: false })}
                data-testid="delete-keep-branch"
              >
                Delete worktree, keep branch
              </button>
              <button type="submit" className="btn btn-danger" disabled={working} data-testid="delete-unmerged-confirm">
                Delete unmerged branch
              </button>
            </>
          ) : refused ? (
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
