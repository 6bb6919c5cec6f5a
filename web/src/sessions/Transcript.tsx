import { memo, useMemo, useRef, useSyncExternalStore } from "react";
import type {
  ContentBlock,
  DecisionRecord,
  Message,
  Task,
  ToolCallBlock,
  ToolResultBlock,
} from "../../../protocol/index.ts";
import { MessageComment } from "../collab/MessageComment.tsx";
import { Link } from "../lib/router.tsx";
import { useSessions } from "./context.ts";
import { parseDiff } from "./diff.ts";
import {
  costLabel,
  costTitle,
  formatDuration,
  formatTokens,
  keySourceOf,
  timeOf,
  totalTokens,
  usageTitle,
} from "./format.ts";
import { DiffView, Markdown } from "./Markdown.tsx";
import { type TranscriptRow, transcriptRows } from "./rows.ts";
import type { SessionView } from "./view.ts";
import { WindowedList } from "./WindowedList.tsx";

type Item = { key: string; row: TranscriptRow } | { key: string; liveId: string };

/** The ids of messages being written, as one string: the list re-renders when one starts or ends, not on every delta. */
const liveKey = (view: SessionView) => [...view.live.get().keys()].join(",");

/**
 * A session's conversation, windowed. Finished messages come from `view.messages`; the text being
 * written is drawn by a row of its own that alone listens to the stream, so a delta re-renders
 * one row.
 */
export function Transcript({
  view,
  onFork,
  canFork,
  forkWhy,
}: {
  view: SessionView;
  onFork: (m: Message) => void;
  canFork: boolean;
  forkWhy?: string;
}) {
  const messages = useSyncExternalStore(view.messages.subscribe, view.messages.get);
  const tasks = useSyncExternalStore(view.tasks.subscribe, view.tasks.get);
  const live = useSyncExternalStore(view.live.subscribe, () => liveKey(view));
  const loading = useSyncExternalStore(view.status.subscribe, () => view.status.get().status === "loading");
  const target = useSyncExternalStore(view.target.subscribe, view.target.get);
  const prevRows = useRef<TranscriptRow[]>([]);
  const rows = useMemo(() => {
    const next = transcriptRows(messages, prevRows.current);
    prevRows.current = next;
    return next;
  }, [messages]);
  const taskById = useMemo(() => new Map(tasks.map((t) => [t.id, t])), [tasks]);
  const items = useMemo<Item[]>(
    () => [
      ...rows.map((row) => ({ key: row.key, row })),
      ...live
        .split(",")
        .filter(Boolean)
        .map((liveId) => ({ key: `live:${liveId}`, liveId })),
    ],
    [rows, live],
  );
  // A row shows its message and, for a tool call, the results after it: either id finds the row.
  const targetKey = target
    ? rows.find((r) => r.message.id === target.messageId || r.last.id === target.messageId)?.key
    : undefined;
  if (items.length === 0) {
    return (
      <div className="transcript transcript-empty muted" data-testid="transcript">
        {loading ? "Loading the conversation…" : "No messages yet. Send a prompt below to set the agent to work."}
      </div>
    );
  }
  return (
    <WindowedList
      items={items}
      className="transcript"
      testId="transcript"
      scrollTo={targetKey && target ? { key: targetKey, n: target.n } : undefined}
      render={(item) =>
        "row" in item ? (
          <MessageRow
            row={item.row}
            targeted={item.row.key === targetKey}
            task={item.row.message.taskId ? taskById.get(item.row.message.taskId) : undefined}
            onFork={onFork}
            canFork={canFork}
            forkWhy={forkWhy}
          />
        ) : (
          <LiveRow view={view} id={item.liveId} />
        )
      }
    />
  );
}

const ROLE_LABEL: Record<Message["role"], string> = {
  user: "Prompt",
  assistant: "Agent",
  tool: "Tools",
  system: "Trellis",
};

const MessageRow = memo(function MessageRow({
  row,
  targeted,
  task,
  onFork,
  canFork,
  forkWhy,
}: {
  row: TranscriptRow;
  /** The message a link to a comment on it pointed at. */
  targeted: boolean;
  task: Task | undefined;
  onFork: (m: Message) => void;
  canFork: boolean;
  forkWhy?: string;
}) {
  const m = row.message;
  const who =
    m.role === "user"
      ? m.fromSessionId
        ? "A spawned session's answer"
        : (m.authorName ?? "Someone")
      : m.role === "assistant"
        ? (m.model ?? "Agent")
        : ROLE_LABEL[m.role];
  return (
    <article
      className={`msg msg-${m.role}${targeted ? " msg-targeted" : ""}`}
      data-testid="message"
      data-targeted={targeted || undefined}
      data-role={m.role}
      data-seq={m.seq}
      data-last-seq={row.last.seq}
      data-message-id={m.id}
    >
      <header className="msg-head">
        <span className="msg-who">{who}</span>
        <time className="msg-time" dateTime={new Date(m.createdAt).toISOString()}>
          {timeOf(m.createdAt)}
        </time>
        {m.usage && (
          <span className="msg-usage" title={usageTitle(m.usage)}>
            {formatTokens(totalTokens(m.usage))} tokens
          </span>
        )}
        <button
          type="button"
          className="msg-fork"
          disabled={!canFork}
          onClick={() => onFork(row.last)}
          title={canFork ? `Fork here: a new session holding messages 1–${row.last.seq}` : forkWhy}
          data-testid="message-fork"
        >
          ⋔ Fork
        </button>
        <MessageComment sessionId={m.sessionId} messageId={m.id} />
      </header>
      <div className="msg-body">
        {m.content.map((b, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: a message's blocks never change once written
          <BlockView key={i} block={b} role={m.role} results={row.results} />
        ))}
        {m.role === "tool" && [...row.results.values()].map((r) => <ResultView key={r.callId} result={r} />)}
      </div>
      {m.role === "user" && task && <TaskLine task={task} />}
    </article>
  );
});

function TaskLine({ task }: { task: Task }) {
  const { meId } = useSessions();
  const key = keySourceOf(task, meId);
  const tokens = totalTokens(task.usage);
  const took = task.startedAt && task.endedAt ? formatDuration(task.endedAt - task.startedAt) : null;
  return (
    <footer className={`task-line task-${task.status}`} data-testid="task-line" data-status={task.status}>
      <span>{task.status}</span>
      {took && <span>{took}</span>}
      {tokens > 0 && <span title={usageTitle(task.usage)}>{formatTokens(tokens)} tokens</span>}
      {tokens > 0 && (
        <span title={costTitle(task.costMicros ?? 0, task.costMicros === null)}>
          {costLabel(task.costMicros ?? 0, task.costMicros === null)}
        </span>
      )}
      {key && (
        <Link
          href="/keys"
          className="task-key"
          title={`${key.title} Keys & environment: click to manage yours.`}
          data-testid="task-key"
          data-source={task.keySource ?? undefined}
        >
          {key.label}
        </Link>
      )}
      {task.error && <span className="task-error">{task.error}</span>}
    </footer>
  );
}

function BlockView({
  block,
  role,
  results,
}: {
  block: ContentBlock;
  role: Message["role"];
  results: ReadonlyMap<string, ToolResultBlock>;
}) {
  switch (block.type) {
    case "text":
      return role === "user" ? <div className="msg-prompt">{block.text}</div> : <Markdown text={block.text} />;
    case "thinking":
      return (
        <details className="thinking">
          <summary>Thinking</summary>
          <div className="thinking-text">{block.thinking}</div>
        </details>
      );
    case "tool_call":
      return <ToolCallView call={block} result={results.get(block.id)} />;
    case "tool_result":
      // Shown under its call when the row pairs them; alone otherwise.
      return results.has(block.callId) ? null : <ResultView result={block} />;
    case "notice":
      return (
        <div className={`notice-line notice-${block.kind}`} data-testid="session-notice" data-kind={block.kind}>
          {block.text}
        </div>
      );
  }
}

/** One line for a tool call: the file, the command, the pattern. */
function callSummary(call: ToolCallBlock): string {
  const i = call.input as Record<string, unknown>;
  const str = (k: string) => (typeof i[k] === "string" ? (i[k] as string) : null);
  if (call.name === "shell") return str("command") ?? "";
  if (call.name === "grep") return [str("pattern"), str("path")].filter(Boolean).join(" in ");
  if (call.name === "spawn_session") return str("title") ?? str("prompt")?.slice(0, 80) ?? "";
  if (call.name === "todo_write") return Array.isArray(i.todos) ? `${i.todos.length} items` : "";
  return str("path") ?? str("pattern") ?? "";
}

function ToolCallView({ call, result }: { call: ToolCallBlock; result: ToolResultBlock | undefined }) {
  const exit = result?.meta?.exitCode;
  const state = !result ? "pending" : result.isError ? "error" : "ok";
  return (
    <div className="tool-wrap" data-testid="tool-call" data-tool={call.name} data-state={state}>
      <details className={`tool tool-${state}`} open={state === "error" || undefined}>
        <summary>
          <span className="tool-name">{call.name}</span>
          <span className="tool-what">{callSummary(call)}</span>
          {exit !== undefined && exit !== null && (
            <span className={`tool-exit${exit === 0 ? "" : " bad"}`} title="exit code">
              exit {exit}
            </span>
          )}
          {result?.meta?.durationMs !== undefined && (
            <span className="tool-took">{formatDuration(result.meta.durationMs)}</span>
          )}
          <span className="tool-state">{state === "pending" ? "…" : state === "ok" ? "✓" : "✗"}</span>
        </summary>
        <div className="tool-body">
          {call.name === "shell" && typeof call.input.command === "string" ? (
            <pre className="tool-cmd">$ {call.input.command}</pre>
          ) : (
            <ToolInput call={call} />
          )}
          {result && <ResultBody result={result} />}
        </div>
      </details>
      <DecisionLine d={result?.meta?.decision} />
    </div>
  );
}

/** Inputs as the model sent them; a file's new content as text rather than one escaped line. */
function ToolInput({ call }: { call: ToolCallBlock }) {
  const { content, ...rest } = call.input as Record<string, unknown>;
  return (
    <>
      <pre className="tool-input">{JSON.stringify(rest, null, 2)}</pre>
      {typeof content === "string" && <pre className="tool-content">{content}</pre>}
    </>
  );
}

function ResultBody({ result }: { result: ToolResultBlock }) {
  const diff = result.meta?.diff;
  return (
    <>
      {diff && <DiffView diff={parseDiff(diff)} />}
      {(!diff || result.isError) && result.output && (
        <pre className={`tool-output${result.isError ? " bad" : ""}`} data-testid="tool-output">
          {result.output}
        </pre>
      )}
      {result.meta?.truncated && <div className="small muted">Output cut to what the model was shown.</div>}
    </>
  );
}

function ResultView({ result }: { result: ToolResultBlock }) {
  return (
    <div className={`tool tool-${result.isError ? "error" : "ok"}`} data-testid="tool-result">
      <div className="tool-name">{result.name}</div>
      <ResultBody result={result} />
      <DecisionLine d={result.meta?.decision} />
    </div>
  );
}

/** Who let the call run or refused it; nothing when the permission mode allowed it (the header says the mode). */
function DecisionLine({ d }: { d: DecisionRecord | undefined }) {
  if (!d || d.decision === "mode") return null;
  const by = d.byName ?? "someone";
  const text =
    d.decision === "allow"
      ? `Approved once by ${by}`
      : d.decision === "allow_always"
        ? // An approval from before who approved was kept names nobody rather than "someone".
          d.byName
          ? `Approved for the rest of the session by ${d.byName}`
          : "Approved earlier for the rest of the session"
        : `Denied by ${by}${d.reason ? `: “${d.reason}”` : ""}`;
  return (
    <div className={`decision decision-${d.decision}`} data-testid="decision">
      {text} · {timeOf(d.at)}
    </div>
  );
}

/** A message still being written: only this row hears the stream. */
function LiveRow({ view, id }: { view: SessionView; id: string }) {
  const live = useSyncExternalStore(view.live.subscribe, () => view.live.get().get(id));
  if (!live) return null;
  return (
    <article className="msg msg-assistant msg-live" data-testid="message" data-live="true" data-message-id={id}>
      <header className="msg-head">
        <span className="msg-who">Agent</span>
        <span className="msg-time">{live.done ? "finishing…" : "writing…"}</span>
      </header>
      <div className="msg-body">
        {live.thinking && (
          <details className="thinking" open>
            <summary>Thinking</summary>
            <div className="thinking-text">{live.thinking}</div>
          </details>
        )}
        {live.text && <Markdown text={live.text} streaming />}
        {live.toolInput && <pre className="tool-input tool-streaming">{live.toolInput}</pre>}
      </div>
    </article>
  );
}
