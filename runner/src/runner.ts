import { setTimeout as sleep } from "node:timers/promises";
import type { z } from "zod";
import {
  type CompleteJobBody,
  IDEMPOTENT_JOBS,
  JOB_HEARTBEAT_MS,
  type JobClaim,
  type JobType,
  type RunnerInfo,
} from "../../protocol/index.ts";
import { ShellSandbox } from "./agent/sandbox.ts";
import { type Edge, isBadResult, isRefused, isStaleLease, isTransient } from "./edge.ts";
import { JobFailure } from "./failure.ts";
import { KNOWN_JOB_TYPES, runJob } from "./jobs.ts";
import { backoff, Link } from "./link.ts";
import { KeyedLock } from "./locks.ts";
import { firstLine, log } from "./log.ts";
import { SessionTasks } from "./session-task.ts";
import type { LocalState } from "./state.ts";
import { type TerminalMessage, Terminals } from "./terminals.ts";
import { GitWatcher } from "./watch.ts";

export interface RunnerOptions {
  edge: Edge;
  info: RunnerInfo;
  name: string;
  dataDir: string;
  state: LocalState;
  /** Jobs run at once. */
  concurrency?: number;
  /** How long Ctrl-C waits for running jobs before stopping them and handing them back. */
  graceMs?: number;
  /** A slow claim in case a wake was lost; pickup itself never waits for it. */
  safetyPollMs?: number;
  /**
   * Log every job's start and end. Off by default: a busy board claims many jobs a minute, and
   * `npm start` shares its terminal with the edge; failures and connection changes always show.
   */
  verbose?: boolean;
  /** Watch worktrees and report git state as it changes (default on). */
  watch?: boolean;
  /** Terminals: this runner's id (it tags its tmux sessions) and its credential (kept out of every shell). */
  runnerId?: string;
  credential?: string;
  /** The OS sandbox for agents' shell commands (default: none, as the runner's owner chose). */
  sandbox?: ShellSandbox;
}

type Outcome =
  z.input<typeof CompleteJobBody> extends infer B ? (B extends unknown ? Omit<B, "leaseToken"> : never) : never;

interface Running {
  claim: JobClaim;
  label: string;
  ac: AbortController;
  /** Why the job is being stopped, if it is: decides what the runner reports. */
  stop: null | "cancel" | "stale" | "drain" | "fatal";
  done: Promise<void>;
}

/** About a minute of retries: past that the lease has run out and the edge has moved on anyway. */
const MAX_COMPLETE_ATTEMPTS = 12;
/** While stopping, do not hold the exit up for long on an unreachable edge. */
const MAX_COMPLETE_ATTEMPTS_DRAINING = 3;
const CLAIM_RETRY_MS = 2000;

/**
 * The runner's loop: on connect and on every wake, claim jobs until there are none (or enough are
 * running), run each with a heartbeat, and report how it ended. Stops by draining.
 */
export class Runner {
  private readonly o: Required<RunnerOptions>;
  private readonly link: Link;
  private readonly watcher: GitWatcher | null;
  private readonly terminals: Terminals;
  private readonly locks = new KeyedLock();
  private readonly sessions: SessionTasks;
  private readonly running = new Map<string, Running>();
  private pumping = false;
  private pumpAgain = false;
  /** A wake or a full house since the last empty claim: there may be work waiting. */
  private mayHaveMore = false;
  private draining = false;
  private pollTimer: NodeJS.Timeout | undefined;
  private claimRetry: NodeJS.Timeout | undefined;
  private finished!: (code: number) => void;
  readonly exited: Promise<number>;

  constructor(opts: RunnerOptions) {
    this.o = {
      concurrency: 4,
      graceMs: 30_000,
      safetyPollMs: 30_000,
      verbose: false,
      watch: true,
      runnerId: "",
      credential: "",
      sandbox: ShellSandbox.off("the runner was started without one"),
      ...opts,
    };
    this.terminals = new Terminals({
      dataDir: this.o.dataDir,
      runnerId: this.o.runnerId,
      secrets: [this.o.credential],
      send: (frame) => this.link.send(frame),
      sendOutput: (frame) => this.link.sendBinary(frame),
      buffered: () => this.link.bufferedAmount,
    });
    this.watcher = this.o.watch
      ? new GitWatcher({
          dataDir: this.o.dataDir,
          state: this.o.state,
          sink: { list: () => this.o.edge.worktrees(), report: (r) => this.o.edge.reportGit(r) },
        })
      : null;
    this.exited = new Promise((r) => (this.finished = r));
    this.sessions = new SessionTasks({
      edge: this.o.edge,
      send: (frame) => this.link.send(frame),
      env: process.env,
      sandbox: this.o.sandbox,
    });
    this.link = new Link({
      target: () => this.o.edge.link(this.o.info),
      onOpen: () => {
        log(`connected to ${this.o.edge.url} as "${this.o.name}"`);
        this.wake();
        void this.watcher?.sync();
        this.sessions.resync();
        void this.terminals.linkUp();
      },
      onMessage: (msg) => {
        if (msg.type === "wake") this.wake();
        else if (msg.type === "cancel") this.cancel(msg.jobId);
        else if (msg.type === "permission" || msg.type === "mode") this.sessions.onLink(msg);
        else if (msg.type === "refused") log(`the edge did not take a frame from this runner: ${msg.message}`);
        else if (msg.type.startsWith("term.")) this.terminals.handle(msg as TerminalMessage);
      },
      onDown: (why, retryInMs) => {
        this.terminals.linkDown();
        log(`${why}: reconnecting in ${(retryInMs / 1000).toFixed(1)} s`);
      },
      onFatal: (why) => this.fatal(why),
      isRefused: async () => {
        try {
          await this.o.edge.me();
          return false;
        } catch (err) {
          return isRefused(err);
        }
      },
    });
  }

  start(): Promise<number> {
    log(`connecting to ${this.o.edge.url} (data in ${this.o.dataDir})`);
    this.link.start();
    this.pollTimer = setInterval(() => this.wake(), this.o.safetyPollMs);
    return this.exited;
  }

  get activeJobs(): number {
    return this.running.size;
  }

  private wake(): void {
    this.mayHaveMore = true;
    void this.pump();
  }

  /** Claim until the edge has nothing for us or we are full. One pump at a time. */
  private async pump(): Promise<void> {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        while (!this.draining && this.running.size < this.o.concurrency) {
          let claim: JobClaim | null;
          try {
            claim = await this.o.edge.claim(KNOWN_JOB_TYPES);
          } catch (err) {
            if (isRefused(err)) return this.fatal("refused");
            log(`claim failed: ${firstLine(err)}; trying again shortly`);
            clearTimeout(this.claimRetry);
            this.claimRetry = setTimeout(() => this.wake(), CLAIM_RETRY_MS);
            return;
          }
          if (!claim) {
            this.mayHaveMore = false;
            break;
          }
          this.execute(claim);
          if (!claim.more) {
            this.mayHaveMore = false;
            break;
          }
        }
      } while (this.pumpAgain && !this.draining && this.running.size < this.o.concurrency);
    } finally {
      this.pumping = false;
    }
  }

  private execute(claim: JobClaim): void {
    const r: Running = {
      claim,
      label: `job ${claim.job.id} ${claim.job.type}`,
      ac: new AbortController(),
      stop: null,
      done: Promise.resolve(),
    };
    this.running.set(claim.job.id, r);
    r.done = this.work(r)
      .catch((err) => log(`${r.label}: ${firstLine(err)}`))
      .finally(() => {
        this.running.delete(claim.job.id);
        // Worktrees and repos come and go with these jobs: watch what is there now.
        if (/^(worktree|repo)\./.test(claim.job.type) && !this.draining) void this.watcher?.sync();
        if (this.mayHaveMore) void this.pump();
      });
  }

  private async work(r: Running): Promise<void> {
    const { job, leaseToken } = r.claim;
    if (this.draining) {
      await this.report(r, { status: "released" });
      return;
    }
    // The claim is the go-ahead: the work begins now, and telling the edge it is running happens
    // alongside rather than in front of it (a round trip off every job's pickup). Its answer can
    // still stop the job: a cancel that came in meanwhile, or a lease that is somehow not ours.
    const started = this.o.edge.start(job.id, leaseToken).then(
      (s) => {
        if (s.cancelRequested) this.cancel(job.id);
      },
      (err) => {
        if (isRefused(err)) return this.fatal("refused");
        if (isStaleLease(err)) return this.abandon(r, err);
        // The edge still shows it claimed; completing from "claimed" is allowed, so carry on.
        log(`${r.label}: could not mark it running (${firstLine(err)}); carrying on`);
      },
    );
    const t0 = Date.now();
    let outcome: Outcome;
    if (this.o.verbose) log(`${r.label} started`);
    const heartbeat = setInterval(() => void this.heartbeat(r), JOB_HEARTBEAT_MS);
    try {
      const result = await runJob(job.type, job.payload, {
        dataDir: this.o.dataDir,
        state: this.o.state,
        locks: this.locks,
        signal: r.ac.signal,
        job: { id: job.id, leaseToken, boardId: job.boardId },
        sessions: this.sessions,
      });
      outcome = { status: "succeeded", result };
    } catch (err) {
      // Set by cancel(), heartbeat() or drain() while the job ran.
      const stop = r.stop as Running["stop"];
      if (stop === "stale" || stop === "fatal") return log(`${r.label}: stopped, no longer ours`);
      if (stop === "cancel") outcome = { status: "cancelled" };
      else if (stop === "drain") {
        outcome = IDEMPOTENT_JOBS.has(job.type as JobType)
          ? { status: "released" }
          : { status: "failed", error: "the runner was stopped while this job ran" };
      } else {
        const error = (err instanceof Error ? err.message : String(err)).slice(0, 20_000);
        outcome =
          err instanceof JobFailure
            ? { status: "failed", error, ...(err.code ? { code: err.code } : {}), detail: err.detail }
            : { status: "failed", error };
      }
    } finally {
      clearInterval(heartbeat);
    }
    // The start's write must land before the outcome's, and may have found the job not ours.
    await started;
    if (r.stop === "stale" || r.stop === "fatal") return;
    if ((await this.report(r, outcome)) && (this.o.verbose || outcome.status === "failed")) {
      const took = `${Date.now() - t0} ms`;
      log(
        `${r.label} ${outcome.status} in ${took}${outcome.status === "failed" ? `: ${firstLine(outcome.error)}` : ""}`,
      );
    }
  }

  private async heartbeat(r: Running): Promise<void> {
    if (r.stop) return;
    try {
      const hb = await this.o.edge.heartbeat(r.claim.job.id, r.claim.leaseToken);
      if (hb.cancelRequested) this.cancel(r.claim.job.id);
    } catch (err) {
      if (isRefused(err)) return this.fatal("refused");
      if (isStaleLease(err)) this.abandon(r, err);
      // Anything else: the lease outlives a missed beat or two; the next one may get through.
    }
  }

  /** Someone else holds the job now (or it ended): stop touching it, and never report on it. */
  private abandon(r: Running, err: unknown): void {
    if (r.stop === "stale") return;
    log(`${r.label}: lease lost (${firstLine(err)}); abandoning it`);
    r.stop = "stale";
    r.ac.abort(new Error("lease lost"));
  }

  /** Report how a job ended. Retried while the edge is unreachable; the edge makes repeats harmless. */
  private async report(r: Running, outcome: Outcome): Promise<boolean> {
    const { job, leaseToken } = r.claim;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.o.edge.complete(job.id, { ...outcome, leaseToken } as z.input<typeof CompleteJobBody>);
        return true;
      } catch (err) {
        if (isRefused(err)) {
          this.fatal("refused");
          return false;
        }
        if (isStaleLease(err)) {
          log(`${r.label}: no longer ours (${firstLine(err)}); result dropped`);
          return false;
        }
        if (outcome.status === "succeeded" && isBadResult(err)) {
          // A result the edge will not take would only be retried into the same wall: fail it clearly.
          outcome = { status: "failed", error: `the edge refused this runner's result: ${err.message}` };
          continue;
        }
        const max = this.draining ? MAX_COMPLETE_ATTEMPTS_DRAINING : MAX_COMPLETE_ATTEMPTS;
        if (!isTransient(err) || attempt + 1 >= max) {
          log(`${r.label}: could not report ${outcome.status}: ${firstLine(err)}`);
          return false;
        }
        await sleep(backoff(attempt));
      }
    }
  }

  cancel(jobId: string): void {
    const r = this.running.get(jobId);
    if (!r || r.stop) return;
    log(`${r.label} cancel requested: stopping it`);
    r.stop = "cancel";
    r.ac.abort(new Error("cancelled"));
  }

  /**
   * Ctrl-C: claim nothing more, let running jobs finish for up to the grace period, then stop them
   * and hand the idempotent ones back. A second call stops them at once.
   */
  async drain(exitCode = 0): Promise<void> {
    if (this.draining) {
      log("stopping running jobs now");
      this.stopRunning("drain");
      return;
    }
    this.draining = true;
    clearInterval(this.pollTimer);
    clearTimeout(this.claimRetry);
    const n = this.running.size;
    if (n > 0) {
      log(
        `draining: waiting up to ${Math.round(this.o.graceMs / 1000)} s for ${n} running job(s); Ctrl-C again to stop them now`,
      );
    }
    const grace = setTimeout(() => this.stopRunning("drain"), this.o.graceMs);
    await this.settled();
    clearTimeout(grace);
    this.watcher?.close();
    this.terminals.close();
    this.link.stop();
    log("stopped");
    this.finished(exitCode);
  }

  private stopRunning(why: "drain" | "fatal"): void {
    for (const r of this.running.values()) {
      if (r.stop) continue;
      r.stop = why;
      r.ac.abort(new Error(why === "drain" ? "runner stopping" : "runner refused"));
    }
  }

  private async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running.values()].map((r) => r.done));
  }

  private fatalReason: string | null = null;

  /** The edge will not have us (revoked), or another process took over: stop, with exit code 1. */
  private fatal(why: "revoked" | "replaced" | "refused" | "outdated"): void {
    if (this.fatalReason) return;
    this.fatalReason = why;
    log(
      {
        revoked: "this runner was revoked by its owner: register it again to use this machine",
        refused: "the edge refused this runner's credential (revoked or unknown): register it again",
        replaced: "another trellis-runner process connected with this runner's credential: this one stops",
        outdated: "this runner and the edge speak different link protocols: update trellis-runner (or the edge)",
      }[why],
    );
    if (why === "replaced") {
      // The credential still works: finish or hand back what we hold, as on Ctrl-C.
      void this.drain(1);
      return;
    }
    // Refused: nothing we report would be accepted, so stop at once; the leases run out on the edge.
    this.draining = true;
    clearInterval(this.pollTimer);
    clearTimeout(this.claimRetry);
    this.stopRunning("fatal");
    this.watcher?.close();
    this.terminals.close();
    this.link.stop();
    void this.settled().then(() => this.finished(1));
  }
}
