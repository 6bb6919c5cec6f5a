import { type Connection, type ConnectionContext, Server } from "partyserver";
import type { InboxMessage } from "../protocol/index.ts";
import { INBOX_CLOSE } from "../protocol/index.ts";
import { openDb } from "../worker/db/client.ts";
import type { Env } from "../worker/env.ts";
import { liveCredentials } from "../worker/services/credentials.ts";
import type { SocketMatch } from "../worker/services/sockets.ts";
import { IDENTITY_HEADERS } from "./board-room.ts";
import { answerClose } from "./close.ts";
import { InboxCore, type InboxPeer, type InboxSocket } from "./inbox.ts";

const SWEEP_MS = 10_000;

/**
 * One per person, named by their user id: the platform side of `InboxCore` (party/inbox.ts).
 * The Worker authenticates the upgrade (`authorizeInboxJoin`) and hands who it is on in the board
 * room's identity headers; the services write to it through the `inboxes` port. Who is on each
 * socket lives in its attachment, so an inbox with nothing to say hibernates.
 */
export class UserInbox extends Server<Env> {
  static override options = { hibernate: true };

  private core = new InboxCore({
    owner: () => this.name,
    sockets: () => this.getConnections<InboxPeer>() as Iterable<InboxSocket>,
    lastPingAt: (s) => this.ctx.getWebSocketAutoResponseTimestamp(s as Connection)?.getTime() ?? 0,
    stillAllowed: (identities) => liveCredentials(openDb(this.env.DB), identities),
    now: Date.now,
  });

  override onStart() {
    // Pings are answered by the platform without waking the inbox.
    this.ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
  }

  override onConnect(conn: Connection<InboxPeer>, { request }: ConnectionContext) {
    const userId = request.headers.get(IDENTITY_HEADERS.userId);
    const credential = request.headers.get(IDENTITY_HEADERS.credential);
    if (!userId || !credential) {
      // Only reachable if someone routes around the Worker's auth: refuse rather than trust.
      conn.close(INBOX_CLOSE.signedOut, "unauthenticated");
      return;
    }
    const version = request.headers.get(IDENTITY_HEADERS.version);
    this.core.connect(conn, { userId, credential, version: version ? Number(version) : null });
    void this.ensureSweep();
  }

  override onClose(conn: Connection<InboxPeer>, code: number) {
    answerClose(conn, code);
  }

  // ---- RPC from the Worker ----

  /** A frame for every open tab of this person. */
  async send(msg: InboxMessage): Promise<number> {
    return this.core.send(msg);
  }

  /** A credential ended: its sockets close now. */
  async endSockets(match: SocketMatch): Promise<number> {
    return this.core.endSockets(match);
  }

  // ---- the sweep (housekeeping: see BoardRoom for why it skips the output gate) ----

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
