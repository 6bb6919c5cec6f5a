import { PartySocket } from "partysocket";
import type { TerminalViewer } from "../../../protocol/index.ts";
import {
  ACK_EVERY_BYTES,
  decodeTerminalOutput,
  MAX_INPUT_CHARS,
  MAX_UNACKED_BYTES,
  TERMINAL_CLOSE,
  TERMINAL_ID_PARAM,
  TERMINAL_PROTOCOL,
  TERMINAL_TICKET_PARAM,
  TERMINAL_VERSION_PARAM,
  TerminalServerMessage,
} from "../../../protocol/index.ts";
import { ApiError, api, unwrap } from "../lib/api.ts";
import { Store } from "../lib/store.ts";

/**
 * One terminal's socket: straight to the runner's own RunnerLink (`/parties/runner-link/:runnerId`),
 * with a fresh single-use ticket on every (re)connect, as the board room does. It hands output to
 * the terminal (xterm: output as the bytes of the runner's binary frames, never decoded here) and
 * acknowledges what the terminal has written, so the edge never sends more than
 * `MAX_UNACKED_BYTES` ahead of the screen and xterm's write queue stays that small.
 */

export type TerminalStatus =
  /** Opening the socket, or waiting for the first screen. */
  | "connecting"
  | "live"
  /** The socket is up but the runner is not: the shell keeps running in tmux. */
  | "runner-offline"
  | "reconnecting"
  /** Over for everyone (ended, or the shell exited). */
  | "ended"
  /** This person may not (or no longer) watch it. */
  | "refused";

/** Where the bytes go: the panel's xterm. */
export interface TerminalSink {
  reset(cols: number, rows: number): void;
  resize(cols: number, rows: number): void;
  write(data: string | Uint8Array, done: () => void): void;
}

export interface Typing {
  userId: string;
  name: string;
  color: string;
  at: number;
}

const PING_MS = 10_000;
/** Acknowledge the rest this long after the last write, when less than `ACK_EVERY_BYTES` piled up. */
const ACK_IDLE_MS = 50;
/** Someone "is typing" for this long after their last keystroke frame. */
export const TYPING_SHOWN_MS = 2500;

const FINAL: Record<number, TerminalStatus> = {
  [TERMINAL_CLOSE.ended]: "ended",
  [TERMINAL_CLOSE.forbidden]: "refused",
  [TERMINAL_CLOSE.outdated]: "refused",
};

export class TerminalConnection {
  readonly status = new Store<TerminalStatus>("connecting");
  readonly viewers = new Store<TerminalViewer[]>([]);
  readonly typing = new Store<Typing[]>([]);
  readonly canType = new Store<boolean>(false);
  /** Why it is over or refused, in words. */
  readonly message = new Store<string | null>(null);
  readonly size = new Store<{ cols: number; rows: number } | null>(null);
  private socket: PartySocket;
  private ping: ReturnType<typeof setInterval>;
  private ackTimer: ReturnType<typeof setTimeout> | undefined;
  private written = 0;
  private acked = 0;
  /** Bytes (and screen characters) handed to xterm whose write has not finished: bounded by the edge's window. */
  private inFlight = 0;
  /** Output before the first screen of a (re)connect is not for us: the screen holds it. */
  private haveScreen = false;
  private done = false;
  private readonly terminalId: string;
  private readonly sink: TerminalSink;

  constructor(terminal: { id: string; runnerId: string }, sink: TerminalSink) {
    this.terminalId = terminal.id;
    this.sink = sink;
    this.socket = new PartySocket({
      host: location.host,
      protocol: location.protocol === "https:" ? "wss" : "ws",
      party: "runner-link",
      room: terminal.runnerId,
      query: async () => ({
        [TERMINAL_ID_PARAM]: this.terminalId,
        [TERMINAL_TICKET_PARAM]: await this.ticket(),
        [TERMINAL_VERSION_PARAM]: String(TERMINAL_PROTOCOL),
      }),
      // Keys typed while offline are not replayed minutes later into whatever is running then.
      maxEnqueuedMessages: 0,
      maxReconnectionDelay: 8000,
      shouldReconnectOnClose: (e) => !(e.code in FINAL),
    });
    this.socket.binaryType = "arraybuffer";
    this.socket.addEventListener("message", this.onMessage);
    this.socket.addEventListener("close", this.onClose);
    this.ping = setInterval(() => {
      if (this.socket.readyState === WebSocket.OPEN) this.socket.send("ping");
    }, PING_MS);
  }

  private async ticket(): Promise<string> {
    try {
      return (await unwrap(api.api.terminals[":terminalId"].ticket.$post({ param: { terminalId: this.terminalId } })))
        .ticket;
    } catch (err) {
      if (err instanceof ApiError && [403, 404, 409].includes(err.status)) {
        this.finish(err.code === "terminal_ended" ? "ended" : "refused", err.message);
      }
      throw err;
    }
  }

  private onMessage = (e: MessageEvent) => {
    if (e.data instanceof ArrayBuffer) {
      const out = decodeTerminalOutput(e.data);
      if (typeof out !== "string" && out.terminalId === this.terminalId && this.haveScreen) {
        this.write(out.data, out.data.byteLength);
      }
      return;
    }
    if (typeof e.data !== "string" || e.data === "pong") return;
    let parsed: ReturnType<typeof TerminalServerMessage.safeParse>;
    try {
      parsed = TerminalServerMessage.safeParse(JSON.parse(e.data));
    } catch {
      return;
    }
    if (!parsed.success) return;
    const msg = parsed.data;
    switch (msg.type) {
      case "hello":
        this.canType.set(msg.canType);
        this.haveScreen = false;
        this.status.set(msg.runnerOnline ? "connecting" : "runner-offline");
        return;
      case "screen":
        this.haveScreen = true;
        this.size.set({ cols: msg.cols, rows: msg.rows });
        this.sink.reset(msg.cols, msg.rows);
        this.write(msg.data, msg.data.length);
        this.status.set("live");
        return;
      case "size":
        this.size.set({ cols: msg.cols, rows: msg.rows });
        this.sink.resize(msg.cols, msg.rows);
        return;
      case "viewers":
        this.viewers.set(msg.viewers);
        return;
      case "typing": {
        const now = Date.now();
        this.typing.update((list) => [
          ...list.filter((t) => t.userId !== msg.userId && now - t.at < TYPING_SHOWN_MS),
          { userId: msg.userId, name: msg.name, color: msg.color, at: now },
        ]);
        return;
      }
      case "runner":
        if (!msg.online) {
          this.haveScreen = false;
          this.status.set("runner-offline");
        } else if (this.status.get() === "runner-offline") this.status.set("connecting");
        return;
      case "ended":
        this.finish("ended", msg.by ? `Ended by ${msg.by}.` : msg.reason);
        return;
      case "error":
        if (msg.code === "terminal_read_only") this.canType.set(false);
        else if (msg.code === "forbidden") this.finish("refused", msg.message);
        return;
    }
  };

  private onClose = (e: CloseEvent) => {
    if (this.done) return;
    const final = FINAL[e.code];
    if (final) return this.finish(final, this.message.get() ?? (e.reason || "This terminal is not available."));
    this.haveScreen = false;
    this.status.set("reconnecting");
  };

  /**
   * To xterm, acknowledged once written (`size`: an output frame's bytes, a screen's characters).
   * A write that would overrun the window is dropped (never queued).
   */
  private write(data: string | Uint8Array, size: number) {
    if (this.inFlight > 2 * MAX_UNACKED_BYTES) return;
    this.inFlight += size;
    this.sink.write(data, () => {
      this.inFlight -= size;
      this.written += size;
      if (this.written - this.acked >= ACK_EVERY_BYTES) this.ack();
      else {
        clearTimeout(this.ackTimer);
        this.ackTimer = setTimeout(() => this.ack(), ACK_IDLE_MS);
      }
    });
  }

  private ack() {
    clearTimeout(this.ackTimer);
    const bytes = this.written - this.acked;
    if (bytes <= 0 || this.socket.readyState !== WebSocket.OPEN) return;
    this.acked = this.written;
    this.socket.send(JSON.stringify({ type: "ack", bytes }));
  }

  /** Keys (and pastes, in pieces) from this person, if they may type. */
  input(data: string): void {
    if (!this.canType.get() || this.done || this.socket.readyState !== WebSocket.OPEN) return;
    for (let i = 0; i < data.length; i += MAX_INPUT_CHARS) {
      this.socket.send(JSON.stringify({ type: "input", data: data.slice(i, i + MAX_INPUT_CHARS) }));
    }
  }

  /** The panel's size in cells: it sizes the shell when this person may type. */
  resize(cols: number, rows: number): void {
    if (!this.canType.get() || this.socket.readyState !== WebSocket.OPEN) return;
    const now = this.size.get();
    if (now && now.cols === cols && now.rows === rows) return;
    this.socket.send(JSON.stringify({ type: "resize", cols, rows }));
  }

  private finish(status: TerminalStatus, message: string) {
    if (this.done) return;
    this.message.set(message);
    this.status.set(status);
    this.close();
  }

  close(): void {
    this.done = true;
    clearInterval(this.ping);
    clearTimeout(this.ackTimer);
    this.socket.close();
  }
}
