import { useEffect, useRef, useState } from "react";
import { isHttpUrl, type Worktree } from "../../../protocol/index.ts";
import type { BoardActions } from "./actions.ts";

/** A worktree's notes: read by everyone, edited by members. Saved as one PATCH. */
export function NotesDialog({
  wt,
  canEdit,
  actions,
  onClose,
}: {
  wt: Worktree;
  canEdit: boolean;
  actions: BoardActions;
  onClose: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const [draft, setDraft] = useState(wt.notes);
  useEffect(() => {
    ref.current?.showModal();
  }, []);

  return (
    <dialog ref={ref} className="dialog dialog-wide" onClose={onClose} data-testid="notes-dialog">
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          if (draft !== wt.notes) void actions.patchWorktree(wt.id, { notes: draft });
          onClose();
        }}
      >
        <h2>Notes on “{wt.name}”</h2>
        {wt.issueUrl && (
          <p className="small">
            {isHttpUrl(wt.issueUrl) ? (
              <a href={wt.issueUrl} target="_blank" rel="noreferrer noopener" className="link">
                {wt.issueUrl}
              </a>
            ) : (
              <span data-testid="unsafe-issue-url">{wt.issueUrl} (not a web link, so not opened)</span>
            )}
          </p>
        )}
        <textarea
          className="notes-text"
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          readOnly={!canEdit}
          rows={8}
          maxLength={10_000}
          placeholder={canEdit ? "What this worktree is for, what is left to do…" : "No notes."}
          autoFocus
          data-testid="notes-text"
        />
        <div className="dialog-actions">
          <button type="button" className="btn" onClick={onClose}>
            {canEdit ? "Cancel" : "Close"}
          </button>
          {canEdit && (
            <button type="submit" className="btn btn-primary" data-testid="notes-save">
              Save notes
            </button>
          )}
        </div>
      </form>
    </dialog>
  );
}
