import { useSyncExternalStore } from "react";
import type { CommentTarget } from "../../../protocol/index.ts";
import { CommentIcon } from "../ui/icons.tsx";
import { useBoardCollab } from "./boardContext.ts";
import { placeKey } from "./comments.ts";
import { cardOpenCount } from "./commentTree.ts";

/**
 * A place's comment button: its open-thread count when it has any (always shown then), or a
 * quiet "comment" affordance while the place is pointed at. A card's count takes in its sessions'
 * threads (their messages' too): the sessions live on the card, and the count is what says there
 * is something to read there. The count opens the first open thread; a "+" beside it (while the
 * place is pointed at) starts another one. Wakes only when this place's count changes.
 */
export function CommentBadge({
  target,
  targetId,
  sessionIds,
  visible,
  className = "",
}: {
  target: CommentTarget;
  targetId: string;
  /** A card's sessions, whose threads count on the card. */
  sessionIds?: readonly string[];
  /** Show the button even with no open thread (hovered, selected). */
  visible: boolean;
  className?: string;
}) {
  const { comments, ui } = useBoardCollab();
  const key = placeKey(target, targetId);
  const open = useSyncExternalStore(comments.unresolved.subscribe, () => {
    const counts = comments.unresolved.get();
    return sessionIds ? cardOpenCount(counts, targetId, sessionIds) : (counts.get(key) ?? 0);
  });
  if (!open && !visible) return null;
  const start = () => ui.startAt({ target, targetId });
  const onClick = () => {
    const places: [CommentTarget, string][] = [
      [target, targetId],
      ...(sessionIds ?? []).map((id) => ["session", id] as [CommentTarget, string]),
    ];
    for (const [t, id] of places) {
      const first = comments.threadsAt(t, id).find((th) => !th.root.resolvedAt);
      if (first) return ui.showThread(first.root.id);
    }
    start();
  };
  return (
    <span className={`comment-badge-wrap nodrag ${className}`}>
      <button
        type="button"
        className={`comment-badge${open ? " has-open" : ""}`}
        onClick={onClick}
        title={open ? `${open} open thread${open === 1 ? "" : "s"}` : "Comment"}
        aria-label={open ? `${open} open comment threads` : "Comment"}
        data-testid="comment-badge"
        data-count={open}
      >
        <CommentIcon size={13} />
        {open > 0 && <span>{open}</span>}
      </button>
      {open > 0 && visible && (
        <button
          type="button"
          className="comment-badge comment-badge-new"
          onClick={start}
          title={`Start another thread on this ${target}`}
          aria-label={`New thread on this ${target}`}
          data-testid="comment-badge-new"
        >
          +
        </button>
      )}
    </span>
  );
}
