/**
 * A terminal viewer in Node, for runner tests and the terminal bench: a ticketed (or bearer)
 * socket to a terminal on a real edge, its frames rendered by `@xterm/headless` exactly as the
 * board's xterm renders them, acknowledged as they are written (the flow control a browser does).
 */
import xterm from "@xterm/headless";
import type { TerminalServerMessage, TerminalTicket } from "../protocol/index.ts";
import {
  ACK_EVERY_BYTES,
  decodeTerminalOutput,
  TerminalServerMessage as Schema,
  TERMINAL_PROTOCOL,
} from "../protocol/index.ts";
import { api } from "./server.ts";

const { Terminal } = xterm as unknown as typeof import("@xterm/headless");
type XTerm = InstanceType<typeof Terminal>;

/** A headless xterm: write terminal output in, read the screen out as text. */
export class HeadlessScreen {
  readonly term: XTerm;

  constructor(cols = 80, rows = 24) {
    this.term = new Terminal({ cols, rows, scrollback: 5000, allowProposedApi: true });
  }

  write(data: string | Uint8Array, done?: () => void): void {
    this.term.write(data, done);
  }

  /** Everything in the buffer (scrollback and screen), one string per row, trailing blanks trimmed. */
  lines(): string[] {
    const b = this.term.buffer.active;
    const out: string[] = [];
    for (let i = 0; i < b.length; i++) out.push(b.getLine(i)?.translateToString(true) ?? "");
    while (out.length && out.at(-1) === "") out.pop();
    return out;
  }

  text(): string {
    return this.lines().join("\n");
  }
}

export interface ViewerOptions {
  /** Open with a ticket (as a browser does) or with a bearer token (default: ticket). */
  auth?: "ticket" | "bearer";
  /** Do not acknowledge output (a viewer that has stalled). */
  noAck?: boolean;
  /** Skip rendering: count characters only (the bench's throughput viewers). */
  countOnly?: boolean;
  /** Send the edge's own Origin, as a browser on the board's page does (ticket auth only). */
  origin?: boolean;
}

type Msg<K extends TerminalServerMessage["type"]> = Extract<TerminalServerMessage, { type: K }>;

export class TerminalViewer {
  readonly screen = new HeadlessScreen();
  readonly messages: TerminalServerMessage[] = [];
  /** Bytes of output and characters of screens received. */
  received = 0;
  private acked = 0;
  private written = 0;
  private listeners = new Set<() => void>();
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Each output frame's bytes (a view into the frame), as it comes. */
  onOutput: ((data: Uint8Array) => void) | null = null;
  /** The last frames' text, for a failure message. */
  private recent: string[] = [];

  readonly ws: WebSocket;
  private readonly opts: ViewerOptions;

  private constructor(ws: WebSocket, opts: ViewerOptions) {
    this.ws = ws;
    this.opts = opts;
    this.closed = new Promise((resolve) =>
      ws.addEventListener("close", (e) => resolve({ code: e.code, reason: e.reason })),
    );
    ws.addEventListener("message", (e) => {
      if (typeof e.data === "string") this.onMessage(e.data);
      else this.onBinary(e.data as ArrayBuffer);
    });
    ws.addEventListener("close", () => this.changed());
  }

  static async open(base: string, token: string, terminalId: string, opts: ViewerOptions = {}) {
    const q = new URLSearchParams({ terminal: terminalId, v: String(TERMINAL_PROTOCOL) });
    let runnerId: string;
    let headers: Record<string, string> = {};
    if ((opts.auth ?? "ticket") === "ticket") {
      const t = await api<TerminalTicket>(base, `/api/terminals/${terminalId}/ticket`, { token, method: "POST" });
      q.set("ticket", t.ticket);
      runnerId = t.runnerId;
      if (opts.origin) headers = { origin: new URL(base).origin };
    } else {
      runnerId = (await api<TerminalTicket>(base, `/api/terminals/${terminalId}/ticket`, { token, method: "POST" }))
        .runnerId;
      headers = { authorization: `Bearer ${token}` };
    }
    const url = `${base.replace(/^http/, "ws")}/parties/runner-link/${runnerId}?${q}`;
    const ws = new WebSocket(url, { headers } as unknown as string[]);
    ws.binaryType = "arraybuffer";
    // Listening from the start: the hello may come in the same read as the upgrade's answer.
    const v = new TerminalViewer(ws, opts);
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener("open", () => resolve(), { once: true });
      ws.addEventListener("error", () => reject(new Error(`terminal socket refused: ${url}`)), { once: true });
    });
    await v.next("hello");
    return v;
  }

  private changed() {
    for (const l of [...this.listeners]) l();
  }

  private onBinary(frame: ArrayBuffer) {
    const out = decodeTerminalOutput(frame);
    if (typeof out === "string") throw new Error(out);
    if (!this.opts.countOnly) {
      this.recent.push(`output: ${new TextDecoder().decode(out.data.subarray(0, 2000))}`);
      if (this.recent.length > 40) this.recent.shift();
    }
    this.received += out.data.byteLength;
    this.onOutput?.(out.data);
    this.render(out.data, out.data.byteLength);
    this.changed();
  }

  private onMessage(text: string) {
    if (text === "pong") return;
    this.recent.push(text.slice(0, 2000));
    if (this.recent.length > 40) this.recent.shift();
    const msg = Schema.parse(JSON.parse(text));
    this.messages.push(msg);
    if (msg.type === "screen") {
      this.received += msg.data.length;
      if (!this.opts.countOnly) {
        this.screen.term.reset();
        this.screen.term.resize(msg.cols, msg.rows);
      }
      this.render(msg.data, msg.data.length);
    } else if (msg.type === "size" && !this.opts.countOnly) this.screen.term.resize(msg.cols, msg.rows);
    this.changed();
  }

  /**
   * Written, then acknowledged (`size`: an output frame's bytes, a screen's characters): the edge
   * sends no more than a window ahead of what is on screen.
   */
  private render(data: string | Uint8Array, size: number) {
    const done = () => {
      this.written += size;
      if (!this.opts.noAck && this.written - this.acked >= ACK_EVERY_BYTES) this.ack();
      else if (!this.opts.noAck) queueMicrotask(() => this.ackIfIdle());
      this.changed();
    };
    if (this.opts.countOnly) done();
    else this.screen.write(data, done);
  }

  private ackIfIdle() {
    if (this.written > this.acked) this.ack();
  }

  private ack() {
    const bytes = this.written - this.acked;
    if (bytes <= 0 || this.ws.readyState !== WebSocket.OPEN) return;
    this.acked = this.written;
    this.ws.send(JSON.stringify({ type: "ack", bytes }));
  }

  /** Wait until `check` holds, re-checked on every frame. */
  until<T>(what: string, check: () => T | undefined | null | false, timeoutMs = 10_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const tryIt = () => {
        const v = check();
        if (v) {
          clearTimeout(timer);
          this.listeners.delete(tryIt);
          resolve(v);
        }
      };
      const timer = setTimeout(() => {
        this.listeners.delete(tryIt);
        reject(
          new Error(
            `timed out waiting for ${what}\n--- screen ---\n${this.screen.text()}\n--- last frames ---\n${this.recent.join("\n")}`,
          ),
        );
      }, timeoutMs);
      this.listeners.add(tryIt);
      tryIt();
    });
  }

  next<K extends TerminalServerMessage["type"]>(
    type: K,
    pred: (m: Msg<K>) => boolean = () => true,
    timeoutMs = 10_000,
  ) {
    return this.until(
      `a "${type}" frame`,
      () => this.messages.find((m): m is Msg<K> => m.type === type && pred(m as Msg<K>)),
      timeoutMs,
    );
  }

  /** Wait for text on the screen (scrollback included). */
  waitFor(re: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    return this.until(`${re} on the screen`, () => this.screen.text().match(re), timeoutMs);
  }

  type(data: string): void {
    this.ws.send(JSON.stringify({ type: "input", data }));
  }

  resize(cols: number, rows: number): void {
    this.ws.send(JSON.stringify({ type: "resize", cols, rows }));
  }

  close(): void {
    this.ws.close();
  }
}
