import {
  LINK_CLOSE,
  LINK_PING_MS,
  LINK_PROTOCOL,
  LINK_STALE_MS,
  LinkMessage,
  type RunnerFrame,
} from "../../protocol/index.ts";

/** A runner frame without its version, which `send` stamps (distributed over the union). */
export type FrameBody = RunnerFrame extends infer F ? (F extends unknown ? Omit<F, "v"> : never) : never;

export interface LinkOptions {
  /** Where to connect, asked again before every attempt. */
  target: () => { url: string; headers: Record<string, string> };
  onOpen: () => void;
  /** What the edge asks of the runner; `closing` is the link's own business. */
  onMessage: (msg: Exclude<LinkMessage, { type: "closing" }>) => void;
  /** The socket went down (or never came up); the link will retry after `retryInMs`. */
  onDown: (why: string, retryInMs: number) => void;
  /** The edge told us to stop for good (revoked, another process took over, or another protocol). */
  onFatal: (why: "revoked" | "replaced" | "refused" | "outdated") => void;
  /** After a failed connect: is the credential refused (so retrying is pointless)? */
  isRefused: () => Promise<boolean>;
}

/** Close codes after which reconnecting would only be refused again. */
const FINAL: Record<number, "revoked" | "replaced" | "outdated"> = {
  [LINK_CLOSE.revoked]: "revoked",
  [LINK_CLOSE.unauthenticated]: "revoked",
  [LINK_CLOSE.replaced]: "replaced",
  [LINK_CLOSE.outdated]: "outdated",
};

const BACKOFF_BASE_MS = 500;
/** An upgrade that has not completed by then is given up (an edge mid-restart can accept and stall). */
const CONNECT_TIMEOUT_MS = 10_000;
const BACKOFF_CAP_MS = 10_000;

/** Exponential backoff with jitter: half fixed, half random, so many runners never retry in step. */
export function backoff(attempt: number): number {
  const base = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
  return Math.round(base / 2 + (Math.random() * base) / 2);
}

/**
 * The runner's one outbound WebSocket to its RunnerLink: the edge wakes the runner and cancels
 * jobs over it, and the runner sends frames up (`send`: stream pieces of a running agent); jobs
 * themselves go over HTTPS. Reconnects by itself until stopped.
 */
export class Link {
  private readonly opts: LinkOptions;
  private ws: WebSocket | null = null;
  private attempt = 0;
  private stopped = false;
  private lastHeard = 0;
  private pingTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(opts: LinkOptions) {
    this.opts = opts;
  }

  get connected(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /** Bytes sent but not yet written to the network: terminals stop reading their PTYs while it is high. */
  get bufferedAmount(): number {
    return this.ws?.bufferedAmount ?? 0;
  }

  start(): void {
    this.stopped = false;
    this.open();
  }

  /** A frame up to the edge; false when the link is down (ephemeral frames are dropped, not queued). */
  send(frame: FrameBody): boolean {
    if (this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify({ ...frame, v: LINK_PROTOCOL }));
    return true;
  }

  /** A binary frame up (a terminal's output, protocol/terminal-output.ts); false when the link is down. */
  sendBinary(frame: Uint8Array): boolean {
    if (this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(frame);
    return true;
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.pingTimer);
    clearTimeout(this.retryTimer);
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000, "runner stopping");
  }

  private open(): void {
    const { url, headers } = this.opts.target();
    // Node's WebSocket (undici) takes headers, so the credential never goes in the URL.
    const ws = new WebSocket(url, { headers });
    this.ws = ws;
    let opened = false;
    const connectTimer = setTimeout(() => {
      if (this.ws !== ws || opened) return;
      ws.close();
      this.down(1006, "connect timed out", false);
    }, CONNECT_TIMEOUT_MS);
    ws.onopen = () => {
      clearTimeout(connectTimer);
      if (this.ws !== ws) return;
      opened = true;
      this.attempt = 0;
      this.lastHeard = Date.now();
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => this.ping(ws), LINK_PING_MS);
      this.opts.onOpen();
    };
    ws.onmessage = (e) => {
      if (this.ws !== ws) return;
      this.lastHeard = Date.now();
      if (e.data === "pong" || typeof e.data !== "string") return;
      let json: unknown;
      try {
        json = JSON.parse(e.data);
      } catch {
        return;
      }
      const msg = LinkMessage.safeParse(json);
      if (!msg.success) return;
      if (msg.data.type === "closing") {
        ws.close();
        this.down(msg.data.code, msg.data.reason, true);
        return;
      }
      this.opts.onMessage(msg.data);
    };
    ws.onclose = (e) => {
      clearTimeout(connectTimer);
      if (this.ws !== ws) return;
      this.down(e.code, e.reason, opened);
    };
    // An error is always followed by a close, which does the work.
    ws.onerror = () => {};
  }

  private ping(ws: WebSocket): void {
    if (this.ws !== ws) return;
    // Silent for longer than the edge would wait for us: the connection is dead without a close.
    if (Date.now() - this.lastHeard > LINK_STALE_MS + LINK_PING_MS) {
      ws.close();
      this.down(1006, "no answer from the edge", true);
      return;
    }
    ws.send("ping");
  }

  private down(code: number, reason: string, wasOpen: boolean): void {
    this.ws = null;
    clearInterval(this.pingTimer);
    if (this.stopped) return;
    const final = FINAL[code];
    if (final) {
      this.opts.onFatal(final);
      return;
    }
    const delay = backoff(this.attempt++);
    const why = wasOpen ? `link closed (${code}${reason ? ` ${reason}` : ""})` : "could not connect";
    this.opts.onDown(why, delay);
    this.retryTimer = setTimeout(async () => {
      if (this.stopped) return;
      // A refused upgrade looks like any network error from here; ask the API whether we are refused.
      if (!wasOpen && (await this.opts.isRefused().catch(() => false))) return this.opts.onFatal("refused");
      if (!this.stopped) this.open();
    }, delay);
  }
}
