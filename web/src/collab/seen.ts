import { type ApiClient, unwrap } from "../lib/http.ts";
import { Store } from "../lib/store.ts";

/**
 * When I last looked at each session of the board (session id → ms), for the cards' attention
 * pulse. Mine alone: read on every (re)join, written when I open a session, never announced.
 */
export class SessionSeen {
  readonly at = new Store<ReadonlyMap<string, number>>(new Map());

  constructor(
    private readonly api: ApiClient,
    private readonly boardId: string,
  ) {}

  async read(): Promise<void> {
    const rows = await unwrap(this.api.api.boards[":boardId"].seen.$get({ param: { boardId: this.boardId } }));
    // A look taken here while the read was in flight is newer than what the read says.
    const held = this.at.get();
    const next = new Map(Object.entries(rows));
    for (const [id, t] of held) if ((next.get(id) ?? 0) < t) next.set(id, t);
    this.at.set(next);
  }

  /** I opened it: clear its pulse at once, then tell the edge (the answer's time is the truth). */
  async mark(sessionId: string): Promise<void> {
    this.at.update((m) => new Map(m).set(sessionId, Date.now()));
    const { seenAt } = await unwrap(
      this.api.api.boards[":boardId"].sessions[":sessionId"].seen.$put({
        param: { boardId: this.boardId, sessionId },
      }),
    );
    this.at.update((m) => new Map(m).set(sessionId, Math.max(seenAt, m.get(sessionId) ?? 0)));
  }
}
