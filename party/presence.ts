import type { ClientMessage, Peer } from "../protocol/index.ts";

type PresenceUpdate = Pick<Peer, "connectionId" | "cursor" | "viewport" | "selection" | "drag">;

/**
 * Coalesces presence updates so a busy board sends one batched frame per window instead of one per
 * cursor move per recipient (50 people at 10 Hz would be 25,000 sends a second). Leading edge: the
 * first update after a quiet spell goes out at once; later ones wait for the window to close, and
 * only each peer's latest state is sent. Plain TypeScript: the room supplies the clock and the send.
 */
export class PresenceBatcher {
  private pending = new Map<string, PresenceUpdate>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private lastFlush = 0;

  constructor(
    private readonly send: (updates: PresenceUpdate[]) => void,
    private readonly windowMs = 10,
    private readonly now = () => Date.now(),
  ) {}

  push(update: PresenceUpdate): void {
    this.pending.set(update.connectionId, update);
    if (this.timer) return;
    const wait = this.lastFlush + this.windowMs - this.now();
    if (wait <= 0) this.flush();
    else this.timer = setTimeout(() => this.flush(), wait);
  }

  /** A peer left: never send an update for it after its `leave`. */
  forget(connectionId: string): void {
    this.pending.delete(connectionId);
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.lastFlush = this.now();
    if (this.pending.size === 0) return;
    const updates = [...this.pending.values()];
    this.pending.clear();
    this.send(updates);
  }
}

/** Apply a client's presence message to the peer's last known state. */
export function applyPresence(peer: Peer, msg: Extract<ClientMessage, { type: "presence" }>): Peer {
  return {
    ...peer,
    cursor: msg.cursor === undefined ? peer.cursor : msg.cursor,
    viewport: msg.viewport === undefined ? peer.viewport : msg.viewport,
    selection: msg.selection ?? peer.selection,
    drag: msg.drag === undefined ? peer.drag : msg.drag,
  };
}
