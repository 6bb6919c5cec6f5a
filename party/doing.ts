import type { LiveDoing } from "../protocol/index.ts";

/** A session's card line changes at most this often while its text streams. */
export const DOING_MS = 1000;
/** Lines due at about the same moment go in one frame: a board of busy sessions sends few. */
const GATHER_MS = 50;
const MAX_CHARS = 300;

/** The last line of text that says something, as the card shows it (as the runner words it after a turn). */
export function lastLineOf(text: string): string | null {
  // Only the tail is looked at: a message may be 200,000 characters long.
  const tail = text.length > 4 * MAX_CHARS ? text.slice(-4 * MAX_CHARS) : text;
  const line = tail
    .split("\n")
    .map((l) => l.trim())
    .findLast((l) => l !== "");
  if (!line) return null;
  const flat = line.replace(/\s+/g, " ");
  return flat.length > MAX_CHARS ? `${flat.slice(0, MAX_CHARS - 1)}…` : flat;
}

/**
 * The cards' live "now doing" while text streams, derived from the pieces the room relays: no D1
 * write and no extra frame from the runner. Each session's latest line is sent at most once per
 * `DOING_MS` (the first at once, the latest after), lines that fall due together in one frame.
 * Plain TypeScript: the room supplies the clock and the send.
 */
export class LiveDoingBatcher {
  private pending = new Map<string, string>();
  /** What each session's card was last told, and when. */
  private told = new Map<string, { line: string; at: number }>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private timerAt = 0;

  private readonly send: (items: LiveDoing[]) => void;
  private readonly now: () => number;
  private readonly everyMs: number;

  constructor(send: (items: LiveDoing[]) => void, now: () => number = Date.now, everyMs = DOING_MS) {
    this.send = send;
    this.now = now;
    this.everyMs = everyMs;
  }

  /** A session's text so far changed. */
  saw(sessionId: string, text: string): void {
    const line = lastLineOf(text);
    if (!line) return;
    if (this.told.get(sessionId)?.line === line) {
      this.pending.delete(sessionId);
      return;
    }
    this.pending.set(sessionId, line);
    this.schedule();
  }

  /**
   * The session's message was stored: the row's own `nowDoing` says what it does now, and a line
   * still waiting here would be older than that. Its pace holds for the next message's text.
   */
  drop(sessionId: string): void {
    this.pending.delete(sessionId);
    const t = this.told.get(sessionId);
    if (t) t.line = "";
  }

  /** The session's task ended: nothing of it is kept. */
  forget(sessionId: string): void {
    this.pending.delete(sessionId);
    this.told.delete(sessionId);
  }

  private dueAt(sessionId: string): number {
    return (this.told.get(sessionId)?.at ?? Number.NEGATIVE_INFINITY) + this.everyMs;
  }

  private schedule(): void {
    if (this.pending.size === 0) return;
    const now = this.now();
    let soonest = Number.POSITIVE_INFINITY;
    for (const id of this.pending.keys()) soonest = Math.min(soonest, this.dueAt(id));
    if (soonest <= now) {
      this.flush();
      return;
    }
    const at = now + Math.max(soonest - now, GATHER_MS);
    // A session that fell due sooner than the timer set for another moves it up.
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.flush(), at - now);
  }

  /** Send every line that is due, and wait for the rest. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const now = this.now();
    const items: LiveDoing[] = [];
    for (const [sessionId, nowDoing] of this.pending) {
      // A moment early is fine: lines falling due together share the frame.
      if (this.dueAt(sessionId) > now + GATHER_MS) continue;
      items.push({ sessionId, nowDoing });
      this.pending.delete(sessionId);
      this.told.set(sessionId, { line: nowDoing, at: now });
    }
    if (items.length) this.send(items);
    this.schedule();
  }
}
