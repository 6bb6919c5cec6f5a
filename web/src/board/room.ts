import { PartySocket } from "partysocket";
import type { ClientMessage, Drag, EntityEvent, LiveDoing, Notice } from "../../../protocol/index.ts";
import { ROOM_CLOSE, ROOM_PROTOCOL, ROOM_VERSION_PARAM, ServerMessage } from "../../../protocol/index.ts";

type Presence = Extract<ClientMessage, { type: "presence" }>;
type Point = NonNullable<Presence["cursor"]>;
/** A piece of a running agent message, as the room sends it to the sockets watching its session. */
export type StreamMessage = Extract<ServerMessage, { type: "stream" }>;

import { ApiError, api, refreshSession, unwrap } from "../lib/api.ts";
import { readFrame } from "../lib/frames.ts";
import { Store } from "../lib/store.ts";
import { PresenceStore } from "./presence.ts";

export type RoomStatus = "connecting" | "connected" | "reconnecting" | "closed";

/**
 * Close codes the room uses when access ends for good; reconnecting would only be refused again.
 * `signedOut` is not among them: the reconnect asks for a ticket, and the API either refreshes a
 * live sign-in or signs this tab out.
 */
const GONE_CODES: Record<number, string> = {
  [ROOM_CLOSE.removed]: "You were removed from this board.",
  [ROOM_CLOSE.deleted]: "This board was deleted.",
  [ROOM_CLOSE.outdated]: "Trellis was updated while this tab was open: reload the page to carry on.",
};
const PING_MS = 10_000;
/** Cursor frames go out at most this often (the room coalesces further); the last position always goes. */
const CURSOR_MS = 66;
/** Presence frames are the only thing queued while offline, and only the latest few matter. */
const MAX_QUEUED = 8;

/**
 * Where the room's frames go, one handler per kind, so each lands in its own store: entities in
 * the entity stores (through the catch-up), stream deltas (many a second) and notices never there.
 * Presence is this connection's own store.
 */
export interface RoomHandlers {
  entity(event: EntityEvent): void;
  /** A delta of a running agent message, for the sessions watched on this socket. */
  stream(frame: StreamMessage): void;
  /** Live "now doing" lines of streaming sessions, for their cards. */
  doing(items: LiveDoing[]): void;
  /** Something this person should hear about. */
  notice(notice: Notice): void;
  /** Joined the room (first connect or any reconnect): what happened while not listening is only in D1. */
  welcomed(): void;
  /** Access ended (board deleted, removed, no longer a member). */
  gone(message: string): void;
}

/**
 * One board room socket. partysocket reconnects with backoff; each attempt fetches a fresh
 * single-use ticket (no long-lived token in a URL). Presence lives in a store outside React.
 */
export class RoomConnection {
  readonly presence: PresenceStore;
  readonly status = new Store<RoomStatus>("connecting");
  private socket: PartySocket;
  private ping: ReturnType<typeof setInterval>;
  private done = false;
  private cursor: Point | null = null;
  /** What this tab is dragging; sent with the cursor, only when it changed. */
  private drag: Drag = null;
  private dragDirty = false;
  private cursorSentAt = 0;
  private cursorTimer: ReturnType<typeof setTimeout> | undefined;
  /** The sessions whose stream this tab wants (its open panels): told to every socket it joins on. */
  private watching: readonly string[] = [];

  constructor(
    private readonly boardId: string,
    userId: string,
    private readonly handlers: RoomHandlers,
  ) {
    this.presence = new PresenceStore(userId);
    this.socket = new PartySocket({
      host: location.host,
      protocol: location.protocol === "https:" ? "wss" : "ws",
      party: "board-room",
      room: boardId,
      query: async () => ({ ticket: await this.ticket(), [ROOM_VERSION_PARAM]: String(ROOM_PROTOCOL) }),
      maxEnqueuedMessages: MAX_QUEUED,
      maxReconnectionDelay: 8000,
      shouldReconnectOnClose: (e) => !(e.code in GONE_CODES),
    });
    this.socket.addEventListener("message", this.onMessage);
    this.socket.addEventListener("close", this.onClose);
    // The room answers "ping" with "pong" without waking; a socket that stops pinging is swept.
    this.ping = setInterval(() => {
      if (this.socket.readyState === WebSocket.OPEN) this.socket.send("ping");
    }, PING_MS);
  }

  private async ticket(): Promise<string> {
    try {
      const { ticket } = await unwrap(api.api.boards[":boardId"].ticket.$post({ param: { boardId: this.boardId } }));
      return ticket;
    } catch (err) {
      if (err instanceof ApiError && (err.status === 404 || err.status === 403)) this.end(err.message);
      throw err;
    }
  }

  private onMessage = (e: MessageEvent) => {
    const msg = readFrame(e, ServerMessage, ROOM_PROTOCOL, "board room");
    if (msg === "outdated") return this.end(GONE_CODES[ROOM_CLOSE.outdated]!);
    if (!msg) return;
    switch (msg.type) {
      case "welcome":
        this.presence.reset(msg.peers);
        this.status.set("connected");
        this.handlers.welcomed();
        // A new socket watches nothing: say again what this tab watches. The room answers with the
        // text so far of any message still being written.
        if (this.watching.length > 0) this.send({ type: "watch", sessionIds: [...this.watching] });
        break;
      case "join":
        this.presence.join(msg.peer);
        break;
      case "leave":
        this.presence.leave(msg.connectionId);
        break;
      case "presence":
        this.presence.update(msg.updates);
        break;
      case "entity":
        this.handlers.entity(msg);
        break;
      case "stream":
        this.handlers.stream(msg);
        break;
      case "streams":
        for (const piece of msg.pieces) this.handlers.stream({ type: "stream", v: msg.v, ...piece });
        break;
      case "doing":
        this.handlers.doing(msg.items);
        break;
      case "notice":
        this.handlers.notice(msg.notice);
        break;
      case "error":
        console.warn("board room:", msg.code, msg.message);
        break;
    }
  };

  private onClose = (e: CloseEvent) => {
    if (this.done) return;
    this.presence.clear();
    const gone = GONE_CODES[e.code];
    if (gone) return this.end(gone);
    this.status.set("reconnecting");
    // The sign-in this socket came with ended: find out now whether this tab is still signed in
    // (another tab changed the password) or not (signed out elsewhere), not after the backoff.
    if (e.code === ROOM_CLOSE.signedOut) void refreshSession();
  };

  private end(message: string) {
    if (this.done) return;
    this.close();
    this.handlers.gone(message);
  }

  /** Throttled with a trailing send, so the cursor comes to rest where the pointer did. */
  moveCursor(cursor: Point | null): void {
    this.cursor = cursor;
    if (this.cursorTimer) return;
    const wait = this.cursorSentAt + CURSOR_MS - performance.now();
    if (wait <= 0) this.flushCursor();
    else this.cursorTimer = setTimeout(() => this.flushCursor(), wait);
  }

  /** Live positions of what this tab drags (null when the drag ends), on the cursor's throttle. */
  moveDrag(drag: Drag): void {
    this.drag = drag;
    this.dragDirty = true;
    // The end of a drag goes at once, so others stop showing it before the drop's write lands.
    if (drag === null) {
      clearTimeout(this.cursorTimer);
      this.flushCursor();
      return;
    }
    this.moveCursor(this.cursor);
  }

  private flushCursor() {
    this.cursorTimer = undefined;
    this.cursorSentAt = performance.now();
    // Cursor frames are worthless once stale: never queue them while offline.
    if (this.socket.readyState !== WebSocket.OPEN) return;
    this.send({ type: "presence", cursor: this.cursor, ...(this.dragDirty ? { drag: this.drag } : {}) });
    this.dragDirty = false;
  }

  /**
   * Replace the list of sessions this tab watches. Sent now only on an open socket (never
   * queued: a socket that opens later is told at its welcome).
   */
  watch(sessionIds: readonly string[]): void {
    if (sessionIds.length === this.watching.length && sessionIds.every((id, i) => id === this.watching[i])) return;
    this.watching = [...sessionIds];
    if (this.socket.readyState === WebSocket.OPEN) this.send({ type: "watch", sessionIds: [...sessionIds] });
  }

  sendPresence(msg: Omit<Presence, "type" | "cursor">): void {
    this.send({ type: "presence", ...msg });
  }

  private send(msg: ClientMessage) {
    if (!this.done) this.socket.send(JSON.stringify(msg));
  }

  close(): void {
    this.done = true;
    clearInterval(this.ping);
    clearTimeout(this.cursorTimer);
    this.status.set("closed");
    this.socket.close();
  }
}
