import type { ClientMessage, EntityEvent, Notice, Peer, ServerMessage, StreamFrame } from "../protocol/index.ts";
import {
  ClientMessage as ClientMessageSchema,
  MAX_STREAM_PIECES,
  ROOM_CLOSE,
  ROOM_PROTOCOL,
} from "../protocol/index.ts";
import { describeIssues } from "../worker/lib/validate.ts";
import type { SocketIdentity, SocketMatch } from "../worker/services/sockets.ts";
import { matches } from "../worker/services/sockets.ts";
import { LiveDoingBatcher } from "./doing.ts";
import { applyPresence, PresenceBatcher } from "./presence.ts";

/**
 * The board room's logic, in plain TypeScript: who is on the board, presence coalescing, fan-out
 * of committed changes, frames aimed at some sockets, and ending sockets whose access ended. The
 * Durable Object (`BoardRoom`) only binds it to the platform, so all of this runs, and is tested,
 * without workerd.
 */

type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** What the room needs of a socket (partyserver's `Connection` has exactly these). */
export interface RoomSocket {
  readonly id: string;
  /** Who is on it; kept by the host across hibernation. Null until the room accepted it. */
  readonly state: DeepReadonly<PeerState> | null;
  setState(state: PeerState): void;
  send(frame: string): void;
  close(code?: number, reason?: string): void;
}

/** What the room needs of its host. */
export interface RoomHost {
  sockets(): Iterable<RoomSocket>;
  /** The same frame to every socket: the hot path (presence at up to 100 frames a second). */
  fanOut(frame: string): void;
  /** When the platform last answered this socket's `ping` (0 if never). */
  lastPingAt(socket: RoomSocket): number;
  /** Which of these identities may stay on the board (credential in force, still a member). */
  stillAllowed(identities: SocketIdentity[]): Promise<Set<string>>;
  now(): number;
}

/** Who the Worker says is asking, after it authenticated the upgrade. */
export interface Joining {
  userId: string;
  name: string;
  color: string;
  credential: string;
  /** The protocol version the client speaks (`?v=`); missing means a client from before versions. */
  version: number | null;
}

/**
 * A socket's state, kept across hibernation: identity (the credential is never shown to peers),
 * the sessions it watches, and `left` once the room announced it gone, so it is not announced twice.
 */
export type PeerState = Peer & { seenAt: number; credential: string; watching?: string[]; left?: boolean };
type Live = Pick<Peer, "cursor" | "viewport" | "selection" | "drag"> & { seenAt: number };

/** Presence messages are a few hundred bytes; anything much bigger is a bug or abuse. */
export const MAX_MESSAGE_CHARS = 8192;
export const MAX_CONNECTIONS = 250;
/** A socket that has not pinged for this long is presumed gone (a laptop lid closed, a cut network). */
export const STALE_MS = 20_000;

/** How many finished message ids the room remembers per session, and for how many sessions. */
const FINISHED_PER_SESSION = 100;
const FINISHED_SESSIONS = 2000;
const TASK_ENDED = new Set(["completed", "failed", "stopped"]);

/** Which sockets a frame is for: everyone, one person's, or the watchers of one session. */
export type Audience = { all: true } | { userId: string } | { sessionId: string };

export class BoardRoomCore {
  /** Where each peer's cursor is: memory only (see BoardRoom for why). */
  private live = new Map<string, Live>();
  /** Text so far of each streaming message part, per session, so a late watcher gets it whole. */
  private inflight = new Map<string, Map<string, StreamFrame>>();
  /**
   * Per session, messages whose stored row was announced or whose task ended: a piece of them that
   * comes after (the runner's link and its event post race to the room, or the runner was lost
   * mid-send) is dropped, so no socket gets text after the whole message. Kept per session so a
   * busy session never pushes out another's; recent ids only, since a piece is late by moments.
   */
  private finished = new Map<string, Set<string>>();
  private batcher: PresenceBatcher;
  /** The cards' live "now doing", from the text relayed here. */
  private doing: LiveDoingBatcher;

  constructor(
    private readonly host: RoomHost,
    windowMs?: number,
  ) {
    this.batcher = new PresenceBatcher(
      (updates) => host.fanOut(frame({ type: "presence", v: ROOM_PROTOCOL, updates })),
      windowMs,
      host.now,
    );
    this.doing = new LiveDoingBatcher((items) => {
      for (let i = 0; i < items.length; i += MAX_STREAM_PIECES) {
        host.fanOut(frame({ type: "doing", v: ROOM_PROTOCOL, items: items.slice(i, i + MAX_STREAM_PIECES) }));
      }
    }, host.now);
  }

  private open(): RoomSocket[] {
    return [...this.host.sockets()].filter((s) => s.state && !s.state.left);
  }

  /** A socket's peer: identity from its state, the latest presence from memory. */
  private peerOf(s: RoomSocket): PeerState | null {
    if (!s.state) return null;
    // A drag lives in memory only (`live`), like the cursor: never in the kept state.
    const { selection, watching, drag: _drag, ...rest } = s.state;
    return {
      ...rest,
      selection: [...selection],
      ...(watching ? { watching: [...watching] } : {}),
      ...this.live.get(s.id),
    };
  }

  peers(): Peer[] {
    return this.open().map((s) => toPeer(this.peerOf(s)!));
  }

  private sendAll(msg: ServerMessage, except?: string) {
    const text = frame(msg);
    for (const s of this.open()) if (s.id !== except) trySend(s, text);
  }

  connect(socket: RoomSocket, who: Joining): void {
    if (who.version !== null && who.version !== ROOM_PROTOCOL) {
      socket.close(ROOM_CLOSE.outdated, `This board speaks protocol ${ROOM_PROTOCOL}: reload the page.`);
      return;
    }
    if ([...this.host.sockets()].length > MAX_CONNECTIONS) {
      socket.close(ROOM_CLOSE.full, `This board has its maximum of ${MAX_CONNECTIONS} open connections.`);
      return;
    }
    const peer: PeerState = {
      connectionId: socket.id,
      userId: who.userId,
      name: who.name,
      color: who.color,
      cursor: null,
      viewport: null,
      selection: [],
      seenAt: this.host.now(),
      credential: who.credential,
    };
    socket.setState(peer);
    trySend(socket, frame({ type: "welcome", v: ROOM_PROTOCOL, connectionId: socket.id, peers: this.peers() }));
    this.sendAll({ type: "join", v: ROOM_PROTOCOL, peer: toPeer(peer) }, socket.id);
  }

  message(socket: RoomSocket, raw: string | ArrayBuffer): void {
    const state = this.peerOf(socket);
    if (!state || state.left) return;
    const msg = parseClientMessage(raw);
    if (typeof msg === "string") {
      refuse(socket, msg);
      return;
    }
    if (msg.type === "watch") {
      this.watch(socket, state, msg.sessionIds);
      return;
    }
    const next = applyPresence(state, msg);
    this.live.set(socket.id, {
      cursor: next.cursor,
      viewport: next.viewport,
      selection: next.selection,
      drag: next.drag,
      seenAt: this.host.now(),
    });
    this.batcher.push({
      connectionId: socket.id,
      cursor: next.cursor,
      viewport: next.viewport,
      selection: next.selection,
      ...(next.drag !== undefined ? { drag: next.drag } : {}),
    });
  }

  /** Watching is rare (a panel opens): it goes in the socket's kept state, so it survives hibernation. */
  private watch(socket: RoomSocket, state: PeerState, sessionIds: string[]) {
    const before = new Set(state.watching ?? []);
    const { cursor: _c, viewport: _v, selection: _s, drag: _d, ...kept } = state;
    socket.setState({ ...kept, cursor: null, viewport: null, selection: [], watching: [...new Set(sessionIds)] });
    // A panel opened mid-answer gets the text so far at once, then the rest live.
    for (const id of sessionIds) {
      if (before.has(id)) continue;
      for (const f of this.inflight.get(id)?.values() ?? []) {
        trySend(socket, frame({ type: "stream", v: ROOM_PROTOCOL, ...f, snapshot: true }));
      }
    }
  }

  closed(socket: RoomSocket): void {
    // Sockets refused in connect never joined, and sockets the room ended were announced already.
    if (socket.state && !socket.state.left) this.announceLeave(socket.id);
  }

  /**
   * The room ends a peer itself: announce the leave now, since a dead client may never finish the
   * close handshake, and mark the socket so its eventual close stays quiet.
   */
  end(socket: RoomSocket, code?: number, reason?: string): void {
    const state = this.peerOf(socket);
    if (!state || state.left) return;
    try {
      socket.setState({ ...state, left: true });
    } catch {
      // Already closed underneath us: its close has run or never will; announce once here.
    }
    if (code) socket.close(code, reason);
    this.announceLeave(socket.id);
  }

  private announceLeave(connectionId: string) {
    this.live.delete(connectionId);
    this.batcher.forget(connectionId);
    this.sendAll({ type: "leave", v: ROOM_PROTOCOL, connectionId }, connectionId);
  }

  /**
   * A committed change, to everyone; access changes take effect on open sockets too. A finished
   * agent message goes only to the sockets watching its session: a board of many busy agents
   * would otherwise send every transcript to every tab.
   */
  publish(event: EntityEvent): void {
    if (event.entity === "message") {
      const sessionId = event.row?.sessionId;
      if (sessionId) {
        this.doing.drop(sessionId);
        this.forget(sessionId, event.id);
        this.finish(sessionId, [event.id]);
        this.sendTo({ sessionId }, event);
      }
      return;
    }
    this.sendAll(event);
    if (event.entity === "task" && event.row && TASK_ENDED.has(event.row.status)) this.taskEnded(event.row.sessionId);
    if (event.entity === "member" && event.op === "removed") {
      for (const s of this.open())
        if (s.state?.userId === event.id) this.end(s, ROOM_CLOSE.removed, "removed from board");
    }
    if (event.entity === "board" && event.op === "removed") {
      for (const s of [...this.host.sockets()]) s.close(ROOM_CLOSE.deleted, "board deleted");
    }
  }

  /** A streaming piece, to the watchers of its session; the room keeps the message's text so far. */
  stream(piece: StreamFrame): number {
    return this.streams([piece]);
  }

  /**
   * A runner's batch of pieces for this board, to the watchers of their sessions: each socket gets
   * the pieces of the sessions it watches in one frame, and sockets watching the same sessions share
   * one serialization. Returns how many sockets got something.
   */
  streams(pieces: readonly StreamFrame[]): number {
    const live = pieces.filter((p) => this.accept(p));
    if (!live.length) return 0;
    this.sawText(live);
    const texts = new Map<string, string[]>();
    let sent = 0;
    for (const s of this.open()) {
      const watching = s.state!.watching;
      if (!watching?.length) continue;
      const key = watching.join(" ");
      let out = texts.get(key);
      if (out === undefined) {
        const mine = live.filter((p) => watching.includes(p.sessionId));
        out = [];
        for (let i = 0; i < mine.length; i += MAX_STREAM_PIECES) {
          const pieces = mine.slice(i, i + MAX_STREAM_PIECES);
          out.push(
            pieces.length === 1
              ? frame({ type: "stream", v: ROOM_PROTOCOL, ...pieces[0]! })
              : frame({ type: "streams", v: ROOM_PROTOCOL, pieces }),
          );
        }
        texts.set(key, out);
      }
      let ok = out.length > 0;
      for (const text of out) ok = trySend(s, text) && ok;
      if (ok) sent++;
    }
    return sent;
  }

  /** Each session's text so far, once per batch, for its card's line. */
  private sawText(pieces: readonly StreamFrame[]) {
    const last = new Map<string, string>();
    for (const p of pieces) if (p.part === "text" && !p.done) last.set(p.sessionId, p.messageId);
    for (const [sessionId, messageId] of last) {
      const text = this.inflight.get(sessionId)?.get(`${messageId} text`)?.delta;
      if (text) this.doing.saw(sessionId, text);
    }
  }

  /** Keep a piece's text so far; false for a piece no watcher should see (repeated, or late). */
  private accept(piece: StreamFrame): boolean {
    if (piece.done) {
      this.forget(piece.sessionId, piece.messageId);
      return true;
    }
    // The stored message was announced already (it holds this text), or its task ended.
    if (this.finished.get(piece.sessionId)?.has(piece.messageId)) return false;
    let parts = this.inflight.get(piece.sessionId);
    if (!parts) {
      parts = new Map();
      this.inflight.set(piece.sessionId, parts);
    }
    const key = `${piece.messageId} ${piece.part}`;
    const so = parts.get(key);
    // A repeated or late piece (a retried send) is dropped: watchers never see text twice.
    if (so && piece.seq <= so.seq) return false;
    parts.set(key, { ...piece, delta: (so?.delta ?? "") + piece.delta });
    return true;
  }

  /**
   * The session's task ended (completed, failed with its runner lost, stopped): text still in
   * flight will never be finished, so a late watcher must not be handed it, nor see more of it.
   */
  private taskEnded(sessionId: string) {
    this.doing.forget(sessionId);
    const parts = this.inflight.get(sessionId);
    if (!parts) return;
    this.finish(
      sessionId,
      [...parts.values()].map((p) => p.messageId),
    );
    this.inflight.delete(sessionId);
  }

  private finish(sessionId: string, messageIds: string[]) {
    const ids = this.finished.get(sessionId) ?? new Set();
    // Most recently used last, so the oldest session is the one let go.
    this.finished.delete(sessionId);
    this.finished.set(sessionId, ids);
    for (const id of messageIds) ids.add(id);
    while (ids.size > FINISHED_PER_SESSION) ids.delete(ids.values().next().value!);
    if (this.finished.size > FINISHED_SESSIONS) this.finished.delete(this.finished.keys().next().value!);
  }

  /** A finished message's text so far is no longer kept (keys are `<messageId> <part>`). */
  private forget(sessionId: string, messageId: string) {
    const parts = this.inflight.get(sessionId);
    if (!parts) return;
    for (const key of [...parts.keys()]) if (key.startsWith(`${messageId} `)) parts.delete(key);
    if (parts.size === 0) this.inflight.delete(sessionId);
  }

  notify(userId: string, notice: Notice): number {
    return this.sendTo({ userId }, { type: "notice", v: ROOM_PROTOCOL, notice });
  }

  /** Send to some sockets only; returns how many got it. */
  sendTo(audience: Audience, msg: ServerMessage): number {
    const text = frame(msg);
    let sent = 0;
    for (const s of this.open()) {
      const st = s.state!;
      const to =
        "all" in audience ||
        ("userId" in audience && st.userId === audience.userId) ||
        ("sessionId" in audience && (st.watching ?? []).includes(audience.sessionId));
      if (to && trySend(s, text)) sent++;
    }
    return sent;
  }

  /** A credential ended: its sockets close now, not on their next request. */
  endSockets(match: SocketMatch): number {
    let ended = 0;
    for (const s of this.open()) {
      if (matches(match, s.state!)) {
        this.end(s, ROOM_CLOSE.signedOut, "signed out");
        ended++;
      }
    }
    return ended;
  }

  /**
   * Housekeeping, from the host's alarm: sockets that stopped pinging are ended, then every open
   * socket's access is re-checked, which catches what no event announced (a token that expired, a
   * user deleted underneath us). Returns how many sockets are still open.
   */
  async sweep(): Promise<number> {
    const now = this.host.now();
    for (const s of this.open()) {
      const seenAt = this.live.get(s.id)?.seenAt ?? s.state!.seenAt;
      if (now - Math.max(this.host.lastPingAt(s), seenAt) > STALE_MS) this.end(s, ROOM_CLOSE.stale, "no ping");
    }
    const open = this.open();
    if (!open.length) return 0;
    let allowed: Set<string>;
    try {
      allowed = await this.host.stillAllowed(open.map((s) => s.state!));
    } catch (err) {
      // D1 unreachable: keep everyone for now; events still end sockets, and the next sweep retries.
      console.error("board room: re-checking sockets failed", err);
      return open.length;
    }
    for (const s of open) {
      if (!allowed.has(`${s.state!.userId} ${s.state!.credential}`)) this.end(s, ROOM_CLOSE.signedOut, "signed out");
    }
    return this.open().length;
  }
}

const frame = (msg: ServerMessage) => JSON.stringify(msg);

/** A client's frame, or what is wrong with it in words. */
function parseClientMessage(raw: string | ArrayBuffer): ClientMessage | string {
  if (typeof raw !== "string") return "Send JSON text frames; binary frames are not understood.";
  if (raw.length > MAX_MESSAGE_CHARS) return `Message is larger than ${MAX_MESSAGE_CHARS} characters.`;
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return "Message is not valid JSON.";
  }
  const parsed = ClientMessageSchema.safeParse(data);
  return parsed.success ? parsed.data : `Unrecognised message: ${describeIssues(parsed.error)}`;
}

function trySend(s: RoomSocket, text: string): boolean {
  try {
    s.send(text);
    return true;
  } catch {
    // Closing or closed: its close announces the leave.
    return false;
  }
}

/** A bad frame is answered on its own socket only; the room carries on for everyone. */
function refuse(s: RoomSocket, message: string) {
  trySend(s, frame({ type: "error", v: ROOM_PROTOCOL, code: "bad_message", message }));
}

export function toPeer(p: PeerState): Peer {
  const { seenAt: _, left: __, credential: ___, watching: ____, ...peer } = p;
  return peer;
}
