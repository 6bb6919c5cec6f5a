import type { EntityEvent, Notice, User } from "../../../protocol/index.ts";
import type { Bell } from "../collab/bell.ts";
import { playChime } from "../collab/chime.ts";
import { BoardComments } from "../collab/comments.ts";
import { SessionSeen } from "../collab/seen.ts";
import { ApiError, api, messageOf } from "../lib/api.ts";
import { navigate } from "../lib/router.tsx";
import { Store } from "../lib/store.ts";
import { McpServers } from "../mcp/store.ts";
import { RunnerStore } from "../runners/store.ts";
import { SessionActions } from "../sessions/actions.ts";
import { BoardSessions } from "../sessions/store.ts";
import { TerminalStore } from "../terminals/store.ts";
import { notify } from "../ui/notices.tsx";
import { BoardActions } from "./actions.ts";
import { CatchUp } from "./catchUp.ts";
import { BoardEntities } from "./entities.ts";
import { CardJobs } from "./jobs.ts";
import { RoomConnection, type StreamMessage } from "./room.ts";

/** A zone's `ask` trigger, waiting for the person who dropped the card to send or cancel it. */
export type AskNotice = Notice & { ask: NonNullable<Notice["ask"]> };

export type LoadState = { status: "loading" } | { status: "ready" } | { status: "error"; message: string };

/**
 * Everything the board page knows about one board, in small stores outside React, one per
 * concern, so a view subscribes only to the slice it shows: the entities (board, members, zones
 * and cards, `BoardEntities`), open card jobs (`CardJobs`), runners and repos (`RunnerStore`),
 * presence (the room's `PresenceStore`). They are kept current by the room's events and re-read
 * over REST whenever the room is (re)joined (`CatchUp`). D1 is the truth.
 *
 * This class only wires them: it owns no state of its own beyond whether the page has loaded.
 */
export class BoardState {
  readonly entities: BoardEntities;
  readonly jobs = new CardJobs();
  readonly runners: RunnerStore;
  /** The board's terminals (web/src/terminals), listed on their cards. */
  readonly terminals: TerminalStore;
  readonly catchUp: CatchUp;
  readonly actions: BoardActions;
  readonly sessions: BoardSessions;
  readonly sessionActions: SessionActions;
  /** Threads on the board, its zones, cards and sessions (web/src/collab). */
  readonly comments: BoardComments;
  /** When I last looked at each session: the cards' attention pulse, for me alone. */
  readonly seen: SessionSeen;
  /** The MCP servers sessions on this board can pick (web/src/mcp). */
  readonly mcpServers: McpServers;
  /** A zone asking me to send its prompt (I dropped a card there). */
  readonly ask = new Store<AskNotice | null>(null);
  readonly load = new Store<LoadState>({ status: "loading" });
  /** The room socket while the page is open. */
  readonly room = new Store<RoomConnection | null>(null);
  private left = false;

  constructor(
    readonly boardId: string,
    private readonly user: User,
    private readonly bell: Bell | null = null,
  ) {
    this.entities = new BoardEntities(user.id);
    this.runners = new RunnerStore(boardId);
    this.terminals = new TerminalStore(api, boardId);
    this.sessions = new BoardSessions(api, boardId);
    this.sessionActions = new SessionActions(api, boardId, this.sessions);
    this.comments = new BoardComments(api, boardId);
    this.seen = new SessionSeen(api, boardId);
    this.mcpServers = new McpServers(api, boardId);
    this.catchUp = new CatchUp(api, boardId, this.entities, {
      apply: (e) => this.applyEntity(e),
      afterRead: () => {
        this.jobs.clear();
        this.runners.loadBoard().catch(() => {});
        this.terminals.load().catch(() => {});
      },
      // Sessions failing to load must not take the board down with them: say so, and the next
      // (re)join reads them again.
      readMore: async () => {
        await Promise.all([
          this.sessions
            .readAll()
            .catch((err) => notify(`Could not load the agent sessions: ${messageOf(err)}`, "error")),
          this.comments.readAll().catch((err) => notify(`Could not load the comments: ${messageOf(err)}`, "error")),
          // What I have looked at, read on every (re)join: a pulse cleared in another tab stays cleared.
          this.seen.read().catch(() => {}),
          this.mcpServers
            .readAll()
            .catch((err) => notify(`Could not load the MCP servers: ${messageOf(err)}`, "error")),
        ]);
      },
    });
    this.actions = new BoardActions(api, boardId, this.entities, this.jobs);
  }

  /** Every room event, to the one store it concerns. */
  private applyEntity(e: EntityEvent) {
    switch (e.entity) {
      case "job":
        if (e.row) this.jobs.apply(e.row);
        return;
      case "runner":
      case "repo":
        return this.runners.apply(e);
      case "worktree":
        if (e.op === "removed") {
          this.jobs.forget(e.id);
          this.terminals.forgetWorktree(e.id);
        }
        return this.entities.apply(e);
      case "terminal":
        return this.terminals.apply(e);
      case "comment":
        return this.comments.apply(e);
      case "mcp_server":
        return this.mcpServers.apply(e);
      case "session":
      case "task":
      case "message":
        return this.sessions.apply(e);
      default:
        return this.entities.apply(e);
    }
  }

  /**
   * Agent stream deltas arrive many times a second: they belong to the open session panels'
   * stores, never to the entities, whose every change re-renders the canvas.
   */
  private onStream(frame: StreamMessage): void {
    this.sessions.onStream(frame);
  }

  /**
   * A notice meant for me alone on this board: a zone's question opens its dialog, a trigger that
   * could not fire says why; anything else is a toast. (The bell hears my inbox, not the board.)
   */
  private onNotice(n: Notice): void {
    if (n.ask) {
      this.ask.set({ ...n, ask: n.ask });
      playChime();
      return;
    }
    if (n.kind === "zone.trigger_failed") {
      notify(n.body ? `${n.title}: ${n.body}` : n.title, "error");
      return;
    }
    notify(n.body ? `${n.title}: ${n.body}` : n.title);
  }

  private leave(message: string): void {
    // The room says it twice (the entity event, then the socket close): tell the person once.
    if (this.left) return;
    this.left = true;
    notify(message, "error");
    navigate("/", { replace: true });
  }

  /**
   * An open panel is me looking at that session: its pulse clears (for me alone), and again when
   * it changes while I watch, and what the bell said about it is read.
   */
  private watchLooking(): () => void {
    const markedFor = new Map<string, number>();
    const look = () => {
      for (const id of this.sessions.open.get()) {
        const s = this.sessions.get(id);
        const version = s?.updatedAt ?? 0;
        if (markedFor.has(id) && markedFor.get(id)! >= version) continue;
        const first = !markedFor.has(id);
        markedFor.set(id, version);
        this.seen.mark(id).catch(() => {});
        if (first) this.bell?.readAbout(id).catch(() => {});
      }
      for (const id of markedFor.keys()) if (!this.sessions.open.get().includes(id)) markedFor.delete(id);
    };
    const a = this.sessions.open.subscribe(look);
    const b = this.sessions.rows.subscribe(look);
    return () => {
      a();
      b();
    };
  }

  /** Read the board and join its room; returns what closes them (the page's effect cleanup). */
  start(): () => void {
    let live = true;
    let shown = false;
    this.catchUp
      .run(() => {
        shown = true;
        if (live) this.load.set({ status: "ready" });
      })
      .catch((err) => {
        if (!live) return;
        const message =
          err instanceof ApiError && err.status === 404
            ? "This board does not exist, or you are not a member of it."
            : messageOf(err);
        // Before anything is on screen the page says why; after, a failed later page is a notice.
        if (shown) notify(message, "error");
        else this.load.set({ status: "error", message });
      });
    const stopGone = this.entities.gone.subscribe(() => {
      const message = this.entities.gone.get();
      if (message) this.leave(message);
    });
    const room = new RoomConnection(this.boardId, this.user.id, {
      entity: this.catchUp.onEntity,
      stream: (frame) => this.onStream(frame),
      doing: (items) => this.sessions.onDoing(items),
      notice: (notice) => this.onNotice(notice),
      // Every (re)join re-reads: whatever happened while we were not listening, including in the
      // moment between the first read above and the first join, is only in D1.
      welcomed: () => {
        this.sessions.rejoined();
        this.catchUp.joined();
      },
      gone: (message) => this.leave(message),
    });
    this.room.set(room);
    // The room streams the open panels' sessions to this socket, and only those.
    room.watch(this.sessions.open.get());
    const stopWatch = this.sessions.open.subscribe(() => room.watch(this.sessions.open.get()));
    const stopLooking = this.watchLooking();
    return () => {
      live = false;
      stopGone();
      stopWatch();
      stopLooking();
      room.close();
      this.runners.close();
    };
  }
}
