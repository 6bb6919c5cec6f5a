import { useEffect, useRef, useState } from "react";
import type { Worktree } from "../../../protocol/index.ts";
import { messageOf } from "../lib/api.ts";
import type { BoardActions } from "./actions.ts";
import { BranchModeField } from "./BranchModeField.tsx";

/**
 * A card whose creation failed: git's whole message, and the ways out. Retry runs the create
 * again; changing the branch, base or mode first is the edit; Remove opens the delete dialog.
 */
export function RetryWorktreeDialog({
  wt,
  canEdit,
  actions,
  onRemove,
  onClose,
}: {
  wt: Worktree;
  canEdit: boolean;
  actions: BoardActions;
  onRemove: () => void;
  onClose: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const [mode, setMode] = useState(wt.mode);
  const [branch, setBranch] = useState(wt.branch);
  const [base, setBase] = useState(wt.baseBranch ?? "");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    ref.current?.showModal();
  }, []);

  const retry = async () => {
    setBusy(true);
    setError(null);
    try {
      const edit: { mode?: "new" | "existing"; branch?: string; baseBranch?: string | null } = {};
      if (mode !== wt.mode) edit.mode = mode;
      if (branch.trim() !== wt.branch) edit.branch = branch.trim();
      if ((base.trim() || null) !== wt.baseBranch) edit.baseBranch = base.trim() || null;
      await actions.retryWorktree(wt.id, edit);
      onClose();
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <dialog ref={ref} className="dialog dialog-wide" onClose={onClose} data-testid="retry-worktree">
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          void retry();
        }}
      >
        <h2>“{wt.name}” failed</h2>
        <pre className="git-error" data-testid="retry-error">
          {wt.error ?? "The runner gave no reason."}
        </pre>
        {canEdit && wt.status === "error" && (
          <>
            <p className="small muted">Change what git refused, then retry; or retry as it is.</p>
            <BranchModeField mode={mode} onChange={setMode} testIdPrefix="retry" disabled={busy} />
            <label className="field">
              <span>{mode === "new" ? "New branch name" : "Branch to check out"}</span>
              <input
                value={branch}
                onChange={(e) => setBranch(e.target.value)}
                maxLength={200}
                spellCheck={false}
                required
                disabled={busy}
                data-testid="retry-branch"
              />
            </label>
            {mode === "new" && (
              <label className="field">
                <span>From</span>
                <input
                  value={base}
                  onChange={(e) => setBase(e.target.value)}
                  placeholder="the repo's default branch"
                  maxLength={200}
                  spellCheck={false}
                  disabled={busy}
                  data-testid="retry-base"
                />
              </label>
            )}
          </>
        )}
        {error && (
          <div className="error small" role="alert" data-testid="retry-problem">
            {error}
          </div>
        )}
        <div className="dialog-actions">
          <button type="button" className="btn" onClick={onClose}>
            Close
          </button>
          {canEdit && (
            <button type="button" className="btn btn-ghost-danger" onClick={onRemove} data-testid="retry-remove">
              Remove card
            </button>
          )}
          {canEdit && wt.status === "error" && (
            <button type="submit" className="btn btn-primary" disabled={busy} data-testid="retry-submit">
              {busy ? "Retrying…" : "Retry"}
            </button>
          )}
        </div>
      </form>
    </dialog>
  );
}
