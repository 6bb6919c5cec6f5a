import { setTimeout as sleep } from "node:timers/promises";
import type {
  DecisionRecord,
  JobPayload,
  LinkMessage,
  PermissionMode,
  SessionEvent,
  StreamFrame,
} from "../../protocol/index.ts";
import type { AgentSink, PermissionAnswer, PermissionAsk } from "./agent/index.ts";
import { type Edge, isStaleLease, isTransient } from "./edge.ts";
import { backoff, type FrameBody } from "./link.ts";

/**
 * One `session.task` job on this runner: fetch the task's context from the edge, run the agent,
 * and carry what it reports where it belongs. Text being written goes up the link as stream
 * frames (coalesced, never stored); finished messages, state, permission requests and spawns go
 * to the edge as job events (in order, each exactly once); permission decisions and mode changes
 * come back down the link.
 */

/** Deltas are gathered this long before they go up the link: a few frames a second per message, not hundreds. */
const COALESCE_MS = 16;
/** Posting an event is retried this many times while the edge is unreachable. */
const MAX_EVENT_ATTEMPTS = 10;

type Decided = Extract<LinkMessage, { type: "permission" }>;

interface Live {
  leaseToken: string;
  mode: PermissionMode;
  waiting: Map<string, { tool: string; resolve: (a: PermissionAnswer) => void }>;
  onMode: (mode: PermissionMode) => void;
}

export interface SessionHost {
  edge: Edge;
  /** A frame up the link; false when it is down (a stream piece is then simply lost). */
  send(frame: FrameBody): boolean;
  env: Record<string, string | undefined>;
}

/** Tools a mode lets run without asking: a request still waiting when the mode widens is let through. */
const EDITS = new Set(["write_file", "edit_file"]);
const allowedBy = (mode: PermissionMode, tool: string) => mode === "full" || (mode === "auto-edit" && EDITS.has(tool));

export class SessionTasks {
  private readonly live = new Map<string, Live>();
  private readonly host: SessionHost;

  constructor(host: SessionHost) {
    this.host = host;
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
    const stream = new StreamSender(this.host, job.boardId, payload.sessionId);
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
        if (mode === "read-only" || allowedBy(mode, w.tool)) {
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
    const sink: AgentSink = {
      delta: (messageId, part, text) => stream.delta(messageId, part, text),
      endStream: (messageId) => stream.end(messageId),
      // The pieces still gathering go up first: a watcher must never get text of a message after
      // the stored message itself (the post takes the shorter way to the room often enough).
      message: (m) => {
        stream.flush();
        return events.post({ kind: "message", data: m });
      },
      state: (s) => events.post({ kind: "state", data: s }),
      spawn: (s) => events.post({ kind: "spawn", data: s }),
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
          live.waiting.set(req.requestId, {
            tool: req.tool,
            resolve: (a) => {
              done();
              resolve(a);
            },
          });
          events.post({ kind: "permission", data: req }).catch((err) => {
            done();
            reject(err);
          });
        }),
    };
    try {
      // Loaded with the first task: an idle runner never pays for the SDKs.
      const { runTask } = await import("./agent/index.ts");
      return await runTask({
        sessionId: session.id,
        provider: session.provider,
        model: session.model,
        baseUrl: session.baseUrl,
        history: ctx.history,
        worktreePath: ctx.worktreePath,
        permissionMode: () => live.mode,
        allowedTools: new Set(session.allowedTools),
        env: this.host.env,
        signal,
        sink,
      });
    } finally {
      stream.close();
      this.live.delete(job.id);
    }
  }
}

/** Job events, posted one at a time in order, retried while the edge is unreachable. */
class EventPoster {
  private seq = 0;
  private chain: Promise<void> = Promise.resolve();

  private readonly edge: Edge;
  private readonly jobId: string;
  private readonly leaseToken: string;

  constructor(edge: Edge, jobId: string, leaseToken: string) {
    this.edge = edge;
    this.jobId = jobId;
    this.leaseToken = leaseToken;
  }

  post(e: SessionEvent): Promise<void> {
    const seq = ++this.seq;
    const next = this.chain.then(() => this.send(seq, e));
    // One failure must not wedge the ones after it; the caller still sees its own.
    this.chain = next.catch(() => {});
    return next;
  }

  private async send(seq: number, e: SessionEvent): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.edge.events(this.jobId, {
          leaseToken: this.leaseToken,
          events: [{ seq, kind: e.kind, data: e.data as Record<string, unknown> }],
        });
        return;
      } catch (err) {
        if (isStaleLease(err) || !isTransient(err) || attempt + 1 >= MAX_EVENT_ATTEMPTS) throw err;
        await sleep(backoff(attempt));
      }
    }
  }
}

/** Stream pieces for one session, gathered per message part for a few ms and sent up the link. */
class StreamSender {
  private pending = new Map<string, { messageId: string; part: StreamFrame["part"]; text: string }>();
  private seqs = new Map<string, number>();
  private parts = new Map<string, Set<StreamFrame["part"]>>();
  private timer: NodeJS.Timeout | undefined;

  private readonly host: SessionHost;
  private readonly boardId: string;
  private readonly sessionId: string;

  constructor(host: SessionHost, boardId: string, sessionId: string) {
    this.host = host;
    this.boardId = boardId;
    this.sessionId = sessionId;
  }

  delta(messageId: string, part: StreamFrame["part"], text: string): void {
    if (!text) return;
    const key = `${messageId} ${part}`;
    const p = this.pending.get(key);
    if (p) p.text += text;
    else this.pending.set(key, { messageId, part, text });
    const seen = this.parts.get(messageId) ?? new Set();
    this.parts.set(messageId, seen.add(part));
    this.timer ??= setTimeout(() => this.flush(), COALESCE_MS);
  }

  end(messageId: string): void {
    this.flush();
    for (const part of this.parts.get(messageId) ?? []) this.frame(messageId, part, "", true);
    this.parts.delete(messageId);
    this.seqs.delete(messageId);
  }

  close(): void {
    for (const id of [...this.parts.keys()]) this.end(id);
    clearTimeout(this.timer);
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const p of this.pending.values()) {
      // A delta is capped at 64 KiB on the wire: a burst bigger than that goes in pieces.
      for (let i = 0; i < p.text.length; i += 60_000) this.frame(p.messageId, p.part, p.text.slice(i, i + 60_000));
    }
    this.pending.clear();
  }

  private frame(messageId: string, part: StreamFrame["part"], delta: string, done?: boolean): void {
    const seq = (this.seqs.get(messageId) ?? 0) + 1;
    this.seqs.set(messageId, seq);
    this.host.send({
      type: "stream",
      boardId: this.boardId,
      sessionId: this.sessionId,
      messageId,
      seq,
      part,
      delta,
      ...(done ? { done: true } : {}),
    });
  }
}
