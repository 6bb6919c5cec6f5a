import type { Message, StreamFrame, Task } from "../../../protocol/index.ts";

/**
 * The pure rules of a transcript: finished messages merged from REST pages and room events, and
 * the text of messages still being written, from stream frames. No I/O, so every order of
 * arrival can be tested.
 */

export type StreamPart = StreamFrame["part"];
/** A stream frame as the room sends it (`snapshot`: the text so far, for a socket that just started watching). */
export type StreamPiece = StreamFrame & { snapshot?: boolean };

/** A message being written: its parts' text so far, and the last piece of each that was applied. */
export interface LiveMessage {
  id: string;
  text: string;
  thinking: string;
  toolInput: string;
  seqs: Readonly<Record<StreamPart, number>>;
  /** The model finished it; the message itself is on its way as an entity. */
  done: boolean;
}

const FIELD: Record<StreamPart, "text" | "thinking" | "toolInput"> = {
  text: "text",
  thinking: "thinking",
  tool_input: "toolInput",
};

const emptyLive = (id: string): LiveMessage => ({
  id,
  text: "",
  thinking: "",
  toolInput: "",
  seqs: { text: 0, thinking: 0, tool_input: 0 },
  done: false,
});

/**
 * Merge messages into a list kept in `seq` order, one entry per id. A message already held keeps
 * its object (messages do not change once written), so a re-read costs the view nothing; a merge
 * that adds nothing returns the same list.
 */
export function mergeMessages(list: readonly Message[], incoming: readonly Message[]): readonly Message[] {
  if (incoming.length === 0) return list;
  const last = list.at(-1)?.seq ?? 0;
  // The usual case, a page or an event after everything held: append without sorting.
  if (incoming.every((m, i) => m.seq > (i === 0 ? last : incoming[i - 1]!.seq))) return [...list, ...incoming];
  const byId = new Map(list.map((m) => [m.id, m]));
  let added = false;
  for (const m of incoming) {
    if (byId.has(m.id)) continue;
    byId.set(m.id, m);
    added = true;
  }
  if (!added) return list;
  return [...byId.values()].sort((a, b) => a.seq - b.seq);
}

/**
 * How far the list is whole: the highest `n` with messages 1…n all held. Seqs count from 1
 * without holes within a session (a fork copies them), so a list whose last seq is its length
 * has no gap; one with a gap is read again from here.
 */
export function contiguous(list: readonly Message[]): number {
  if (list.length === 0 || list.at(-1)!.seq === list.length) return list.length;
  for (let i = 0; i < list.length; i++) if (list[i]!.seq !== i + 1) return i;
  return list.length;
}

/**
 * One stream frame applied to the messages being written. A piece at or below the last applied
 * seq of its part is a repeat and is dropped; a snapshot replaces the part's text when it is
 * newer than what is held (a late joiner, or after a reconnect); `done` marks the message
 * finished; a piece of a message already finished and held (`isFinished`) changes nothing.
 * Returns the same map when nothing changed.
 */
export function applyPiece(
  live: ReadonlyMap<string, LiveMessage>,
  piece: StreamPiece,
  isFinished: (messageId: string) => boolean,
): ReadonlyMap<string, LiveMessage> {
  if (isFinished(piece.messageId)) return live;
  const prev = live.get(piece.messageId);
  const field = FIELD[piece.part];
  const seen = prev?.seqs[piece.part] ?? 0;
  let next: LiveMessage | undefined;
  if (piece.snapshot) {
    if (piece.seq > seen || !prev) {
      const base = prev ?? emptyLive(piece.messageId);
      next = { ...base, [field]: piece.delta, seqs: { ...base.seqs, [piece.part]: piece.seq } };
    }
  } else if (piece.seq > seen) {
    if (piece.delta) {
      const base = prev ?? emptyLive(piece.messageId);
      next = { ...base, [field]: base[field] + piece.delta, seqs: { ...base.seqs, [piece.part]: piece.seq } };
    } else if (prev) next = { ...prev, seqs: { ...prev.seqs, [piece.part]: piece.seq } };
  }
  // A `done` for a message never seen (watching began as it ended) has nothing to show.
  if (piece.done && (next ?? prev)) next = { ...(next ?? prev)!, done: true };
  if (!next) return live;
  const out = new Map(live);
  out.set(piece.messageId, next);
  return out;
}

/** Messages now held are no longer being written. */
export function dropFinished(
  live: ReadonlyMap<string, LiveMessage>,
  finished: (id: string) => boolean,
): ReadonlyMap<string, LiveMessage> {
  if (![...live.keys()].some(finished)) return live;
  return new Map([...live].filter(([id]) => !finished(id)));
}

const TASK_RANK: Record<Task["status"], number> = { queued: 0, running: 1, completed: 2, failed: 2, stopped: 2 };

/**
 * Tasks have no version stamp, but their status only moves forward (queued → running → an end):
 * a row that would move a task back is older than the one held and is not applied. A queued
 * prompt's edit keeps its rank, so it is applied.
 */
export function mergeTask(list: readonly Task[], row: Task): readonly Task[] {
  const i = list.findIndex((t) => t.id === row.id);
  if (i < 0) return [...list, row].sort((a, b) => (a.id < b.id ? -1 : 1));
  const held = list[i]!;
  if (TASK_RANK[row.status] < TASK_RANK[held.status]) return list;
  const next = list.slice();
  next[i] = row;
  return next;
}
