import { type FormEvent, useEffect, useMemo, useRef, useState } from "react";
import { type ForkWorktree, type Message, type Session, SessionTitle } from "../../../protocol/index.ts";
import { isCard } from "../board/cards.ts";
import { useBoardCollab } from "../collab/boardContext.ts";
import { problem } from "../lib/problems.ts";
import { useStore } from "../lib/store.ts";
import { useSubmit } from "../lib/useSubmit.ts";
import { useSessions } from "./context.ts";
import { ForkWorktreeFields } from "./ForkWorktreeFields.tsx";

/**
 * Fork a session at a message: a new session holding the conversation up to it, in the same
 * worktree, another one on the board, or a new one made for it from this worktree's branch. The
 * fork's panel opens when it exists, and a new worktree's card is brought into view.
 */
export function ForkDialog({ session, at, onClose }: { session: Session; at: Message; onClose: () => void }) {
  const { actions, entities, store } = useSessions();
  const { ui } = useBoardCollab();
  const ref = useRef<HTMLDialogElement>(null);
  const nodes = useStore(entities.nodes);
  const source = useMemo(
    () => nodes.filter(isCard).find((n) => n.id === session.worktreeId)?.data.wt,
    [nodes, session.worktreeId],
  );
  const others = useMemo(
    () =>
      nodes
        .filter(isCard)
        .map((n) => n.data.wt)
        .filter((w) => w.id !== session.worktreeId && w.status === "ready"),
    [nodes, session.worktreeId],
  );
  const [where, setWhere] = useState<"same" | "other" | "new">("same");
  const [made, setMade] = useState<{ body: ForkWorktree } | { problem: string } | null>(null);
  const [tried, setTried] = useState(false);
  const [target, setTarget] = useState("");
  const [title, setTitle] = useState(`${session.title || "Session"} (fork)`.slice(0, 200));
  const { busy, error, run } = useSubmit();
  useEffect(() => {
    ref.current?.showModal();
  }, []);
  const titleProblem = problem(SessionTitle, title, "The title");
  const worktreeId = where === "other" ? target || others[0]?.id : undefined;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setTried(true);
    const newWorktree = where === "new" && made && "body" in made ? made.body : undefined;
    if (titleProblem || (where === "other" && !worktreeId) || (where === "new" && !newWorktree)) return;
    void run(async () => {
      const fork = await actions.fork(session.id, {
        messageId: at.id,
        ...(worktreeId ? { worktreeId } : {}),
        ...(newWorktree ? { newWorktree } : {}),
        ...(title.trim() ? { title: title.trim() } : {}),
      });
      store.openPanel(fork.id);
      // Its card is made beside this one, maybe out of view: bring it in for the person who asked.
      if (newWorktree) ui.revealPlace({ target: "worktree", targetId: fork.worktreeId });
      onClose();
    });
  };

  return (
    <dialog ref={ref} className="dialog" onClose={onClose} data-testid="fork-dialog">
      <form onSubmit={submit} className="stack">
        <h2>Fork at message {at.seq}</h2>
        <p className="small muted">
          A new session with the first {at.seq} message{at.seq === 1 ? "" : "s"} of this one, the same model and
          permissions. This session goes on unchanged.
        </p>
        <div className="field">
          <label className="radio">
            <input
              type="radio"
              name="fork-where"
              checked={where === "same"}
              onChange={() => setWhere("same")}
              data-testid="fork-same"
            />
            <span>In this worktree</span>
          </label>
          <label className={`radio${others.length ? "" : " disabled"}`}>
            <input
              type="radio"
              name="fork-where"
              checked={where === "other"}
              disabled={!others.length}
              onChange={() => setWhere("other")}
              data-testid="fork-other"
            />
            <span>In another worktree{others.length ? "" : " (none other is ready on this board)"}</span>
          </label>
          <label className={`radio${source ? "" : " disabled"}`}>
            <input
              type="radio"
              name="fork-where"
              checked={where === "new"}
              disabled={!source}
              onChange={() => setWhere("new")}
              data-testid="fork-new"
            />
            <span>In a new worktree</span>
          </label>
          {where === "new" && source && <ForkWorktreeFields source={source} onChange={setMade} showProblems={tried} />}
          {where === "other" && (
            <select value={worktreeId ?? ""} onChange={(e) => setTarget(e.target.value)} data-testid="fork-worktree">
              {others.map((w) => (
                <option key={w.id} value={w.id}>
                  {w.name} ({w.branch})
                </option>
              ))}
            </select>
          )}
        </div>
        <label className="field">
          <span>Title</span>
          <input value={title} onChange={(e) => setTitle(e.target.value)} data-testid="fork-title" />
          {titleProblem && <small className="field-error">{titleProblem}</small>}
        </label>
        {error && (
          <div className="error" role="alert" data-testid="fork-error">
            {error}
          </div>
        )}
        <div className="dialog-actions">
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button
            type="submit"
            className="btn btn-primary"
            disabled={busy || !!titleProblem}
            data-testid="fork-confirm"
          >
            {busy ? "Forking…" : "Fork"}
          </button>
        </div>
      </form>
    </dialog>
  );
}
