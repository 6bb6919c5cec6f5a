import type { LinkMessage, RunnerFrame, TerminalServerMessage, TerminalViewer, TermSize } from "../protocol/index.ts";
import {
  encodeTerminalOutput,
  LINK_PROTOCOL,
  MAX_OUTPUT_BYTES,
  MAX_UNACKED_BYTES,
  MAX_VIEWERS,
  TERMINAL_CLOSE,
  TERMINAL_PROTOCOL,
  TerminalClientMessage,
} from "../protocol/index.ts";
import type { TerminalNotice, TerminalViewerIdentity } from "../worker/services/terminals.ts";
import { viewerKey } from "../worker/services/terminals.ts";

/**
 * The terminals of one runner, in plain TypeScript: the viewers' sockets (browsers watching and
 * typing), what goes to the runner over its link, and what comes back. It lives in the runner's
 * own RunnerLink, which holds the runner's socket, so output goes runner → here → viewers with no
 * other hop, and a board room's presence never queues behind a terminal's output.
 *
 * Flow control: each viewer acknowledges the bytes its terminal has written. One that is more
 * than `MAX_UNACKED_BYTES` behind is skipped (its frames dropped, nothing queued here) until its
 * acknowledgements catch up to `RESUME_AT_BYTES`, then it gets a fresh screen from the runner.
 * Memory here is a few numbers per viewer and per terminal, whatever the runner sends; output
 * frames are the runner's own, forwarded without reading past their header.
 */

export type TerminalFrame = Extract<RunnerFrame, { type: `term.${string}` }>;

/** What a viewer's socket keeps across hibernation: who it is, and which terminal. */
export type ViewerState = TerminalViewerIdentity & { kind: "viewer"; joinedAt: number };

export interface ViewerSocket {
  readonly id: string;
  readonly state: Readonly<ViewerState> | null;
  setState(state: ViewerState): void;
  send(frame: string | ArrayBuffer | Uint8Array): void;
  close(code?: number, reason?: string): void;
}

export interface HubServices {
  /** The runner made the tmux session of a terminal that was `starting`. */
  opened(terminalId: string): Promise<void>;
  /** The shell is over; false when it was over already. */
  exited(terminalId: string, reason: string): Promise<boolean>;
  reconcile(
    alive: string[],
  ): Promise<{ open: { id: string; status: "starting" | "open" }[]; gone: string[]; kill: string[] }>;
  detached(viewer: ViewerState): Promise<void>;
  /** `viewerKey`s of the sockets that may stay as they are. */
  stillAllowed(viewers: ViewerState[]): Promise<Set<string>>;
}

export interface HubHost {
  /** Open viewer sockets, of one terminal or of all. */
  viewers(terminalId?: string): Iterable<ViewerSocket>;
  /** A frame to the runner's link socket; false when the runner is not connected. */
  toRunner(msg: LinkMessage): boolean;
  runnerOnline(): boolean;
  lastPingAt(s: ViewerSocket): number;
  now(): number;
  services: HubServices;
}

/** A viewer caught up to this many unacknowledged bytes gets its screen back. */
export const RESUME_AT_BYTES = 64 * 1024;
/** "Who is typing" goes out at most once a second per person. */
const TYPING_EVERY_MS = 1000;
/** A screen asked of the runner that never came is asked again after this. */
const SCREEN_RETRY_MS = 5000;
/** A viewer socket that has not pinged for this long is presumed gone. */
export const VIEWER_STALE_MS = 30_000;
/** How often the sweep re-checks everyone's access (credential, sharing, membership). */
export const RECHECK_MS = 30_000;

type Mode = "live" | "behind" | "awaiting";
interface Live {
  unacked: number;
  mode: Mode;
}
interface Term {
  size: TermSize | null;
  /** When a screen was asked of the runner and has not come yet. */
  screenAskedAt: number | null;
  /** The runner said its tmux session exists (so later attaches never make a new one). */
  made: boolean;
  typedAt: Map<string, number>;
}

const frame = (msg: TerminalServerMessage) => JSON.stringify(msg);
const tv = TERMINAL_PROTOCOL;

export class TerminalHub {
  /** Per viewer socket; rebuilt lazily after a hibernation (a woken room has nothing in flight). */
  private live = new Map<string, Live>();
  private terms = new Map<string, Term>();
  /** Terminals known to be over, so a late attach or frame does not bring them back. */
  private ended = new Set<string>();
  private lastRecheck = 0;

  private readonly host: HubHost;

  constructor(host: HubHost) {
    this.host = host;
  }

  private liveOf(s: ViewerSocket): Live {
    let l = this.live.get(s.id);
    if (!l) {
      l = { unacked: 0, mode: "live" };
      this.live.set(s.id, l);
    }
    return l;
  }

  private term(id: string): Term {
    let t = this.terms.get(id);
    if (!t) {
      t = { size: null, screenAskedAt: null, made: false, typedAt: new Map() };
      this.terms.set(id, t);
    }
    return t;
  }

  private viewersOf(terminalId: string): ViewerSocket[] {
    return [...this.host.viewers(terminalId)].filter((s) => s.state?.terminalId === terminalId);
  }

  /** Viewers on any terminal (the link's alarm keeps sweeping while there are some). */
  active(): boolean {
    for (const _ of this.host.viewers()) return true;
    return false;
  }

  // ---- viewers ----

  join(socket: ViewerSocket, who: TerminalViewerIdentity, version: number | null): void {
    if (version !== null && version !== TERMINAL_PROTOCOL) {
      socket.close(
        TERMINAL_CLOSE.outdated,
        `This edge speaks terminal protocol ${TERMINAL_PROTOCOL}: reload the page.`,
      );
      return;
    }
    if (this.ended.has(who.terminalId)) {
      sendTo(socket, { type: "ended", v: tv, by: null, reason: "This terminal has ended." });
      socket.close(TERMINAL_CLOSE.ended, "terminal ended");
      return;
    }
    const others = this.viewersOf(who.terminalId).filter((s) => s.id !== socket.id);
    if (others.length >= MAX_VIEWERS) {
      socket.close(TERMINAL_CLOSE.full, `This terminal has its maximum of ${MAX_VIEWERS} viewers.`);
      return;
    }
    socket.setState({ ...who, kind: "viewer", joinedAt: this.host.now() });
    this.live.set(socket.id, { unacked: 0, mode: "awaiting" });
    const online = this.host.runnerOnline();
    sendTo(socket, {
      type: "hello",
      v: tv,
      connectionId: socket.id,
      terminalId: who.terminalId,
      canType: who.canType,
      runnerOnline: online,
    });
    this.announceViewers(who.terminalId);
    if (online) this.askScreen(who.terminalId, true);
  }

  message(socket: ViewerSocket, raw: string | ArrayBuffer): void {
    const st = socket.state;
    if (st?.kind !== "viewer") return;
    const msg = parseClient(raw);
    if (typeof msg === "string") {
      sendTo(socket, { type: "error", v: tv, code: "bad_message", message: msg });
      return;
    }
    const id = st.terminalId;
    switch (msg.type) {
      case "input": {
        // The trust boundary holds here too: whatever a read-only client sends goes nowhere.
        if (!st.canType) {
          sendTo(socket, {
            type: "error",
            v: tv,
            code: "terminal_read_only",
            message: "You can watch this terminal but not type in it.",
          });
          return;
        }
        if (this.ended.has(id)) return;
        this.host.toRunner({ type: "term.input", v: LINK_PROTOCOL, terminalId: id, data: msg.data });
        const t = this.term(id);
        const now = this.host.now();
        if (now - (t.typedAt.get(st.userId) ?? 0) >= TYPING_EVERY_MS) {
          t.typedAt.set(st.userId, now);
          this.broadcast(id, { type: "typing", v: tv, userId: st.userId, name: st.name, color: st.color });
        }
        return;
      }
      case "resize": {
        // Only someone who types sizes the shell: a watcher's window does not reflow the typist's screen.
        if (!st.canType || this.ended.has(id)) return;
        const t = this.term(id);
        const size = { cols: msg.cols, rows: msg.rows };
        if (t.size && t.size.cols === size.cols && t.size.rows === size.rows) return;
        t.size = size;
        this.host.toRunner({ type: "term.resize", v: LINK_PROTOCOL, terminalId: id, ...size });
        this.broadcast(id, { type: "size", v: tv, ...size });
        return;
      }
      case "ack": {
        const l = this.liveOf(socket);
        l.unacked = Math.max(0, l.unacked - msg.bytes);
        if (l.mode === "behind" && l.unacked <= RESUME_AT_BYTES) {
          l.mode = "awaiting";
          this.askScreen(id, false);
        }
        return;
      }
    }
  }

  /** A viewer's socket closed. The last one to leave detaches the runner's PTY; the shell stays in tmux. */
  async left(socket: ViewerSocket): Promise<void> {
    const st = socket.state;
    this.live.delete(socket.id);
    if (st?.kind !== "viewer") return;
    const id = st.terminalId;
    this.announceViewers(id);
    if (this.viewersOf(id).filter((s) => s.id !== socket.id).length === 0) {
      this.terms.delete(id);
      if (!this.ended.has(id)) this.host.toRunner({ type: "term.close", v: LINK_PROTOCOL, terminalId: id });
    }
    await this.host.services.detached(st as ViewerState).catch((err) => console.error("terminal detach record", err));
  }

  private announceViewers(terminalId: string) {
    const viewers: TerminalViewer[] = this.viewersOf(terminalId).map((s) => ({
      connectionId: s.id,
      userId: s.state!.userId,
      name: s.state!.name,
      color: s.state!.color,
      canType: s.state!.canType,
    }));
    this.broadcast(terminalId, { type: "viewers", v: tv, viewers });
  }

  private broadcast(terminalId: string, msg: TerminalServerMessage) {
    const text = frame(msg);
    for (const s of this.viewersOf(terminalId)) trySend(s, text);
  }

  /**
   * Ask the runner for the screen (attaching its PTY first if it is not). `term.open` is
   * idempotent on the runner, so the same frame serves a first viewer and one catching up.
   */
  private askScreen(terminalId: string, force: boolean) {
    const t = this.term(terminalId);
    const now = this.host.now();
    if (!force && t.screenAskedAt !== null && now - t.screenAskedAt < SCREEN_RETRY_MS) return;
    const any = this.viewersOf(terminalId)[0]?.state;
    if (!any) return;
    if (
      this.host.toRunner({
        type: "term.open",
        v: LINK_PROTOCOL,
        terminalId,
        repoId: any.repoId,
        worktree: any.worktree,
        create: any.create && !t.made,
        ...(t.size ? { size: t.size } : {}),
      })
    )
      t.screenAskedAt = now;
  }

  // ---- the runner ----

  async fromRunner(f: TerminalFrame): Promise<void> {
    switch (f.type) {
      case "term.output": {
        // A runner from before binary output frames: its text goes on as they would have.
        const bytes = new TextEncoder().encode(f.data);
        for (let at = 0; at < bytes.byteLength; at += MAX_OUTPUT_BYTES) {
          const piece = bytes.subarray(at, at + MAX_OUTPUT_BYTES);
          this.output(f.terminalId, encodeTerminalOutput(f.terminalId, [piece]), piece.byteLength);
        }
        return;
      }
      case "term.screen":
        return this.screen(f.terminalId, f.data, { cols: f.cols, rows: f.rows });
      case "term.opened":
        this.term(f.terminalId).made = true;
        if (f.created) await this.host.services.opened(f.terminalId);
        return;
      case "term.exited":
        await this.host.services.exited(f.terminalId, f.reason);
        this.over(f.terminalId, null, f.reason);
        return;
      case "term.sessions":
        return this.reconcile(f.terminalIds);
    }
  }

  /**
   * The hot path: the runner's binary frame (`bytes` of PTY output), as it is, to every viewer of
   * the terminal that is not too far behind.
   */
  output(terminalId: string, out: ArrayBuffer | Uint8Array, bytes: number): void {
    if (this.ended.has(terminalId)) return;
    for (const s of this.host.viewers(terminalId)) {
      const l = this.liveOf(s);
      if (l.mode !== "live") continue;
      if (l.unacked > MAX_UNACKED_BYTES) {
        // Too far behind: skip it until it has caught up, then give it the screen as it is then.
        l.mode = "behind";
        continue;
      }
      if (trySend(s, out)) l.unacked += bytes;
    }
  }

  private screen(terminalId: string, data: string, size: TermSize) {
    const t = this.term(terminalId);
    t.screenAskedAt = null;
    t.made = true;
    const resized = !t.size || t.size.cols !== size.cols || t.size.rows !== size.rows;
    t.size = size;
    const text = frame({ type: "screen", v: tv, data, ...size });
    const sizeText = resized ? frame({ type: "size", v: tv, ...size }) : null;
    for (const s of this.viewersOf(terminalId)) {
      const l = this.liveOf(s);
      if (l.mode === "awaiting") {
        if (trySend(s, text)) {
          l.mode = "live";
          l.unacked += data.length;
        }
      } else if (sizeText) trySend(s, sizeText);
    }
  }

  /** The runner's link came up: tell the viewers; it re-attaches once it said which shells live. */
  runnerUp(): void {
    const text = frame({ type: "runner", v: tv, online: true });
    for (const s of this.host.viewers()) trySend(s, text);
  }

  /** The runner's link went down: everyone waits for a fresh screen when it is back. */
  runnerDown(): void {
    const text = frame({ type: "runner", v: tv, online: false });
    for (const s of this.host.viewers()) {
      trySend(s, text);
      this.liveOf(s).mode = "awaiting";
    }
    for (const t of this.terms.values()) t.screenAskedAt = null;
  }

  private async reconcile(alive: string[]) {
    const { open, gone, kill } = await this.host.services.reconcile(alive);
    for (const id of kill) this.host.toRunner({ type: "term.kill", v: LINK_PROTOCOL, terminalId: id });
    for (const id of gone) this.over(id, null, "The shell is gone (it exited, or the runner's machine restarted).");
    const watched = new Set<string>();
    for (const s of this.host.viewers()) if (s.state) watched.add(s.state.terminalId);
    for (const { id, status } of open) {
      if (!watched.has(id)) continue;
      const t = this.term(id);
      if (status === "open") t.made = true;
      for (const s of this.viewersOf(id)) this.liveOf(s).mode = "awaiting";
      this.askScreen(id, true);
    }
    // A viewer of a terminal D1 no longer lists as open for this runner has nothing to watch.
    const known = new Set(open.map((o) => o.id));
    for (const id of watched) if (!known.has(id)) this.over(id, null, "This terminal has ended.");
  }

  /** Over for everyone: said on every panel, then their sockets close. */
  private over(terminalId: string, by: string | null, reason: string) {
    this.ended.add(terminalId);
    this.terms.delete(terminalId);
    const text = frame({ type: "ended", v: tv, by, reason });
    for (const s of this.viewersOf(terminalId)) {
      trySend(s, text);
      this.live.delete(s.id);
      s.close(TERMINAL_CLOSE.ended, "terminal ended");
    }
  }

  // ---- from the services (RPC) ----

  async notice(n: TerminalNotice): Promise<void> {
    if (n.type === "ended") {
      this.host.toRunner({ type: "term.kill", v: LINK_PROTOCOL, terminalId: n.terminalId });
      this.over(n.terminalId, n.by, n.reason);
      return;
    }
    await this.recheck();
  }

  /** Close the sockets whose access ended or narrowed (they may reconnect with what they have now). */
  async recheck(): Promise<void> {
    this.lastRecheck = this.host.now();
    const open = [...this.host.viewers()].filter((s) => s.state);
    if (!open.length) return;
    let allowed: Set<string>;
    try {
      allowed = await this.host.services.stillAllowed(open.map((s) => s.state as ViewerState));
    } catch (err) {
      console.error("terminals: re-checking viewers failed", err);
      return;
    }
    for (const s of open) {
      if (allowed.has(viewerKey(s.state!))) continue;
      this.live.delete(s.id);
      sendTo(s, {
        type: "error",
        v: tv,
        code: "forbidden",
        message: "Your access to this terminal changed.",
      });
      s.close(TERMINAL_CLOSE.forbidden, "access changed");
    }
  }

  /** From the link's alarm: silent sockets go, and every few sweeps everyone's access is re-checked. */
  async sweep(): Promise<void> {
    const now = this.host.now();
    for (const s of this.host.viewers()) {
      const since = Math.max(this.host.lastPingAt(s), s.state?.joinedAt ?? 0);
      if (now - since > VIEWER_STALE_MS) {
        this.live.delete(s.id);
        s.close(TERMINAL_CLOSE.stale, "no ping");
      }
    }
    if (now - this.lastRecheck >= RECHECK_MS) await this.recheck();
  }
}

function parseClient(raw: string | ArrayBuffer): TerminalClientMessage | string {
  if (typeof raw !== "string") return "Send JSON text frames.";
  if (raw.length > 64 * 1024) return "Frame is too large.";
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return "Frame is not valid JSON.";
  }
  const parsed = TerminalClientMessage.safeParse(data);
  return parsed.success ? parsed.data : `Unrecognised frame: ${parsed.error.issues[0]?.message}`;
}

function trySend(s: ViewerSocket, frame: string | ArrayBuffer | Uint8Array): boolean {
  try {
    s.send(frame);
    return true;
  } catch {
    return false;
  }
}

function sendTo(s: ViewerSocket, msg: TerminalServerMessage) {
  trySend(s, frame(msg));
}
