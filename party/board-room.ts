import { type Connection, type ConnectionContext, Server } from "partyserver";
import type { EntityEvent, Peer, ServerMessage } from "../protocol/index.ts";
import { ClientMessage } from "../protocol/index.ts";
import type { Env } from "../worker/env.ts";
import { describeIssues } from "../worker/lib/validate.ts";
import { applyPresence, PresenceBatcher } from "./presence.ts";

/** Headers the Worker sets after authenticating the upgrade; anything a client sent under these names is overwritten. */
export const IDENTITY_HEADERS = {
  userId: "x-trellis-user-id",
  name: "x-trellis-user-name",
  color: "x-trellis-user-color",
};

const MAX_CONNECTIONS = 250;
/** Presence messages are a few hundred bytes; anything much bigger is a bug or abuse. */
const MAX_MESSAGE_CHARS = 8192;
/** A socket that has not pinged for this long is presumed gone (a laptop lid closed, a cut network). */
const STALE_MS = 20_000;
const SWEEP_MS = 10_000;

/** `left` marks a socket the room has already announced as gone, so its close is not announced twice. */
type PeerState = Peer & { seenAt: number; left?: boolean };
type Live = Pick<Peer, "cursor" | "viewport" | "selection" | "drag"> & { seenAt: number };

/**
 * One per board: presence and fan-out of committed changes. Holds nothing that matters if lost.
 * Who is on each socket lives in its attachment, so the room can hibernate between messages; where
 * their cursor is lives only in memory (`live`), because rewriting an attachment on every cursor
 * move costs a structured clone each time, and a room quiet enough to hibernate has no cursors
 * moving. After a wake, peers show no cursor until they next move.
 */
export class BoardRoom extends Server<Env> {
  static override options = { hibernate: true };

  private live = new Map<string, Live>();
  private batcher = new PresenceBatcher((updates) => this.fanOut(JSON.stringify({ type: "presence", updates })));

  override onStart() {
    // Pings are answered by the platform without waking the room.
    this.ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
  }

  private send(msg: ServerMessage, exclude?: string[]) {
    this.broadcast(JSON.stringify(msg), exclude);
  }

  /**
   * The hot path, up to 100 frames a second: straight to every socket. partyserver's broadcast()
   * deserializes each socket's attachment on every call to recognise its own sockets; every socket
   * this room accepts is one of those, and a socket that is closing just refuses the frame.
   */
  private fanOut(frame: string) {
    for (const ws of this.ctx.getWebSockets()) {
      try {
        ws.send(frame);
      } catch {
        // Closing or closed: its onClose announces the leave.
      }
    }
  }

  private peers(): PeerState[] {
    const out: PeerState[] = [];
    for (const c of this.getConnections<PeerState>()) {
      const state = this.stateOf(c);
      if (state && !state.left) out.push(state);
    }
    return out;
  }

  /** A socket's peer: identity from its attachment, the latest presence from memory. */
  private stateOf(conn: Connection<PeerState>): PeerState | null {
    if (!conn.state) return null;
    const { drag } = conn.state;
    return {
      ...conn.state,
      selection: [...conn.state.selection],
      drag: drag ? [...drag] : drag,
      ...this.live.get(conn.id),
    };
  }

  override onConnect(conn: Connection<PeerState>, { request }: ConnectionContext) {
    const userId = request.headers.get(IDENTITY_HEADERS.userId);
    if (!userId) {
      // Only reachable if someone routes around the Worker's auth: refuse rather than trust.
      conn.close(4401, "unauthenticated");
      return;
    }
    if ([...this.getConnections()].length > MAX_CONNECTIONS) {
      conn.close(4429, `This board has its maximum of ${MAX_CONNECTIONS} open connections.`);
      return;
    }
    const peer: PeerState = {
      connectionId: conn.id,
      userId,
      name: decodeURIComponent(request.headers.get(IDENTITY_HEADERS.name) ?? "Someone"),
      color: request.headers.get(IDENTITY_HEADERS.color) ?? "#64748b",
      cursor: null,
      viewport: null,
      selection: [],
      seenAt: Date.now(),
    };
    conn.setState(peer);
    conn.send(
      JSON.stringify({
        type: "welcome",
        connectionId: conn.id,
        peers: this.peers().map(toPeer),
      } satisfies ServerMessage),
    );
    this.send({ type: "join", peer: toPeer(peer) }, [conn.id]);
    void this.ensureSweep();
  }

  override onMessage(conn: Connection<PeerState>, raw: string | ArrayBuffer) {
    const state = this.stateOf(conn);
    if (!state) return;
    if (typeof raw !== "string") return refuseMessage(conn, "Send JSON text frames; binary frames are not understood.");
    if (raw.length > MAX_MESSAGE_CHARS) {
      return refuseMessage(conn, `Message is larger than ${MAX_MESSAGE_CHARS} characters.`);
    }
    let data: unknown;
    try {
      data = JSON.parse(raw);
    } catch {
      return refuseMessage(conn, "Message is not valid JSON.");
    }
    const parsed = ClientMessage.safeParse(data);
    if (!parsed.success) return refuseMessage(conn, `Unrecognised message: ${describeIssues(parsed.error)}`);
    const next = applyPresence(state, parsed.data);
    this.live.set(conn.id, {
      cursor: next.cursor,
      viewport: next.viewport,
      selection: next.selection,
      drag: next.drag,
      seenAt: Date.now(),
    });
    this.batcher.push({
      connectionId: conn.id,
      cursor: next.cursor,
      viewport: next.viewport,
      selection: next.selection,
      ...(next.drag !== undefined ? { drag: next.drag } : {}),
    });
  }

  override onClose(conn: Connection<PeerState>) {
    // Sockets refused in onConnect never joined, and sockets the room ended were announced already.
    if (conn.state && !conn.state.left) this.announceLeave(conn.id);
  }

  override onError(conn: Connection<PeerState>) {
    this.end(conn);
  }

  /**
   * The room ends a peer itself: announce the leave now, since a dead client may never finish the
   * close handshake, and mark the socket so its eventual onClose stays quiet.
   */
  private end(conn: Connection<PeerState>, code?: number, reason?: string) {
    const state = this.stateOf(conn);
    if (!state || state.left) return;
    try {
      conn.setState({ ...state, left: true });
    } catch {
      // Already closed underneath us: onClose has run or never will; announce once here.
    }
    if (code) conn.close(code, reason);
    this.announceLeave(conn.id);
  }

  private announceLeave(connectionId: string) {
    this.live.delete(connectionId);
    this.batcher.forget(connectionId);
    this.send({ type: "leave", connectionId }, [connectionId]);
  }

  /** Called by the Worker (RPC) after a durable change is committed to D1. */
  async publish(event: EntityEvent): Promise<void> {
    this.send(event);
    // Access changes take effect on open sockets too, not only on the next connect.
    if (event.entity === "member" && event.op === "removed") {
      for (const c of this.getConnections<PeerState>()) {
        if (c.state?.userId === event.id) this.end(c, 4403, "removed from board");
      }
    }
    if (event.entity === "board" && event.op === "removed") {
      for (const c of this.getConnections()) c.close(4404, "board deleted");
    }
  }

  /** Connected peers, for tests and diagnostics. */
  async listPeers(): Promise<Peer[]> {
    return this.peers().map(toPeer);
  }

  /**
   * The sweep is housekeeping: losing it to a crash costs nothing (the next connect sets it again),
   * so it does not hold the room's outgoing frames behind a durable write (the output gate), which
   * stalled every cursor on the board for the length of a disk flush each time it was set.
   */
  private sweepIn(ms: number) {
    return this.ctx.storage.setAlarm(Date.now() + ms, { allowUnconfirmed: true });
  }

  private async ensureSweep() {
    if ((await this.ctx.storage.getAlarm()) === null) await this.sweepIn(SWEEP_MS);
  }

  override async onAlarm() {
    const now = Date.now();
    let open = 0;
    for (const c of this.getConnections<PeerState>()) {
      const lastPing = this.ctx.getWebSocketAutoResponseTimestamp(c)?.getTime() ?? 0;
      const seenAt = this.live.get(c.id)?.seenAt ?? c.state?.seenAt ?? now;
      if (now - Math.max(lastPing, seenAt) > STALE_MS) this.end(c, 4408, "no ping");
      else open++;
    }
    if (open > 0) await this.sweepIn(SWEEP_MS);
  }
}

/** A bad frame is answered on its own socket only; the room carries on for everyone. */
function refuseMessage(conn: Connection, message: string) {
  conn.send(JSON.stringify({ type: "error", code: "bad_message", message } satisfies ServerMessage));
}

function toPeer(p: PeerState): Peer {
  const { seenAt: _, left: __, ...peer } = p;
  return peer;
}
