import type { LinkMessage, RunnerFrame, RunnerInfo, StreamFrame } from "../protocol/index.ts";
import {
  decodeTerminalOutput,
  LINK_CLOSE,
  LINK_PROTOCOL,
  LINK_STALE_MS,
  MAX_RUNNER_FRAME_CHARS,
  RunnerFrame as RunnerFrameSchema,
} from "../protocol/index.ts";
import type { TerminalFrame } from "./terminal-hub.ts";

/**
 * The runner link's logic, in plain TypeScript: one live socket per runner, online/offline, wake
 * and cancel, frames from the runner (dispatched by kind), and the alarm that finds silent sockets
 * and expired job leases. The Durable Object (`RunnerLink`) binds it to the platform and to the
 * services, so all of this runs, and is tested, without workerd.
 */

export type LinkState = { connectedAt: number };

export interface LinkSocket {
  readonly id: string;
  readonly state: Readonly<LinkState> | null;
  setState(state: LinkState): void;
  send(frame: string): void;
  close(code?: number, reason?: string): void;
}

/** What the link asks of the rest of the system: the services, behind the DO's own context. */
export interface LinkServices {
  /** The link connected: show the runner online. False when it was revoked meanwhile. */
  online(info: RunnerInfo | null): Promise<boolean>;
  offline(): Promise<void>;
  /** Still a registered, unrevoked runner? (A credential can end without the revoke RPC reaching us.) */
  registered(): Promise<boolean>;
  /** Fail or retry jobs whose lease ran out; when the next lease ends, or null if none is held. */
  sweepLeases(): Promise<number | null>;
  /** May this runner stream to this board now (it holds an active job there)? */
  worksOn(boardId: string, sessionId: string): Promise<boolean>;
  /** Pieces of running messages for one board, in order, to its room in one call. */
  stream(boardId: string, pieces: StreamFrame[]): Promise<void>;
}

export interface LinkHost {
  sockets(): Iterable<LinkSocket>;
  lastPingAt(s: LinkSocket): number;
  now(): number;
  /** The one alarm, and the durable note of when the next lease ends. */
  alarm: { get(): Promise<number | null>; set(at: number): Promise<void>; clear(): Promise<void> };
  leaseCheck: { get(): Promise<number | undefined>; set(at: number | undefined): Promise<void> };
  services: LinkServices;
  /** The terminals whose viewers sit on this link (party/terminal-hub.ts). */
  terminals?: LinkTerminals;
}

/** What the link tells the terminals: the runner's `term.*` frames, and its socket coming and going. */
export interface LinkTerminals {
  fromRunner(frame: TerminalFrame): Promise<void>;
  /** A binary output frame (protocol/terminal-output.ts), header read: `bytes` of PTY output for `terminalId`. */
  output(terminalId: string, frame: ArrayBuffer, bytes: number): void;
  runnerUp(): void;
  runnerDown(): void;
  /** Viewers are connected: keep the alarm sweeping. */
  active(): boolean;
  sweep(): Promise<void>;
}

/**
 * How often the alarm looks for silent sockets while any is open. Stale (20 s) plus this stays well
 * under the 30 s in which a runner cut off without a close must show offline.
 */
export const SWEEP_MS = 5_000;
/** Pieces handed to a board's room in one call at most (a batch is 200; a backlog goes in a few). */
const MAX_ROOM_CALL_PIECES = 1000;

interface Outbox {
  pieces: StreamFrame[];
  /** Resolvers of the frames whose pieces are in `pieces`. */
  done: (() => void)[];
  sending: boolean;
}

/** How long the link trusts "this runner works on that board" before asking D1 again. */
const REFUSED_TTL_MS = 500;
const WORKS_ON_TTL_MS = 5_000;

/** A socket is stale when neither a ping nor the connect itself happened within `LINK_STALE_MS`. */
export function isStale(lastPingAt: number, connectedAt: number, now: number): boolean {
  return now - Math.max(lastPingAt, connectedAt) > LINK_STALE_MS;
}

/**
 * What a runner's frame says, or why it is refused. Handlers are one entry per kind, so a later
 * kind (permission, terminal) is a schema in protocol/link.ts and a line in `handle` below.
 */
export function parseRunnerFrame(raw: string | ArrayBuffer): RunnerFrame | string {
  if (typeof raw !== "string") return "Send JSON text frames (binary ones are terminal output only).";
  if (raw.length > MAX_RUNNER_FRAME_CHARS) return `Frame is larger than ${MAX_RUNNER_FRAME_CHARS} characters.`;
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return "Frame is not valid JSON.";
  }
  if ((data as { v?: unknown } | null)?.v !== LINK_PROTOCOL) return `Frames must carry v: ${LINK_PROTOCOL}.`;
  const parsed = RunnerFrameSchema.safeParse(data);
  return parsed.success ? parsed.data : `Unknown or malformed frame: ${parsed.error.issues[0]?.message}`;
}

export class RunnerLinkCore {
  private worksOn = new Map<string, { ok: boolean; until: number; asking?: boolean }>();
  /** Per board, the relay of the last frame the runner sent there (see `inOrder`). */
  private relays = new Map<string, Promise<void>>();
  /** Per board, pieces checked and waiting for the room call in flight to end (see `toRoom`). */
  private outbox = new Map<string, Outbox>();

  constructor(private readonly host: LinkHost) {}

  private open(except?: string): LinkSocket[] {
    return [...this.host.sockets()].filter((s) => s.id !== except);
  }

  /** Every open socket (there is one, but a replaced one may linger a moment). Returns how many heard it. */
  send(msg: LinkMessage): number {
    const text = JSON.stringify(msg);
    let sent = 0;
    for (const s of this.open()) {
      try {
        s.send(text);
        sent++;
      } catch {
        // Closing: the runner reconnects and is woken then.
      }
    }
    return sent;
  }

  async connect(socket: LinkSocket, opts: { info: RunnerInfo | null; version: number | null }): Promise<void> {
    if (opts.version !== null && opts.version !== LINK_PROTOCOL) {
      hangUp(socket, LINK_CLOSE.outdated, `This edge speaks link protocol ${LINK_PROTOCOL}: update trellis-runner.`);
      return;
    }
    socket.setState({ connectedAt: this.host.now() });
    // One live connection per runner: a reconnect after a network cut replaces the half-dead old one.
    for (const old of this.open(socket.id)) hangUp(old, LINK_CLOSE.replaced, "replaced by a newer connection");
    if (!(await this.host.services.online(opts.info))) {
      hangUp(socket, LINK_CLOSE.revoked, "runner revoked");
      return;
    }
    // Whatever was queued while the runner was away is picked up at once.
    socket.send(JSON.stringify({ type: "wake", v: LINK_PROTOCOL } satisfies LinkMessage));
    this.host.terminals?.runnerUp();
    await this.schedule();
  }

  async message(socket: LinkSocket, raw: string | ArrayBuffer): Promise<void> {
    if (typeof raw !== "string") {
      // The hot path of a terminal flood: only the header is read, the frame goes on as it is.
      const out = decodeTerminalOutput(raw);
      if (typeof out === "string") return refuse(socket, out);
      this.host.terminals?.output(out.terminalId, raw, out.data.byteLength);
      return;
    }
    const frame = parseRunnerFrame(raw);
    if (typeof frame === "string") return refuse(socket, frame);
    switch (frame.type) {
      case "stream": {
        const { type: _t, v: _v, boardId, ...piece } = frame;
        return this.relay(socket, boardId, [piece]);
      }
      case "streams":
        return this.relay(socket, frame.boardId, frame.pieces);
      case "term.sessions":
      case "term.opened":
      case "term.output":
      case "term.screen":
      case "term.exited":
        await this.host.terminals?.fromRunner(frame);
        return;
    }
  }

  /** Pieces for one board, to its room; those of sessions this runner does not run are dropped. */
  private relay(socket: LinkSocket, boardId: string, pieces: StreamFrame[]): Promise<void> {
    let handed: Promise<void> | undefined;
    // Checked in order; the room call is not waited for here, so the next frame's check goes on.
    const checked = this.inOrder(boardId, async () => {
      const refused = new Set<string>();
      for (const sessionId of new Set(pieces.map((p) => p.sessionId))) {
        if (!(await this.mayStream(boardId, sessionId))) refused.add(sessionId);
      }
      if (refused.size) {
        refuse(socket, "This runner holds no active task of that session: its stream is not relayed.");
      }
      const allowed = refused.size ? pieces.filter((p) => !refused.has(p.sessionId)) : pieces;
      if (allowed.length) handed = this.toRoom(boardId, allowed);
    });
    return checked.then(() => handed);
  }

  /**
   * One call to a board's room at a time: what the runner sends while one is on its way goes
   * together in the next, so a slow moment in the room costs one late batch, not a queue of calls.
   * Resolves once these pieces were handed over.
   */
  private toRoom(boardId: string, pieces: StreamFrame[]): Promise<void> {
    const box = this.outbox.get(boardId) ?? { pieces: [], done: [], sending: false };
    this.outbox.set(boardId, box);
    box.pieces.push(...pieces);
    const handed = new Promise<void>((resolve) => box.done.push(resolve));
    if (!box.sending) void this.pump(boardId, box);
    return handed;
  }

  private async pump(boardId: string, box: Outbox): Promise<void> {
    box.sending = true;
    while (box.pieces.length) {
      const pieces = box.pieces.splice(0, MAX_ROOM_CALL_PIECES);
      const done = box.pieces.length ? [] : box.done.splice(0);
      try {
        await this.host.services.stream(boardId, pieces);
      } catch {
        // Best effort, like every room call: the pieces are lost, the stream goes on.
      }
      for (const resolve of done) resolve();
    }
    box.sending = false;
    this.outbox.delete(boardId);
  }

  /**
   * One board's pieces go to its room one after another, in the order the runner sent them: a frame
   * waiting on D1 (is this runner still on that session?) or on the room must not be overtaken by
   * the next one, or the room, which keeps only the newest `seq` of a message, would drop it.
   */
  private inOrder(boardId: string, work: () => Promise<void>): Promise<void> {
    const next = (this.relays.get(boardId) ?? Promise.resolve()).then(work);
    // A failure is its own frame's; the frames after it still go.
    const settled = next.catch(() => {});
    this.relays.set(boardId, settled);
    void settled.then(() => {
      if (this.relays.get(boardId) === settled) this.relays.delete(boardId);
    });
    return next;
  }

  /** Asked of D1 at most every few seconds per board: stream pieces come many times a second. */
  private async mayStream(boardId: string, sessionId: string): Promise<boolean> {
    const now = this.host.now();
    const key = `${boardId} ${sessionId}`;
    const known = this.worksOn.get(key);
    if (known && known.until > now) {
      // Past half its life, a "yes" is asked again beside the stream, so a session that keeps
      // streaming never has its pieces (and every piece behind them on the board) wait on D1.
      if (known.ok && !known.asking && known.until - now < WORKS_ON_TTL_MS / 2) {
        known.asking = true;
        this.ask(key, boardId, sessionId).catch(() => {
          known.asking = false;
        });
      }
      return known.ok;
    }
    return this.ask(key, boardId, sessionId);
  }

  private async ask(key: string, boardId: string, sessionId: string): Promise<boolean> {
    const ok = await this.host.services.worksOn(boardId, sessionId);
    // A refusal is remembered only briefly: the session's next task may start any moment.
    this.worksOn.set(key, { ok, until: this.host.now() + (ok ? WORKS_ON_TTL_MS : REFUSED_TTL_MS) });
    if (this.worksOn.size > 1000) this.worksOn.clear();
    return ok;
  }

  async closed(socket: LinkSocket): Promise<void> {
    if (this.open(socket.id).length === 0) {
      this.host.terminals?.runnerDown();
      await this.host.services.offline();
    }
    await this.schedule();
  }

  wake(): number {
    return this.send({ type: "wake", v: LINK_PROTOCOL });
  }

  cancel(jobId: string): number {
    return this.send({ type: "cancel", v: LINK_PROTOCOL, jobId });
  }

  /** Revocation: close every socket; the runner must not come back with this credential. */
  hangUp(code: number, reason: string): void {
    for (const s of this.open()) hangUp(s, code, reason);
  }

  connectionCount(): number {
    return this.open().length;
  }

  /** A lease was granted that ends at `expiresAt`: make sure the alarm looks then. */
  async watchLease(expiresAt: number): Promise<void> {
    const current = await this.host.leaseCheck.get();
    if (current === undefined || expiresAt < current) await this.host.leaseCheck.set(expiresAt);
    await this.schedule();
  }

  async schedule(): Promise<void> {
    const now = this.host.now();
    const sweeping = this.open().length > 0 || !!this.host.terminals?.active();
    const due = [await this.host.leaseCheck.get(), sweeping ? now + SWEEP_MS : undefined].filter(
      (t): t is number => t !== undefined,
    );
    if (due.length === 0) return this.host.alarm.clear();
    const want = Math.max(Math.min(...due), now + 50);
    const current = await this.host.alarm.get();
    if (current === null || current > want || current < now) await this.host.alarm.set(want);
  }

  async alarm(): Promise<void> {
    const now = this.host.now();
    if (this.open().length && !(await this.host.services.registered())) {
      this.hangUp(LINK_CLOSE.revoked, "runner revoked");
    }
    let closed = false;
    for (const s of this.open()) {
      if (isStale(this.host.lastPingAt(s), s.state?.connectedAt ?? 0, now)) {
        s.close(LINK_CLOSE.stale, "no ping");
        closed = true;
      }
    }
    if (closed && this.open().length === 0) {
      this.host.terminals?.runnerDown();
      await this.host.services.offline();
    }
    await this.host.terminals?.sweep();
    if ((await this.host.leaseCheck.get()) !== undefined) {
      const next = await this.host.services.sweepLeases();
      await this.host.leaseCheck.set(next ?? undefined);
    }
    await this.schedule();
  }
}

/** Say why, then close: the message gets there even where the close frame lags behind. */
function hangUp(s: LinkSocket, code: number, reason: string) {
  try {
    s.send(JSON.stringify({ type: "closing", v: LINK_PROTOCOL, code, reason } satisfies LinkMessage));
  } catch {
    // Already closing: the close below is all there is to say.
  }
  s.close(code, reason);
}

/** A bad frame is answered on its socket, with why; the link stays up. */
function refuse(s: LinkSocket, message: string) {
  try {
    s.send(JSON.stringify({ type: "refused", v: LINK_PROTOCOL, message } satisfies LinkMessage));
  } catch {
    // Closing anyway.
  }
}
