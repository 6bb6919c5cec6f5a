import type { Message, ToolResultBlock } from "../../../protocol/index.ts";

/**
 * The transcript as the panel draws it: one row per message, except that an assistant turn and
 * the tool results that answer it are one row, so each tool call shows with its result. Forking
 * at such a row forks after the results (a conversation cut between a call and its result could
 * not go on).
 */
export interface TranscriptRow {
  key: string;
  message: Message;
  /** Results of this message's tool calls, by call id. */
  results: ReadonlyMap<string, ToolResultBlock>;
  /** The last message the row shows: what a fork here holds up to. */
  last: Message;
}

const NO_RESULTS: ReadonlyMap<string, ToolResultBlock> = new Map();

const resultsOf = (m: Message) => m.content.filter((b): b is ToolResultBlock => b.type === "tool_result");

/** Rows for a list of messages; `prev` rows are reused where nothing changed, so memoized rows stay put. */
export function transcriptRows(messages: readonly Message[], prev: readonly TranscriptRow[] = []): TranscriptRow[] {
  const held = new Map(prev.map((r) => [r.key, r]));
  const out: TranscriptRow[] = [];
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    const next = messages[i + 1];
    const calls = m.role === "assistant" ? m.content.filter((b) => b.type === "tool_call") : [];
    let row: TranscriptRow;
    if (calls.length && next?.role === "tool" && next.seq === m.seq + 1) {
      const ids = new Set(calls.map((c) => (c.type === "tool_call" ? c.id : "")));
      const results = resultsOf(next);
      if (results.every((r) => ids.has(r.callId))) {
        row = { key: m.id, message: m, results: new Map(results.map((r) => [r.callId, r])), last: next };
        i++;
      } else row = { key: m.id, message: m, results: NO_RESULTS, last: m };
    } else row = { key: m.id, message: m, results: NO_RESULTS, last: m };
    const old = held.get(row.key);
    out.push(old && old.message === row.message && old.last === row.last ? old : row);
  }
  return out;
}
