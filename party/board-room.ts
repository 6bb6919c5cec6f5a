import { type Connection, type ConnectionContext, Server } from "partyserver";
import type { EntityEvent, Notice, Peer, StreamFrame } from "../protocol/index.ts";
import { ROOM_CLOSE } from "../protocol/index.ts";
import { openDb } from "../worker/db/client.ts";
import type { Env } from "../worker/env.ts";
import { stillAllowed } from "../worker/services/credentials.ts";
import type { SocketMatch } from "../worker/services/sockets.ts";
import { answerClose } from "./close.ts";
import { BoardRoomCore, type PeerState, type RoomSocket } from "./room.ts";

/** Headers the Worker sets after authenticating the upgrade; anything a client sent under these names is overwritten. */
export const IDENTITY_HEADERS = {
  userId: "x-trellis-user-id",
  name: "x-trellis-user-name",
  color: "x-trellis-user-color",
  credential: "x-trellis-credential",
  /** The room protocol version the client asked for (`?v=`), if any. */
  version: "x-trellis-room-version",
};

const SWEEP_MS = 10_000;

/**
 * One per board: the platform side of `BoardRoomCore` (party/room.ts), which holds the logic.
 * Who is on each socket lives in its attachment, so the room can hibernate between messages; where
 * their cursor is lives only in the core's memory, because rewriting an attachment on every cursor
 * move costs a structured clone each time, and a room quiet enough to hibernate has no cursors
 * moving. After a wake, peers show no cursor until they next move.
 */
export class BoardRoom extends Server<Env> {
  static override options = { hibernate: true };

  private core = new BoardRoomCore({
    sockets: () => this.getConnections<PeerState>() as Iterable<RoomSocket>,
    // partyserver's broadcast() deserializes each socket's attachment on every call to recognise its
    // own sockets; every socket this room accepts is one of those, so the hot path goes straight out.
    fanOut: (frame) => {
      for (const ws of this.ctx.getWebSockets()) {
        try {
          ws.send(frame);
        } catch {
          // Closing or closed: its onClose announces the leave.
        }
      }
    },
    lastPingAt: (s) => this.ctx.getWebSocketAutoResponseTimestamp(s as Connection)?.getTime() ?? 0,
    stillAllowed: (identities) => stillAllowed(openDb(this.env.DB), this.name, identities),
    now: Date.now,
  });

  override onStart() {
    // Pings are answered by the platform without waking the room.
    this.ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
  }

  override onConnect(conn: Connection<PeerState>, { request }: ConnectionContext) {
    const h = (k: keyof typeof IDENTITY_HEADERS) => request.headers.get(IDENTITY_HEADERS[k]);
    const userId = h("userId");
    const credential = h("credential");
    if (!userId || !credential) {
      // Only reachable if someone routes around the Worker's auth: refuse rather than trust.
      conn.close(ROOM_CLOSE.signedOut, "unauthenticated");
      return;
    }
    const version = h("version");
    this.core.connect(conn, {
      userId,
      credential,
      name: decodeURIComponent(h("name") ?? "Someone"),
      color: h("color") ?? "#64748b",
      version: version ? Number(version) : null,
    });
    void this.ensureSweep();
  }

  override onMessage(conn: Connection<PeerState>, raw: string | ArrayBuffer) {
    this.core.message(conn, raw);
  }

  override onClose(conn: Connection<PeerState>, code: number) {
    answerClose(conn, code);
    this.core.closed(conn);
  }

  override onError(conn: Connection<PeerState>) {
    this.core.end(conn);
  }

  // ---- RPC from the Worker ----

  /** A durable change was committed to D1. */
  async publish(event: EntityEvent): Promise<void> {
    this.core.publish(event);
  }

  /** A credential ended: its sockets close now. */
  async endSockets(match: SocketMatch): Promise<number> {
    return this.core.endSockets(match);
  }

  /** Pieces of running agent messages (a runner's batch), to the watchers of their sessions. */
  async stream(pieces: StreamFrame[]): Promise<number> {
    return this.core.streams(pieces);
  }

  /** Something for one person's sockets only. */
  async notify(userId: string, notice: Notice): Promise<number> {
    return this.core.notify(userId, notice);
  }

  /** Connected peers, for tests and diagnostics. */
  async listPeers(): Promise<Peer[]> {
    return this.core.peers();
  }

  // ---- the sweep ----

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
    if ((await this.core.sweep()) > 0) await this.sweepIn(SWEEP_MS);
  }
}
