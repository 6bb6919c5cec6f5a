import type { EntityEvent, User } from "../../../protocol/index.ts";
import { ApiError, api, messageOf } from "../lib/api.ts";
import { navigate } from "../lib/router.tsx";
import { Store } from "../lib/store.ts";
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
  readonly load = new Store<LoadState>({ status: "loading" });
  /** The room socket while the page is open. */
  readonly room = new Store<RoomConnection | null>(null);
  private left = false;

  constructor(
    readonly boardId: string,
    private readonly user: User,
  ) {
    this.entities = new BoardEntities(user.id);
    this.runners = new RunnerStore(boardId);
    this.terminals = new TerminalStore(api, boardId);
    this.sessions = new BoardSessions(api, boardId);
    this.sessionActions = new SessionActions(api, boardId, this.sessions);
    this.catchUp = new CatchUp(api, boardId, this.entities, {
      apply: (e) => this.applyEntity(e),
      afterRead: () => {
        this.jobs.clear();
        this.runners.loadBoard().catch(() => {});
        this.terminals.load().catch(() => {});
      },
      // Sessions failing to load must not take the board down with them: say so, and the next
      // (re)join reads them again.
      readMore: () =>
        this.sessions.readAll().catch((err) => notify(`Could not load the agent sessions: ${messageOf(err)}`, "error")),
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

  private leave(message: string): void {
    // The room says it twice (the entity event, then the socket close): tell the person once.
    if (this.left) return;
    this.left = true;
    notify(message, "error");
    navigate("/", { replace: true });
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
      notice: (notice) => notify(notice.title),
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
    return () => {
      live = false;
      stopGone();
      stopWatch();
      room.close();
      this.runners.close();
    };
  }
}
