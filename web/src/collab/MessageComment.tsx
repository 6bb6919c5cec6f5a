import { useSyncExternalStore } from "react";
import { CommentIcon } from "../ui/icons.tsx";
import { useBoardCollab } from "./boardContext.ts";

/**
 * A message's own comment button in the transcript: it opens the message's open thread, or starts
 * one on that message; with a thread open there, a "+" beside it starts another. Its count reads
 * the comments' rows, which change only when a comment does, never while text streams.
 */
export function MessageComment({ sessionId, messageId }: { sessionId: string; messageId: string }) {
  const { comments, ui } = useBoardCollab();
  const open = useSyncExternalStore(comments.rows.subscribe, () => {
    let n = 0;
    for (const c of comments.rows.get().values()) {
      if (!c.threadId && !c.resolvedAt && c.messageId === messageId) n++;
    }
    return n;
  });
  const start = () => ui.startAt({ target: "session", targetId: sessionId, messageId });
  const onClick = () => {
    const first = comments
      .threadsAt("session", sessionId)
      .find((t) => !t.root.resolvedAt && t.root.messageId === messageId);
    if (first) ui.showThread(first.root.id);
    else start();
  };
  return (
    <>
      <button
        type="button"
        className={`msg-comment${open ? " has-open" : ""}`}
        onClick={onClick}
        title={open ? `${open} open thread${open === 1 ? "" : "s"} on this message` : "Comment on this message"}
        aria-label={open ? `${open} open comment threads on this message` : "Comment on this message"}
        data-testid="message-comment"
        data-count={open}
      >
        <CommentIcon size={12} />
        {open > 0 && <span>{open}</span>}
      </button>
      {open > 0 && (
        <button
          type="button"
          className="msg-comment msg-comment-new"
          onClick={start}
          title="Start another thread on this message"
          aria-label="New thread on this message"
          data-testid="message-comment-new"
        >
          +
        </button>
      )}
    </>
  );
}
