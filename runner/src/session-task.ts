import { setTimeout as sleep } from "node:timers/promises";
import type {
  DecisionRecord,
  JobPayload,
  LinkMessage,
  PermissionMode,
  Runtime,
  SessionEvent,
  StreamFrame,
} from "../../protocol/index.ts";
import { TRELLIS_MCP_NAME, UNSANDBOXED_TOOL } from "../../protocol/index.ts";
import type { AgentSink, PermissionAnswer, PermissionAsk } from "./agent/index.ts";
import { gateMcpReach } from "./agent/mcp-reach.ts";
import type { ShellSandbox } from "./agent/sandbox.ts";
import { type Edge, isStaleLease, isTransient } from "./edge.ts";
import { backoff, type FrameBody } from "./link.ts";
import type { RuntimeTask } from "./runtimes/common.ts";
import { StreamWindow } from "./stream-window.ts";

/**
 * One `session.task` job on this runner: fetch the task's context from the edge, run the agent,
 * and carry what it reports where it belongs. Text being written goes up the link as stream
 * frames (coalesced in one window per runner, never stored); finished messages, state, permission requests and spawns go
 * to the edge as job events (in order, each exactly once); permission decisions and mode changes
 * come back down the link.
 */

/** Posting an event is retried this many times while the edge is unreachable. */
const MAX_EVENT_ATTEMPTS = 10;

type Decided = Extract<LinkMessage, { type: "permission" }>;

interface Live {
  leaseToken: string;
  mode: PermissionMode;
  waiting: Map<string, { tool: string; personOnly: boolean; resolve: (a: PermissionAnswer) => void }>;
  onMode: (mode: PermissionMode) => void;
}

export interface SessionHost {
  edge: Edge;
  /** A frame up the link; false when it is down (a stream piece is then simply lost). */
  send(frame: FrameBody): boolean;
  env: Record<string, string | undefined>;
  /** The OS sandbox for the agents' shell commands, found when the runner started. */
  sandbox: ShellSandbox;
}

/** Tools a mode lets run without asking: a request still waiting when the mode widens is let through. */
const EDITS = new Set(["write_file", "edit_file", "Write", "Edit", "MultiEdit", "NotebookEdit"]);
/** Running without a sandbox is a person's answer in any mode: no mode change gives it. */
const allowedBy = (mode: PermissionMode, tool: string) =>
  tool !== UNSANDBOXED_TOOL && (mode === "full" || (mode === "auto-edit" && EDITS.has(tool)));

export class SessionTasks {
  private readonly live = new Map<string, Live>();
  private readonly host: SessionHost;
  /** One coalescing window for every task this runner runs. */
  private readonly window: StreamWindow;

  constructor(host: SessionHost) {
    this.host = host;
    this.window = new StreamWindow((frame) => host.send(frame));
  }

  /** Link frames for running tasks: a person's decision, or a new permission mode. */
  onLink(msg: LinkMessage): void {
    if (msg.type === "permission") this.decided(msg);
    else if (msg.type === "mode") this.live.get(msg.jobId)?.onMode(msg.permissionMode);
  }

  private decided(msg: Decided): void {
    const { type: _t, v: _v, jobId, requestId, ...record } = msg;
    this.answer(jobId, requestId, record);
  }

  private answer(jobId: string, requestId: string, record: DecisionRecord): void {
    const w = this.live.get(jobId)?.waiting.get(requestId);
    if (!w || record.decision === "mode") return;
    w.resolve({ decision: record.decision, ...(record.reason ? { reason: record.reason } : {}), record });
  }

  /**
   * The link is back: an answer sent while it was down never arrived, so ask the edge for the
   * answers of every task that is still waiting on a person.
   */
  resync(): void {
    for (const [jobId, live] of this.live) {
      if (live.waiting.size === 0) continue;
      this.host.edge.taskDecisions(jobId, live.leaseToken).then(
        ({ decisions }) => {
          for (const [requestId, record] of Object.entries(decisions)) this.answer(jobId, requestId, record);
        },
        () => {}, // the next reconnect asks again; a stop still ends the wait
      );
    }
  }

  async run(
    job: { id: string; leaseToken: string; boardId: string },
    payload: JobPayload<"session.task">,
    signal: AbortSignal,
  ): Promise<{ finalText: string }> {
    const { edge } = this.host;
    const ctx = await edge.taskContext(job.id, job.leaseToken);
    const { session } = ctx;
    const events = new EventPoster(edge, job.id, job.leaseToken);
    const stream = new TaskStream(this.window, job.boardId, payload.sessionId);
    const live: Live = {
      leaseToken: job.leaseToken,
      mode: session.permissionMode,
      waiting: new Map(),
      onMode: () => {},
    };
    live.onMode = (mode) => {
      live.mode = mode;
      // A request the new mode allows (or forbids) is settled now, without waiting for a person.
      for (const [requestId, w] of live.waiting) {
        if (mode === "read-only" || (allowedBy(mode, w.tool) && !w.personOnly)) {
          const record: DecisionRecord = { decision: "mode", byUserId: null, byName: null, at: Date.now() };
          w.resolve(
            mode === "read-only"
              ? { decision: "deny", reason: "the session was made read-only", record }
              : { decision: "allow", record },
          );
          void events.post({ kind: "permission_resolved", data: { requestId } }).catch(() => {});
        }
      }
    };
    this.live.set(job.id, live);
    /** Messages whose post is on its way: their stream ends once they are stored. */
    const storing = new Map<string, Promise<void>>();
    const sink: AgentSink = {
      delta: (messageId, part, text) => stream.delta(messageId, part, text),
      // The stored message first, then the stream's end: a watcher never loses the text between.
      endStream: (messageId) => {
        const stored = storing.get(messageId);
        if (!stored) return stream.end(messageId);
        const end = () => stream.end(messageId);
        stored.then(end, end);
      },
      // The pieces still gathering go up first: a watcher must never get text of a message after
      // the stored message itself (the post takes the shorter way to the room often enough).
      message: (m) => {
        stream.flush(m.id);
        const stored = events.post({ kind: "message", data: m });
        storing.set(m.id, stored);
        const settled = () => storing.delete(m.id);
        stored.then(settled, settled);
        return events.ahead(stored);
      },
      state: (s) => events.report({ kind: "state", data: s }),
      spawn: (s) => events.report({ kind: "spawn", data: s }),
      askPermission: (req: PermissionAsk, sig: AbortSignal) =>
        new Promise<PermissionAnswer>((resolve, reject) => {
          const done = () => {
            live.waiting.delete(req.requestId);
            sig.removeEventListener("abort", onAbort);
          };
          const onAbort = () => {
            done();
            reject(sig.reason ?? new Error("stopped"));
          };
          if (sig.aborted) return onAbort();
          sig.addEventListener("abort", onAbort, { once: true });
          const { personOnly, ...ask } = req;
          live.waiting.set(req.requestId, {
            tool: req.tool,
            personOnly: personOnly === true,
            resolve: (a) => {
              done();
              resolve(a);
            },
          });
          events.post({ kind: "permission", data: ask }).catch((err) => {
            done();
            reject(err);
          });
        }),
    };
    try {
      // Loaded with the first task: an idle runner never pays for the SDKs.
      const run = await runnerFor(session.runtime);
      const reach = await gateMcpReach(ctx.mcpServers, { boardLocal: this.host.env.TRELLIS_MCP_BOARD_LOCAL === "1" });
      const result = await run({
        runtimeSessionId: ctx.runtimeSessionId ?? null,
        runtimeTotals: ctx.runtimeTotals ?? null,
        runtimeFork: ctx.runtimeFork ?? null,
        onRuntimeSession: (runtimeSessionId, totals) =>
          events.report({ kind: "runtime_session", data: { runtimeSessionId, ...(totals ? { totals } : {}) } }),
        sessionId: session.id,
        provider: session.provider,
        model: session.model,
        baseUrl: session.baseUrl,
        history: ctx.history,
        worktreePath: ctx.worktreePath,
        permissionMode: () => live.mode,
        allowedTools: new Set(session.allowedTools),
        approvers: new Map(Object.entries(session.allowedBy ?? {})),
        env: this.host.env,
        ...(ctx.secrets ? { secrets: ctx.secrets } : {}),
        sandbox: this.host.sandbox,
        // An edge from before the sandbox sends none: the network stays off.
        allowedHosts: session.allowedHosts ?? [],
        mcp: {
          // Trellis's own /mcp first, with the session's token as a header (never in the URL).
          servers: [
            {
              id: TRELLIS_MCP_NAME,
              name: TRELLIS_MCP_NAME,
              transport: "http",
              url: ctx.mcp.url,
              headers: { authorization: `Bearer ${ctx.mcp.token}` },
              byRunnerOwner: true,
            },
            ...reach.servers,
          ],
          refused: [...ctx.mcpRefused, ...reach.refused],
        },
        signal,
        sink,
      });
      await events.drain();
      return result;
    } catch (err) {
      // What the agent reported before it ended is stored before its job ends (a stop's partial text too).
      await events.drain().catch(() => {});
      throw err;
    } finally {
      stream.close();
      this.live.delete(job.id);
    }
  }
}

/** What runs a session's agent: the built-in loop, or an SDK runtime (each loaded only when used). */
async function runnerFor(
  runtime: Runtime | undefined,
): Promise<(input: RuntimeTask) => Promise<{ finalText: string }>> {
  if (runtime === "claude-code") return (await import("./runtimes/claude-code.ts")).runClaudeCode;
  if (runtime === "codex") return (await import("./runtimes/codex.ts")).runCodex;
  return (await import("./agent/index.ts")).runTask;
}

/**
 * Events waiting behind the post in flight go up together, up to this many in one post. Each is a
 * few D1 statements and a room publish at the edge, and D1 counts every statement of a batch
 * against a Worker invocation's queries (50 on the free plan): ten keeps a post well inside.
 */
const MAX_BATCH_EVENTS = 10;
/** Kept well under the edge's body limit (256 KiB); a bigger single event goes alone, as it is. */
const MAX_BATCH_BYTES = 192 * 1024;
/** The agent may run this far ahead of the edge before it waits for its events to be stored. */
const MAX_BEHIND = 200;

interface Queued {
  seq: number;
  e: SessionEvent;
  bytes: number;
  stored: { resolve: () => void; reject: (err: unknown) => void };
}

/**
 * Job events, in order, each exactly once: one post in flight at a time, and whatever the agent
 * reported meanwhile goes up together in the next (the edge applies a post's events in one batch).
 * The agent does not wait for the edge between steps: a tool loop of fifty quick calls would
 * otherwise spend most of its time on round trips. A post that fails for good (a stale lease, an
 * edge that refuses it) fails everything after it, and the agent's next report throws it; the task
 * ends only once every event is stored (`drain`).
 */
class EventPoster {
  private seq = 0;
  private queue: Queued[] = [];
  private sending = false;
  private failure: { err: unknown } | null = null;
  private idle: (() => void)[] = [];

  private readonly edge: Edge;
  private readonly jobId: string;
  private readonly leaseToken: string;

  constructor(edge: Edge, jobId: string, leaseToken: string) {
    this.edge = edge;
    this.jobId = jobId;
    this.leaseToken = leaseToken;
  }

  /** Resolves once the event is stored at the edge. */
  post(e: SessionEvent): Promise<void> {
    if (this.failure) return Promise.reject(this.failure.err);
    return new Promise<void>((resolve, reject) => {
      const bytes = Buffer.byteLength(JSON.stringify(e.data));
      this.queue.push({ seq: ++this.seq, e, bytes, stored: { resolve, reject } });
      if (!this.sending) void this.pump();
    });
  }

  /**
   * Queue the event and go on: resolves at once unless an earlier post failed for good (then it
   * rejects with why) or the agent is `MAX_BEHIND` events ahead (then once the edge caught up).
   */
  report(e: SessionEvent): Promise<void> {
    return this.ahead(this.post(e));
  }

  /** What `report` answers for an event already posted (`stored` is its `post`). */
  ahead(stored: Promise<void>): Promise<void> {
    stored.catch(() => {}); // seen by the next report, and by drain
    if (this.failure) return Promise.reject(this.failure.err);
    return this.queue.length > MAX_BEHIND ? stored : Promise.resolve();
  }

  /** Every event posted is stored (or the reason one could not be). */
  async drain(): Promise<void> {
    if (this.sending || this.queue.length) await new Promise<void>((r) => this.idle.push(r));
    if (this.failure) throw this.failure.err;
  }

  private async pump(): Promise<void> {
    this.sending = true;
    while (this.queue.length && !this.failure) {
      let bytes = 0;
      let n = 0;
      while (
        n < this.queue.length &&
        n < MAX_BATCH_EVENTS &&
        (n === 0 || bytes + this.queue[n]!.bytes <= MAX_BATCH_BYTES)
      ) {
        bytes += this.queue[n]!.bytes;
        n++;
      }
      const batch = this.queue.slice(0, n);
      try {
        await this.send(batch);
        this.queue.splice(0, n);
        for (const q of batch) q.stored.resolve();
      } catch (err) {
        // The edge refuses a whole post for one bad event: the good ones before it go one by one.
        const fails = batch.length > 1 && !isStaleLease(err) ? await this.oneByOne(batch) : err;
        if (fails === null) continue;
        this.failure = { err: fails };
        for (const q of this.queue.splice(0)) q.stored.reject(fails);
      }
    }
    this.sending = false;
    for (const r of this.idle.splice(0)) r();
  }

  /** Each event of a refused batch on its own; the first that fails for good, or null. */
  private async oneByOne(batch: Queued[]): Promise<unknown> {
    for (const q of batch) {
      try {
        await this.send([q]);
      } catch (err) {
        return err;
      }
      this.queue.shift();
      q.stored.resolve();
    }
    return null;
  }

  private async send(batch: Queued[]): Promise<void> {
    const events = batch.map((q) => ({ seq: q.seq, kind: q.e.kind, data: q.e.data as Record<string, unknown> }));
    for (let attempt = 0; ; attempt++) {
      try {
        // The edge skips events it applied already: a retried post never doubles anything.
        await this.edge.events(this.jobId, { leaseToken: this.leaseToken, events });
        return;
      } catch (err) {
        if (isStaleLease(err) || !isTransient(err) || attempt + 1 >= MAX_EVENT_ATTEMPTS) throw err;
        await sleep(backoff(attempt));
      }
    }
  }
}

/** One task's view of the runner's stream window: which of its messages are still open. */
class TaskStream {
  private readonly ids = new Set<string>();
  private readonly window: StreamWindow;
  private readonly boardId: string;
  private readonly sessionId: string;

  constructor(window: StreamWindow, boardId: string, sessionId: string) {
    this.window = window;
    this.boardId = boardId;
    this.sessionId = sessionId;
  }

  delta(messageId: string, part: StreamFrame["part"], text: string): void {
    this.ids.add(messageId);
    this.window.delta(this.boardId, this.sessionId, messageId, part, text);
  }

  flush(messageId: string): void {
    this.window.flushMessage(messageId);
  }

  end(messageId: string): void {
    this.ids.delete(messageId);
    this.window.end(messageId);
  }

  close(): void {
    for (const id of this.ids) this.window.end(id);
    this.ids.clear();
  }
}
