import type { InboxMessage } from "../protocol/index.ts";
import { INBOX_CLOSE, INBOX_PROTOCOL } from "../protocol/index.ts";
import type { SocketIdentity, SocketMatch } from "../worker/services/sockets.ts";
import { matches } from "../worker/services/sockets.ts";

/**
 * One person's inbox, in plain TypeScript: the sockets of their tabs, whatever page each shows,
 * and the frames meant for them alone (notifications, marks read, settings). It holds nothing
 * that must survive: every (re)connect is told `hello` and re-reads over REST. The Durable Object
 * (`UserInbox`) binds it to the platform.
 */

/** What the inbox needs of a socket (partyserver's `Connection` has exactly these). */
export interface InboxSocket {
  readonly id: string;
  /** Kept by the host across hibernation. Null until the inbox accepted it. */
  readonly state: Readonly<InboxPeer> | null;
  setState(state: InboxPeer): void;
  send(frame: string): void;
  close(code?: number, reason?: string): void;
}

/** Who is on a socket and the credential it came with, so ending that credential ends the socket. */
export interface InboxPeer extends SocketIdentity {
  openedAt: number;
  /** The inbox closed it itself; its close is not waited for. */
  ended?: boolean;
}

export interface InboxHost {
  /** Whose inbox this is (the object's name). */
  owner(): string;
  sockets(): Iterable<InboxSocket>;
  /** When the platform last answered this socket's `ping` (0 if never). */
  lastPingAt(socket: InboxSocket): number;
  /** Which of these identities are still in force (`identityKey` of each). */
  stillAllowed(identities: SocketIdentity[]): Promise<Set<string>>;
  now(): number;
}

/** Who the Worker says is asking, after it authenticated the upgrade. */
export interface InboxJoining extends SocketIdentity {
  version: number | null;
}

/** One person's tabs; more is a runaway script. */
export const MAX_INBOX_SOCKETS = 50;
/** A socket that has not pinged for this long is presumed gone (the board room's figure). */
export const INBOX_STALE_MS = 20_000;

export class InboxCore {
  private readonly host: InboxHost;

  constructor(host: InboxHost) {
    this.host = host;
  }

  private open(): InboxSocket[] {
    return [...this.host.sockets()].filter((s) => s.state && !s.state.ended);
  }

  connect(socket: InboxSocket, who: InboxJoining): void {
    // The Worker only lets the owner through; anyone else here came around it.
    if (who.userId !== this.host.owner()) {
      socket.close(INBOX_CLOSE.signedOut, "not your inbox");
      return;
    }
    if (who.version !== null && who.version !== INBOX_PROTOCOL) {
      socket.close(INBOX_CLOSE.outdated, `Trellis speaks inbox protocol ${INBOX_PROTOCOL}: reload the page.`);
      return;
    }
    if ([...this.host.sockets()].length > MAX_INBOX_SOCKETS) {
      socket.close(INBOX_CLOSE.full, `At most ${MAX_INBOX_SOCKETS} tabs may listen at once.`);
      return;
    }
    socket.setState({ userId: who.userId, credential: who.credential, openedAt: this.host.now() });
    trySend(socket, JSON.stringify({ type: "hello", v: INBOX_PROTOCOL } satisfies InboxMessage));
  }

  /** To every open tab; returns how many got it. */
  send(msg: InboxMessage): number {
    const text = JSON.stringify(msg);
    let sent = 0;
    for (const s of this.open()) if (trySend(s, text)) sent++;
    return sent;
  }

  private end(socket: InboxSocket, code: number, reason: string) {
    try {
      socket.setState({ ...socket.state!, ended: true });
    } catch {
      // Closed underneath us already.
    }
    socket.close(code, reason);
  }

  /** A credential ended: its sockets close now, not on their next request. */
  endSockets(match: SocketMatch): number {
    let ended = 0;
    for (const s of this.open()) {
      if (!matches(match, s.state!)) continue;
      this.end(s, INBOX_CLOSE.signedOut, "signed out");
      ended++;
    }
    return ended;
  }

  /**
   * From the host's alarm: sockets that stopped pinging go, then every credential is re-checked,
   * which catches what no event announced (a token that expired, a user deleted underneath us).
   * Returns how many sockets are still open.
   */
  async sweep(): Promise<number> {
    const now = this.host.now();
    for (const s of this.open()) {
      if (now - Math.max(this.host.lastPingAt(s), s.state!.openedAt) > INBOX_STALE_MS) {
        this.end(s, INBOX_CLOSE.stale, "no ping");
      }
    }
    const open = this.open();
    if (!open.length) return 0;
    let allowed: Set<string>;
    try {
      allowed = await this.host.stillAllowed(open.map((s) => s.state!));
    } catch (err) {
      // D1 unreachable: keep everyone for now; events still end sockets, and the next sweep retries.
      console.error("inbox: re-checking sockets failed", err);
      return open.length;
    }
    for (const s of open) {
      if (!allowed.has(`${s.state!.userId} ${s.state!.credential}`)) this.end(s, INBOX_CLOSE.signedOut, "signed out");
    }
    return this.open().length;
  }
}

function trySend(s: InboxSocket, text: string): boolean {
  try {
    s.send(text);
    return true;
  } catch {
    return false;
  }
}
