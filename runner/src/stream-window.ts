import { MAX_RUNNER_FRAME_CHARS, MAX_STREAM_PIECES, type StreamFrame } from "../../protocol/index.ts";
import type { FrameBody } from "./link.ts";

/** Deltas are gathered this long before they go up the link: a few frames a second per runner, not hundreds. */
export const COALESCE_MS = 16;
/** A delta is capped at 64 KiB on the wire: a burst bigger than that goes in pieces of this size. */
const PIECE_CHARS = 60_000;
/** Room for the frame's own fields around its pieces. */
const FRAME_BUDGET = MAX_RUNNER_FRAME_CHARS - 4096;

type Part = StreamFrame["part"];
type Piece = StreamFrame & { boardId: string };

interface Open {
  boardId: string;
  sessionId: string;
  parts: Set<Part>;
  seq: number;
}

/**
 * The runner's one coalescing window over every session it runs: deltas gathered for
 * `COALESCE_MS` go up the link as one `streams` frame per board (up to `MAX_STREAM_PIECES`
 * pieces), so twenty busy sessions cost one frame per window, not twenty. A message's own pieces
 * can be sent at once (`flushMessage`), before its stored message is posted, without hurrying the
 * others.
 */
export class StreamWindow {
  /** Text gathered per message part, in the order it first came. */
  private pending = new Map<string, { messageId: string; part: Part; text: string }>();
  private open = new Map<string, Open>();
  private timer: NodeJS.Timeout | undefined;

  private readonly send: (frame: FrameBody) => boolean;
  private readonly windowMs: number;

  constructor(send: (frame: FrameBody) => boolean, windowMs = COALESCE_MS) {
    this.send = send;
    this.windowMs = windowMs;
  }

  delta(boardId: string, sessionId: string, messageId: string, part: Part, text: string): void {
    if (!text) return;
    const key = `${messageId} ${part}`;
    const p = this.pending.get(key);
    if (p) p.text += text;
    else this.pending.set(key, { messageId, part, text });
    const o = this.open.get(messageId) ?? { boardId, sessionId, parts: new Set(), seq: 0 };
    this.open.set(messageId, o);
    o.parts.add(part);
    this.timer ??= setTimeout(() => this.flush(), this.windowMs);
  }

  /** This message's gathered text goes up now (its stored message is about to be posted). */
  flushMessage(messageId: string): void {
    this.emit(this.take((p) => p.messageId === messageId));
  }

  /** The message is complete: its last text, then a `done` for each part, so the room forgets it. */
  end(messageId: string): void {
    const pieces = this.take((p) => p.messageId === messageId);
    const o = this.open.get(messageId);
    if (o) for (const part of o.parts) pieces.push(this.piece(messageId, part, "", true));
    this.open.delete(messageId);
    this.emit(pieces);
  }

  /** The window closed: everything gathered goes up. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.emit(this.take(() => true));
  }

  private take(which: (p: { messageId: string }) => boolean): Piece[] {
    const out: Piece[] = [];
    for (const [key, p] of this.pending) {
      if (!which(p)) continue;
      this.pending.delete(key);
      for (const text of cut(p.text)) out.push(this.piece(p.messageId, p.part, text));
    }
    if (this.pending.size === 0 && this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    return out;
  }

  private piece(messageId: string, part: Part, delta: string, done?: boolean): Piece {
    const o = this.open.get(messageId)!;
    o.seq++;
    return {
      boardId: o.boardId,
      sessionId: o.sessionId,
      messageId,
      seq: o.seq,
      part,
      delta,
      ...(done ? { done: true } : {}),
    };
  }

  /** One frame per board, split where a frame would pass the piece count or the frame size limit. */
  private emit(pieces: Piece[]): void {
    const boards = new Map<string, StreamFrame[]>();
    for (const { boardId, ...piece } of pieces) {
      const list = boards.get(boardId) ?? [];
      boards.set(boardId, list);
      list.push(piece);
    }
    for (const [boardId, list] of boards) {
      let batch: StreamFrame[] = [];
      let chars = 0;
      for (const piece of list) {
        const size = JSON.stringify(piece).length + 1;
        if (batch.length && (batch.length >= MAX_STREAM_PIECES || chars + size > FRAME_BUDGET)) {
          this.send({ type: "streams", boardId, pieces: batch });
          batch = [];
          chars = 0;
        }
        batch.push(piece);
        chars += size;
      }
      if (batch.length) this.send({ type: "streams", boardId, pieces: batch });
    }
  }
}

/** Text in pieces the edge accepts: at most `PIECE_CHARS` each, never cut inside a surrogate pair. */
function cut(text: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; ) {
    let end = Math.min(text.length, i + PIECE_CHARS);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end--;
    out.push(text.slice(i, end));
    i = end;
  }
  return out;
}
