import { useState } from "react";
import type { Session, Task } from "../../../protocol/index.ts";
import { useSubmit } from "../lib/useSubmit.ts";
import type { SessionActions } from "./actions.ts";
import { isBusy, timeOf } from "./format.ts";

/**
 * The prompt box. A prompt to a busy session queues behind the running one; the text stays in
 * the box when the edge refuses it.
 */
export function Composer({
  session,
  actions,
  disabledWhy,
}: {
  session: Session;
  actions: SessionActions;
  disabledWhy: string | null;
}) {
  const [text, setText] = useState("");
  const { busy, error, run } = useSubmit();
  const queues = isBusy(session);
  const send = () => {
    if (!text.trim() || disabledWhy) return;
    void run(async () => {
      await actions.prompt(session.id, text);
      setText("");
    });
  };
  return (
    <form
      className="composer"
      onSubmit={(e) => {
        e.preventDefault();
        send();
      }}
    >
      <textarea
        value={text}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
            e.preventDefault();
            send();
          }
        }}
        rows={2}
        disabled={!!disabledWhy}
        title={disabledWhy ?? undefined}
        placeholder={
          disabledWhy
            ? "View only"
            : queues
              ? "The agent is busy: this prompt waits in the queue (Enter to queue)"
              : "Tell the agent what to do (Enter to send, Shift+Enter for a new line)"
        }
        aria-label="Prompt"
        data-testid="composer-input"
      />
      <button
        type="submit"
        className="btn btn-primary"
        disabled={!!disabledWhy || busy || !text.trim()}
        title={disabledWhy ?? undefined}
        data-testid="composer-send"
      >
        {queues ? "Queue" : "Send"}
      </button>
      {error && (
        <div className="error small composer-error" role="alert" data-testid="composer-error">
          {error}
        </div>
      )}
    </form>
  );
}

/** Prompts waiting behind the running task: who sent each, editable and removable until it starts. */
export function Queue({
  sessionId,
  tasks,
  actions,
  disabledWhy,
}: {
  sessionId: string;
  tasks: readonly Task[];
  actions: SessionActions;
  disabledWhy: string | null;
}) {
  const queued = tasks.filter((t) => t.status === "queued");
  if (!queued.length) return null;
  return (
    <section className="queue" data-testid="queue" aria-label="Queued prompts">
      <div className="queue-head small muted">
        {queued.length} queued prompt{queued.length === 1 ? "" : "s"}
      </div>
      {queued.map((t) => (
        <QueueItem key={t.id} sessionId={sessionId} task={t} actions={actions} disabledWhy={disabledWhy} />
      ))}
    </section>
  );
}

function QueueItem({
  sessionId,
  task,
  actions,
  disabledWhy,
}: {
  sessionId: string;
  task: Task;
  actions: SessionActions;
  disabledWhy: string | null;
}) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(task.prompt);
  const { busy, error, run } = useSubmit();
  return (
    <div className="queue-item" data-testid="queue-item" data-task-id={task.id}>
      <div className="queue-meta small muted">
        {task.fromSessionId ? "a spawned session's answer" : (task.authorName ?? "someone")} · {timeOf(task.createdAt)}
      </div>
      {editing ? (
        <form
          className="queue-edit"
          onSubmit={(e) => {
            e.preventDefault();
            void run(async () => {
              await actions.editQueued(sessionId, task.id, draft);
              setEditing(false);
            });
          }}
        >
          <textarea value={draft} onChange={(e) => setDraft(e.target.value)} rows={2} data-testid="queue-edit-input" />
          <button type="submit" className="btn btn-small btn-primary" disabled={busy || !draft.trim()}>
            Save
          </button>
          <button type="button" className="btn btn-small" onClick={() => setEditing(false)}>
            Cancel
          </button>
        </form>
      ) : (
        <div className="queue-row">
          <span className="queue-text" data-testid="queue-text">
            {task.prompt}
          </span>
          <button
            type="button"
            className="btn btn-small btn-ghost"
            disabled={!!disabledWhy || busy}
            title={disabledWhy ?? "Edit this prompt before it runs"}
            onClick={() => {
              setDraft(task.prompt);
              setEditing(true);
            }}
            data-testid="queue-edit"
          >
            Edit
          </button>
          <button
            type="button"
            className="btn btn-small btn-ghost-danger"
            disabled={!!disabledWhy || busy}
            title={disabledWhy ?? "Take this prompt out of the queue"}
            onClick={() => void run(() => actions.removeQueued(sessionId, task.id))}
            data-testid="queue-remove"
          >
            Remove
          </button>
        </div>
      )}
      {error && (
        <div className="error small" role="alert">
          {error}
        </div>
      )}
    </div>
  );
}
