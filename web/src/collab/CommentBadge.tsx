import { useSyncExternalStore } from "react";
import type { CommentTarget } from "../../../protocol/index.ts";
import { CommentIcon } from "../ui/icons.tsx";
import { useBoardCollab } from "./boardContext.ts";
import { placeKey } from "./comments.ts";

/**
 * A place's comment button: its open-thread count when it has any (always shown then), or a
 * quiet "comment" affordance while the place is pointed at. Opens the first open thread there, or
 * a new one. Wakes only when this place's count changes.
 */
export function CommentBadge({
  target,
  targetId,
  messageId,
  visible,
  className = "",
}: {
  target: CommentTarget;
  targetId: string;
  messageId?: string;
  /** Show the button even with no open thread (hovered, selected). */
  visible: boolean;
  className?: string;
}) {
  const { comments, ui } = useBoardCollab();
  const key = placeKey(target, targetId);
  const open = useSyncExternalStore(comments.unresolved.subscribe, () => comments.unresolved.get().get(key) ?? 0);
  if (!open && !visible) return null;
  const onClick = () => {
    const first = comments.threadsAt(target, targetId).find((t) => !t.root.resolvedAt);
    if (first && !messageId) ui.showThread(first.root.id);
    else ui.startAt({ target, targetId, ...(messageId ? { messageId } : {}) });
  };
  return (
    <button
      type="button"
      className={`comment-badge nodrag${open ? " has-open" : ""} ${className}`}
      onClick={onClick}
      title={open ? `${open} open thread${open === 1 ? "" : "s"}` : "Comment"}
      aria-label={open ? `${open} open comment threads` : "Comment"}
      data-testid="comment-badge"
      data-count={open}
    >
      <CommentIcon size={13} />
      {open > 0 && <span>{open}</span>}
    </button>
  );
}
