import type { Peer, ServerMessage } from "../../../protocol/index.ts";

type PresenceUpdate = Extract<ServerMessage, { type: "presence" }>["updates"][number];

/** A person on the board as the facepile shows them: one entry per user, however many tabs. */
export type Person = { userId: string; name: string; color: string; tabs: number };

/**
 * Who else is on the board, outside React state: cursor frames arrive many times a second and must
 * not re-render the canvas. Two subscriptions so each view wakes only for what it shows: `roster`
 * (join/leave, for the facepile) and `cursors` (every presence frame, for the cursor overlay).
 */
export class PresenceStore {
  private peers = new Map<string, Peer>();
  private rosterListeners = new Set<() => void>();
  private cursorListeners = new Set<() => void>();
  private peopleCache: Person[] = [];
  private othersCache: Peer[] = [];

  constructor(private readonly myUserId: string) {}

  /** A fresh `welcome`: the room's full list replaces whatever we had before a reconnect. */
  reset(peers: Peer[]): void {
    this.peers = new Map(peers.map((p) => [p.connectionId, p]));
    this.changed(true);
  }

  join(peer: Peer): void {
    this.peers.set(peer.connectionId, peer);
    this.changed(true);
  }

  leave(connectionId: string): void {
    if (this.peers.delete(connectionId)) this.changed(true);
  }

  /** Connection lost: nobody is known to be here until the next `welcome`. */
  clear(): void {
    if (this.peers.size === 0) return;
    this.peers.clear();
    this.changed(true);
  }

  update(updates: PresenceUpdate[]): void {
    let any = false;
    for (const u of updates) {
      const p = this.peers.get(u.connectionId);
      if (!p || p.userId === this.myUserId) continue;
      this.peers.set(u.connectionId, {
        ...p,
        cursor: u.cursor,
        viewport: u.viewport,
        selection: u.selection,
        drag: u.drag ?? null,
      });
      any = true;
    }
    if (any) this.changed(false);
  }

  private changed(roster: boolean) {
    // My own other tabs are me, not company: neither in the facepile nor as a cursor.
    this.othersCache = [...this.peers.values()].filter((p) => p.userId !== this.myUserId);
    if (roster) {
      const byUser = new Map<string, Person>();
      for (const p of this.othersCache) {
        const seen = byUser.get(p.userId);
        if (seen) seen.tabs++;
        else byUser.set(p.userId, { userId: p.userId, name: p.name, color: p.color, tabs: 1 });
      }
      this.peopleCache = [...byUser.values()];
      for (const l of this.rosterListeners) l();
    }
    for (const l of this.cursorListeners) l();
  }

  /** Other people's connections (cursors are per tab). Stable between changes for useSyncExternalStore. */
  others = (): Peer[] => this.othersCache;
  people = (): Person[] => this.peopleCache;

  subscribeRoster = (l: () => void) => {
    this.rosterListeners.add(l);
    return () => this.rosterListeners.delete(l);
  };

  subscribeCursors = (l: () => void) => {
    this.cursorListeners.add(l);
    return () => this.cursorListeners.delete(l);
  };
}
