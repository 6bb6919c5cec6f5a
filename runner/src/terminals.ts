import type { IPty } from "@lydell/node-pty";
import type { LinkMessage, RunnerFrame, TermSize } from "../../protocol/index.ts";
import {
  encodeTerminalOutput,
  MAX_OUTPUT_BYTES,
  MAX_RUNNER_FRAME_CHARS,
  MAX_SCREEN_CHARS,
  SCROLLBACK_LINES,
} from "../../protocol/index.ts";
import { firstLine, log } from "./log.ts";
import { shellEnv } from "./terminal-env.ts";
import { type Screen, Tmux, TmuxMissing } from "./tmux.ts";
import { isWorkingTree, worktreeTarget } from "./worktrees.ts";

/**
 * The runner's terminals: each is a tmux session in a worktree (tmux keeps the shell), and while
 * someone watches, a PTY (`@lydell/node-pty`) runs `tmux attach` to it and its output goes up the
 * runner's one link socket. Nothing listens on this machine and nothing new dials out.
 *
 * Output is read as bytes and sent as binary frames (protocol/terminal-output.ts), batched (the
 * first bytes after a quiet spell go at once, then at most one frame per `WINDOW_MS`, or sooner
 * when `MAX_OUTPUT_BYTES` are waiting), and while the link socket has more
 * than `HIGH_WATER` bytes unsent the PTYs are not read at all: tmux then holds the shell's output
 * and redraws when we read again, as it does for any slow terminal. So a flood (`yes`, a big
 * `cat`) costs the runner a bounded buffer, and the jobs (on HTTPS) and agent streams (small frames
 * on the same socket, behind at most `HIGH_WATER` bytes) carry on.
 */

export type TerminalMessage = Extract<LinkMessage, { type: `term.${string}` }>;
type TermFrame = Extract<RunnerFrame, { type: `term.${string}` }>;
type Frame = TermFrame extends infer F ? (F extends TermFrame ? Omit<F, "v"> : never) : never;

export interface TerminalsOptions {
  dataDir: string;
  runnerId: string;
  /** Values that must never reach a shell's environment (the runner credential). */
  secrets: string[];
  /** Up the link; false when it is down. */
  send(frame: Frame): boolean;
  /** A binary output frame up the link; false when it is down. */
  sendOutput(frame: Uint8Array): boolean;
  /** Bytes the link socket has not sent yet. */
  buffered(): number;
  /** tmux's `-L` socket name (default `trellis`, or `$TRELLIS_TMUX_SOCKET`). */
  socket?: string;
}

/** Output frames go at most this often while output keeps coming. */
const WINDOW_MS = 4;
/** Stop reading PTYs above this many unsent bytes on the link; read again below `LOW_WATER`. */
const HIGH_WATER = 256 * 1024;
const LOW_WATER = 64 * 1024;
const DRAIN_POLL_MS = 5;
const DEFAULT_SIZE: TermSize = { cols: 80, rows: 24 };
/** A PTY whose `tmux attach` ends while the session lives (someone detached it) is attached again, a few times. */
const MAX_REATTACH = 3;

interface Term {
  id: string;
  pty: IPty;
  chunks: Buffer[];
  pending: number;
  timer: NodeJS.Timeout | NodeJS.Immediate | null;
  lastFlush: number;
  /** We detached or killed it on purpose: its exit is not news. */
  closing: boolean;
  reattached: number;
}

type PtyModule = typeof import("@lydell/node-pty");
let ptyModule: Promise<PtyModule> | null = null;
/** Loaded on the first terminal: an idle runner never pays for node-pty. */
const loadPty = () => {
  ptyModule ??= import("@lydell/node-pty").then((m) => (m as unknown as { default?: PtyModule }).default ?? m);
  return ptyModule;
};

export class Terminals {
  private readonly tmux: Tmux;
  private readonly env: Record<string, string>;
  private readonly open = new Map<string, Term>();
  /** One operation at a time per terminal (open, kill): they run tmux commands in between. */
  private readonly queues = new Map<string, Promise<void>>();
  private paused = false;
  private drainTimer: NodeJS.Timeout | undefined;

  private readonly o: TerminalsOptions;

  constructor(o: TerminalsOptions) {
    this.o = o;
    this.env = shellEnv(process.env, o.secrets);
    this.tmux = new Tmux({
      socket: o.socket ?? process.env.TRELLIS_TMUX_SOCKET ?? "trellis",
      dir: o.dataDir,
      runnerId: o.runnerId,
      env: this.env,
    });
  }

  get count(): number {
    return this.open.size;
  }

  handle(msg: TerminalMessage): void {
    const id = msg.terminalId;
    // It names a tmux session and a target: nothing but an id's characters.
    if (!/^[A-Za-z0-9-]{1,64}$/.test(id)) return;
    switch (msg.type) {
      case "term.input": {
        const t = this.open.get(id);
        if (t) t.pty.write(msg.data);
        // Typed while the PTY is being attached (just after a reconnect): it goes in once it is.
        else if (this.queues.has(id)) this.queue(id, async () => this.open.get(id)?.pty.write(msg.data));
        return;
      }
      case "term.resize": {
        const t = this.open.get(id);
        if (t) resize(t.pty, msg);
        return;
      }
      case "term.open":
        this.queue(id, () => this.attach(msg));
        return;
      case "term.close":
        this.queue(id, async () => this.detach(id));
        return;
      case "term.kill":
        this.queue(id, async () => {
          this.detach(id);
          await this.tmux.kill(id);
        });
        return;
    }
  }

  private queue(id: string, op: () => Promise<void>): void {
    const next = (this.queues.get(id) ?? Promise.resolve()).then(op).catch((err) => {
      log(`terminal ${id}: ${firstLine(err)}`);
    });
    this.queues.set(id, next);
    void next.finally(() => {
      if (this.queues.get(id) === next) this.queues.delete(id);
    });
  }

  /** The link is up: say which shells live here, so the edge can tell who is still watching what. */
  async linkUp(): Promise<void> {
    this.o.send({ type: "term.sessions", terminalIds: await this.tmux.sessions() });
  }

  /** The link is down: nobody can watch, so detach every PTY. The shells keep running in tmux. */
  linkDown(): void {
    for (const id of [...this.open.keys()]) this.detach(id);
  }

  close(): void {
    this.linkDown();
    clearTimeout(this.drainTimer);
  }

  private exited(id: string, code: "exited" | "gone" | "failed", reason: string) {
    this.o.send({ type: "term.exited", terminalId: id, code, reason });
  }

  private async attach(msg: Extract<TerminalMessage, { type: "term.open" }>): Promise<void> {
    const { terminalId: id } = msg;
    const existing = this.open.get(id);
    if (existing) {
      if (msg.size) resize(existing.pty, msg.size);
      return this.sendScreen(existing);
    }
    try {
      await this.tmux.ensure();
    } catch (err) {
      if (err instanceof TmuxMissing) return this.exited(id, "failed", err.message);
      throw err;
    }
    let created = false;
    if (!(await this.tmux.has(id))) {
      if (!msg.create) {
        return this.exited(id, "gone", "The shell is gone (it exited, or the runner's machine restarted).");
      }
      let cwd: string;
      try {
        cwd = await worktreeTarget(this.o.dataDir, msg.repoId, msg.worktree);
        if (!(await isWorkingTree(cwd))) throw new Error(`the worktree folder ${cwd} is not there`);
      } catch (err) {
        return this.exited(id, "failed", `Could not start a shell: ${firstLine(err)}.`);
      }
      await this.tmux.create(id, cwd, msg.size ?? DEFAULT_SIZE);
      created = true;
    }
    const size = msg.size ?? (await this.tmux.size(id)) ?? DEFAULT_SIZE;
    const { spawn } = await loadPty();
    const pty = spawn("tmux", ["-u", "-L", this.tmuxSocket, "attach-session", "-t", `=${id}`], {
      name: "xterm-256color",
      cols: size.cols,
      rows: size.rows,
      cwd: this.o.dataDir,
      env: this.env,
      // Bytes as tmux wrote them: they go on as they are, never decoded here.
      encoding: null,
    });
    const t: Term = { id, pty, chunks: [], pending: 0, timer: null, lastFlush: 0, closing: false, reattached: 0 };
    this.open.set(id, t);
    this.wire(t, msg);
    if (this.paused) pty.pause();
    this.o.send({ type: "term.opened", terminalId: id, created });
    await this.sendScreen(t);
  }

  private get tmuxSocket(): string {
    return this.o.socket ?? process.env.TRELLIS_TMUX_SOCKET ?? "trellis";
  }

  private wire(t: Term, msg: Extract<TerminalMessage, { type: "term.open" }>) {
    // With `encoding: null` node-pty hands over Buffers (its type says string).
    t.pty.onData((d) => this.output(t, d as unknown as Buffer));
    t.pty.onExit(() => {
      if (this.open.get(t.id) !== t) return;
      this.flush(t);
      this.open.delete(t.id);
      if (t.closing) return;
      // `tmux attach` ended by itself: the shell exited, or someone detached this client.
      this.queue(t.id, async () => {
        if (!(await this.tmux.has(t.id).catch(() => false))) return this.exited(t.id, "exited", "The shell exited.");
        if (t.reattached >= MAX_REATTACH) return;
        await this.attach({ ...msg, create: false });
        const again = this.open.get(t.id);
        if (again) again.reattached = t.reattached + 1;
      });
    });
  }

  private detach(id: string): void {
    const t = this.open.get(id);
    if (!t) return;
    t.closing = true;
    this.clearTimer(t);
    this.open.delete(id);
    try {
      t.pty.kill();
    } catch {
      // Gone already.
    }
  }

  // ---- output: batched, and not read while the link is backed up ----

  private output(t: Term, data: Buffer) {
    t.chunks.push(data);
    t.pending += data.byteLength;
    if (t.pending >= MAX_OUTPUT_BYTES) return this.flush(t);
    if (t.timer) return;
    const wait = t.lastFlush + WINDOW_MS - performance.now();
    // After a quiet spell the first bytes go on the next turn (a keystroke's echo is not held
    // back); under a stream, one frame per window.
    t.timer = wait <= 0 ? setImmediate(() => this.flush(t)) : setTimeout(() => this.flush(t), wait);
  }

  private clearTimer(t: Term) {
    if (!t.timer) return;
    clearTimeout(t.timer as NodeJS.Timeout);
    clearImmediate(t.timer as NodeJS.Immediate);
    t.timer = null;
  }

  private flush(t: Term) {
    this.clearTimer(t);
    if (!t.pending) return;
    const chunks = t.chunks;
    t.chunks = [];
    t.pending = 0;
    t.lastFlush = performance.now();
    for (const frame of outputFrames(t.id, chunks, MAX_OUTPUT_BYTES)) {
      // Down: the bytes have nowhere to go; the screen is sent afresh when someone is back.
      if (!this.o.sendOutput(frame)) break;
    }
    this.backpressure();
  }

  private backpressure() {
    if (this.paused || this.o.buffered() < HIGH_WATER) return;
    this.paused = true;
    for (const t of this.open.values()) t.pty.pause();
    const poll = () => {
      if (this.o.buffered() > LOW_WATER) {
        this.drainTimer = setTimeout(poll, DRAIN_POLL_MS);
        return;
      }
      this.paused = false;
      for (const t of this.open.values()) t.pty.resume();
    };
    this.drainTimer = setTimeout(poll, DRAIN_POLL_MS);
  }

  // ---- the screen, for a viewer that just came or caught up ----

  private async sendScreen(t: Term): Promise<void> {
    let screen: Screen;
    try {
      screen = await this.tmux.capture(t.id, SCROLLBACK_LINES);
    } catch (err) {
      if (!(await this.tmux.has(t.id).catch(() => false))) return this.exited(t.id, "exited", "The shell exited.");
      throw err;
    }
    // Whatever was read before the capture goes first, so the screen lands after it, in order.
    this.flush(t);
    this.o.send({ type: "term.screen", terminalId: t.id, ...fit(screen) });
    // tmux redraws the client, so anything it had drawn before we read it cannot show twice.
    await this.tmux.redraw(t.pty.pid);
  }
}

function resize(pty: IPty, size: TermSize) {
  try {
    pty.resize(size.cols, size.rows);
  } catch {
    // Exited meanwhile.
  }
}

/**
 * The chunks read from one PTY as output frames of at most `max` bytes each, in order. A cut may
 * fall inside a UTF-8 character: the viewer's terminal decodes across frames.
 */
export function outputFrames(terminalId: string, chunks: readonly Buffer[], max: number): Uint8Array[] {
  const frames: Uint8Array[] = [];
  let batch: Uint8Array[] = [];
  let size = 0;
  for (const chunk of chunks) {
    for (let at = 0; at < chunk.byteLength; ) {
      const take = Math.min(max - size, chunk.byteLength - at);
      batch.push(at === 0 && take === chunk.byteLength ? chunk : chunk.subarray(at, at + take));
      size += take;
      at += take;
      if (size === max) {
        frames.push(encodeTerminalOutput(terminalId, batch));
        batch = [];
        size = 0;
      }
    }
  }
  if (size) frames.push(encodeTerminalOutput(terminalId, batch));
  return frames;
}

/** Drop the oldest scrollback lines until the screen fits one frame (escapes included). */
export function fit(screen: Screen): Screen {
  const budget = MAX_RUNNER_FRAME_CHARS - 4096;
  let { data } = screen;
  while (data.length > MAX_SCREEN_CHARS || JSON.stringify(data).length > budget) {
    const cut = data.indexOf("\r\n", Math.max(0, data.length - MAX_SCREEN_CHARS, Math.floor(data.length / 8)));
    if (cut < 0) {
      data = data.slice(-Math.floor(MAX_SCREEN_CHARS / 8));
      break;
    }
    data = `\x1b[0m${data.slice(cut + 2)}`;
  }
  return { ...screen, data };
}
