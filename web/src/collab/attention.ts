import type { Session } from "../../../protocol/index.ts";

/**
 * What a card pulses for, for one person: a session of it waits for a permission, or finished
 * (completed or failed) after they last looked at it; opening it clears that for them alone. A
 * session they never opened counts as looked at a day ago, so a finish while they were away
 * still shows, and a board's month-old sessions do not all pulse at someone opening it for the
 * first time.
 */
const NEVER_SEEN_WINDOW_MS = 24 * 60 * 60 * 1000;
export type Attention = "permission" | "failed" | "finished" | null;

const ENDED = new Set<Session["status"]>(["completed", "failed"]);

export function attentionOf(s: Session, seenAt: number | undefined, now = Date.now()): Attention {
  if (s.status === "awaiting_permission") return "permission";
  if (!ENDED.has(s.status)) return null;
  // From when it ended: a rename or a mode change afterwards is no news.
  if ((seenAt ?? now - NEVER_SEEN_WINDOW_MS) >= (s.endedAt ?? s.updatedAt)) return null;
  return s.status === "failed" ? "failed" : "finished";
}

/** The strongest reason among a card's sessions: a permission beats a failure beats a finish. */
export function cardAttention(
  sessions: Iterable<Session>,
  seen: ReadonlyMap<string, number>,
  now = Date.now(),
): Attention {
  let best: Attention = null;
  for (const s of sessions) {
    const a = attentionOf(s, seen.get(s.id), now);
    if (a === "permission") return a;
    if (a === "failed" || (a === "finished" && !best)) best = a;
  }
  return best;
}

export type BoardState = "needs-you" | "failed" | "running" | "idle";

/** The tab's state for its title and favicon: what most needs the person first. */
export function boardStateOf(sessions: Iterable<Session>): BoardState {
  let state: BoardState = "idle";
  for (const s of sessions) {
    if (s.status === "awaiting_permission") return "needs-you";
    if (s.status === "failed") state = "failed";
    else if (state === "idle" && (s.status === "running" || s.status === "queued")) state = "running";
  }
  return state;
}
