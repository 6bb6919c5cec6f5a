import { useSyncExternalStore } from "react";
import type { EntityEvent, LiveDoing, Message, Session, Task } from "../../../protocol/index.ts";
import { MAX_WATCHED } from "../../../protocol/index.ts";
import { type ApiClient, unwrap } from "../lib/http.ts";
import { Store } from "../lib/store.ts";
import type { StreamPiece } from "./transcript.ts";
import { NO_TOTALS, sameTotals, summarize, type Totals, totalsOf, type WorktreeSessions } from "./tree.ts";
import { SessionView } from "./view.ts";

/** The API's largest page of sessions. */
const SESSION_PAGE = 1000;
/** A board past this many sessions shows the first ones rather than reading forever. */
const MAX_SESSION_PAGES = 20;
/** Closed panels whose transcript is kept, so reopening one reads only what is new. */
const KEEP_CLOSED = 4;

const newer = (a: Session, b: Session) => a.updatedAt >= b.updatedAt;
/** Statuses in which a session's text is being written. */
const LIVE = new Set<Session["status"]>(["queued", "running"]);

/**
 * The board's agent sessions, outside React. Slices, so each view wakes only for its own:
 * `rows` (every session by id: the panel's header), `byWorktree` (each card's tree and totals,
 * a new object only for the worktree that changed), `totals` (the board bar; a new object only
 * when a figure changed). Open panels each have a `SessionView` (messages, tasks, live text);
 * `open` is the watch list the room is told about. Stream frames reach only those views: nothing
 * here changes on a delta, so the canvas never hears of one. The room's live "now doing" lines (at
 * most one a second per streaming session) change only their own card's slice.
 *
 * Kept current by the room's `session`, `task` and `message` events, and re-read over REST on
 * every (re)join (`readAll`, run inside the board's catch-up so events during it wait for it).
 */
export class BoardSessions {
  readonly rows = new Store<ReadonlyMap<string, Session>>(new Map());
  readonly byWorktree = new Store<ReadonlyMap<string, WorktreeSessions>>(new Map());
  readonly totals = new Store<Totals>(NO_TOTALS);
  /** False until the first list read is in. */
  readonly loaded = new Store(false);
  /** Sessions whose panel is open: the room streams these to this socket. */
  readonly open = new Store<readonly string[]>([]);
  private views = new Map<string, SessionView>();
  /** When each row was last written here (a counter), so a read does not drop what came after it. */
  private touched = new Map<string, number>();
  private tick = 0;

  constructor(
    private readonly api: ApiClient,
    private readonly boardId: string,
  ) {}

  get = (id: string): Session | undefined => this.rows.get().get(id);

  // ---- the reducer: room events ----

  apply(e: EntityEvent): void {
    switch (e.entity) {
      case "session":
        if (e.op === "removed") this.remove(e.id);
        else if (e.row) this.upsert(e.row);
        return;
      case "task":
        if (e.op === "removed") {
          for (const v of this.views.values()) v.removeTask(e.id);
          return;
        }
        if (e.row) this.views.get(e.row.sessionId)?.applyTask(e.row);
        return;
      case "message":
        if (e.row) this.views.get(e.row.sessionId)?.applyMessage(e.row);
        return;
    }
  }

  /** A stream piece: only the open panel of its session hears of it. */
  onStream(piece: StreamPiece): void {
    this.views.get(piece.sessionId)?.applyStream(piece);
  }

  /**
   * The room's live "now doing" lines while sessions stream: each changes its session's row and so
   * only its own card's slice (the row's `updatedAt` stays, so the next stored change replaces it).
   * A session that is no longer running keeps the line its row has.
   */
  onDoing(items: readonly LiveDoing[]): void {
    const changed: Session[] = [];
    for (const { sessionId, nowDoing } of items) {
      const held = this.get(sessionId);
      if (!held || held.nowDoing === nowDoing || !LIVE.has(held.status)) continue;
      changed.push({ ...held, nowDoing });
    }
    if (!changed.length) return;
    this.rows.update((m) => {
      const next = new Map(m);
      for (const row of changed) next.set(row.id, row);
      return next;
    });
    this.recompute([...new Set(changed.map((r) => r.worktreeId))]);
  }

  /** A row from an event or from one of our own writes; an older one than held is ignored. */
  upsert(row: Session): void {
    const held = this.get(row.id);
    this.touched.set(row.id, ++this.tick);
    if (held && !newer(row, held)) return;
    this.rows.update((m) => new Map(m).set(row.id, row));
    this.views.get(row.id)?.sessionChanged(row);
    this.recompute(held && held.worktreeId !== row.worktreeId ? [held.worktreeId, row.worktreeId] : [row.worktreeId]);
  }

  remove(id: string): void {
    const held = this.get(id);
    this.touched.delete(id);
    this.views.get(id)?.gone("This session was deleted.");
    if (!held) return;
    this.rows.update((m) => {
      const next = new Map(m);
      next.delete(id);
      return next;
    });
    this.recompute([held.worktreeId]);
  }

  // ---- snapshots: the list as just read ----

  /**
   * Read every session on the board. A session held but not in the read was removed while we
   * were not listening, unless it was written here after the read began; a row held that is
   * newer than the read's keeps. Open panels read what they may have missed too.
   */
  async readAll(): Promise<void> {
    const startedAt = this.tick;
    const seen: Session[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await unwrap(
        this.api.api.boards[":boardId"].sessions.$get({
          param: { boardId: this.boardId },
          query: cursor ? { limit: String(SESSION_PAGE), cursor } : { limit: String(SESSION_PAGE) },
        }),
      );
      seen.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor && ++pages < MAX_SESSION_PAGES);
    this.takeAll(seen, startedAt, !cursor);
    // What open panels missed while we were not listening; a closed one reads when reopened.
    for (const id of this.open.get()) void this.views.get(id)?.read();
  }

  private takeAll(items: Session[], startedAt: number, complete: boolean): void {
    const held = this.rows.get();
    const next = new Map<string, Session>();
    for (const row of items) {
      const mine = held.get(row.id);
      next.set(row.id, mine && (this.touched.get(row.id) ?? 0) > startedAt && !newer(row, mine) ? mine : row);
    }
    for (const [id, row] of held) {
      if (next.has(id)) continue;
      // Kept: written here after the read began, or beyond an incomplete read's end.
      if ((this.touched.get(id) ?? 0) > startedAt || !complete) next.set(id, row);
      else this.views.get(id)?.gone("This session was deleted.");
    }
    for (const row of next.values()) this.views.get(row.id)?.sessionChanged(row);
    this.rows.set(next);
    this.recompute(null);
    this.loaded.set(true);
  }

  /** Each card's slice again, for the worktrees named (null: all of them). */
  private recompute(worktreeIds: string[] | null): void {
    const rows = [...this.rows.get().values()];
    const prev = this.byWorktree.get();
    const group = new Map<string, Session[]>();
    for (const s of rows) {
      if (worktreeIds && !worktreeIds.includes(s.worktreeId)) continue;
      const list = group.get(s.worktreeId);
      if (list) list.push(s);
      else group.set(s.worktreeId, [s]);
    }
    const next = new Map(worktreeIds ? prev : []);
    for (const id of worktreeIds ?? group.keys()) {
      const list = group.get(id);
      if (list) next.set(id, sameRows(prev.get(id), list) ? prev.get(id)! : summarize(list));
      else next.delete(id);
    }
    this.byWorktree.set(next);
    const totals = totalsOf(rows);
    if (!sameTotals(totals, this.totals.get())) this.totals.set(totals);
  }

  // ---- open panels ----

  /**
   * Open a session's panel (the only one unless `only` is false), or bring it back; it starts
   * reading at once. With `messageId`, the transcript goes to that message (a comment's link).
   */
  openPanel(sessionId: string, opts: { only?: boolean; messageId?: string } = {}): SessionView {
    const view = this.showPanel(sessionId, opts.only ?? true);
    if (opts.messageId) view.target.set({ messageId: opts.messageId, n: (view.target.get()?.n ?? 0) + 1 });
    return view;
  }

  private showPanel(sessionId: string, only: boolean): SessionView {
    let view = this.views.get(sessionId);
    if (view && this.open.get().includes(sessionId)) {
      // Already watched: its live text is current; only the others close.
      if (only && this.open.get().length > 1) this.open.set([sessionId]);
      this.forgetClosed();
      return view;
    }
    if (!view) {
      view = new SessionView(this.api, this.boardId, sessionId, (s) => this.upsert(s));
      this.views.set(sessionId, view);
    } else {
      // Kept from before: not watched meanwhile, so its live text is stale; read what is new.
      view.live.set(new Map());
    }
    const others = only ? [] : this.open.get().filter((id) => id !== sessionId);
    this.open.set([...others, sessionId].slice(-MAX_WATCHED));
    void view.read();
    this.forgetClosed();
    return view;
  }

  closePanel(sessionId: string): void {
    if (!this.open.get().includes(sessionId)) return;
    this.open.set(this.open.get().filter((id) => id !== sessionId));
    this.forgetClosed();
  }

  view(sessionId: string): SessionView | undefined {
    return this.views.get(sessionId);
  }

  /** Closed views beyond the few kept are dropped, oldest first (a Map keeps insertion order). */
  private forgetClosed(): void {
    const open = new Set(this.open.get());
    const closed = [...this.views.keys()].filter((id) => !open.has(id));
    for (const id of closed.slice(0, Math.max(0, closed.length - KEEP_CLOSED))) this.views.delete(id);
    // Reopening moves a view to the end, so the most recently used are the ones kept.
    for (const id of open) {
      const v = this.views.get(id);
      if (!v) continue;
      this.views.delete(id);
      this.views.set(id, v);
    }
  }

  /**
   * The room (re)joined: open panels lost whatever streamed meanwhile (the room sends the text so
   * far once it hears the watch list again). The catch-up's `readAll` then reads what they missed.
   */
  rejoined(): void {
    for (const id of this.open.get()) this.views.get(id)?.rejoined();
  }

  /** Our own writes' answers, applied before their events arrive. */
  takeTask(t: Task): void {
    this.views.get(t.sessionId)?.applyTask(t);
  }

  dropTask(sessionId: string, taskId: string): void {
    this.views.get(sessionId)?.removeTask(taskId);
  }

  takeMessage(m: Message): void {
    this.views.get(m.sessionId)?.applyMessage(m);
  }
}

/** The same sessions, each the same row object: the card's slice stays as it is. */
function sameRows(prev: WorktreeSessions | undefined, rows: Session[]): boolean {
  if (!prev || prev.nodes.length !== rows.length) return false;
  const held = new Set(prev.nodes.map((n) => n.session));
  return rows.every((r) => held.has(r));
}

const NONE: WorktreeSessions | undefined = undefined;

/** One card's sessions: wakes only when that worktree's slice changed. */
export function useWorktreeSessions(store: BoardSessions, worktreeId: string): WorktreeSessions | undefined {
  return useSyncExternalStore(store.byWorktree.subscribe, () => store.byWorktree.get().get(worktreeId) ?? NONE);
}

/** One session's row, for its panel. */
export function useSession(store: BoardSessions, sessionId: string): Session | undefined {
  return useSyncExternalStore(store.rows.subscribe, () => store.get(sessionId));
}
