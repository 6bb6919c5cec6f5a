import { z } from "zod";
import { Text } from "./common.ts";
import { RepoSource } from "./repos.ts";
import { TaskResult } from "./sessions.ts";
import { GitState } from "./worktrees.ts";

export const JobStatus = z.enum(["queued", "claimed", "running", "succeeded", "failed", "cancelled"]);

/**
 * The job table: everything about a job type, in one place. `payload` is what the edge sends,
 * `result` what the runner reports on success; `onLeaseLost` is what happens to a job whose
 * runner vanished mid-way: `retry` puts it back in the queue (the work is idempotent: the runner
 * finishes or redoes it harmlessly), `fail` fails it "runner lost". A new type is an entry here;
 * the edge's map of effects (worker/services/jobs.ts) and the runner's map of handlers
 * (runner/src/jobs.ts) are typed by it, so one that forgets its entry does not compile.
 */
export const JOBS = {
  /** A no-op, for measuring pickup latency end to end. */
  ping: {
    payload: z.object({}),
    /** `startedAt`: the runner's clock (ms) when it began the job. */
    result: z.object({ startedAt: z.number().int().nonnegative().optional() }),
    onLeaseLost: "retry",
  },
  "repo.add": {
    payload: z.object({ repoId: z.string(), name: z.string(), source: RepoSource }),
    result: z.object({ path: z.string(), defaultBranch: z.string(), branches: z.array(z.string()).max(500) }),
    onLeaseLost: "retry",
  },
  "repo.fetch": {
    payload: z.object({ repoId: z.string() }),
    result: z.object({ defaultBranch: z.string(), branches: z.array(z.string()).max(500) }),
    onLeaseLost: "retry",
  },
  /** Forget a repo the user removed; a clone in the data folder goes too, a folder used in place stays. */
  "repo.remove": {
    payload: z.object({ repoId: z.string() }),
    result: z.object({}),
    onLeaseLost: "retry",
  },
  "worktree.create": {
    payload: z.object({
      worktreeId: z.string(),
      repoId: z.string(),
      name: z.string(),
      mode: z.enum(["new", "existing"]),
      branch: z.string(),
      baseBranch: z.string().nullable(),
    }),
    /**
     * `createdBranch`: this job made the branch (a runner that does not say is taken to have made
     * none, so Trellis will never delete it). `branches`: the repo's branches afterwards.
     */
    result: z.object({
      path: z.string(),
      git: GitState,
      createdBranch: z.boolean().default(false),
      branches: z.array(z.string()).max(500).optional(),
    }),
    onLeaseLost: "retry",
  },
  "worktree.delete": {
    payload: z.object({
      worktreeId: z.string(),
      repoId: z.string(),
      name: z.string(),
      branch: z.string(),
      force: z.boolean(),
      /** Sent true only for a branch this card's create made. */
      deleteBranch: z.boolean(),
      deleteUnmerged: z.boolean().default(false),
      /** What "merged" is measured against (null: the repo's default branch). */
      baseBranch: z.string().nullable().default(null),
    }),
    result: z.object({ branches: z.array(z.string()).max(500).optional() }),
    onLeaseLost: "retry",
  },
  "worktree.refresh": {
    payload: z.object({
      worktreeId: z.string(),
      repoId: z.string(),
      name: z.string(),
      baseBranch: z.string().nullable(),
    }),
    result: z.object({ git: GitState }),
    onLeaseLost: "retry",
  },
  /**
   * One prompt of an agent session, run to its end (`protocol/sessions.ts`). Never retried: a
   * model call and its tools are not idempotent, so a task whose runner was lost fails with the
   * reason and the session takes its next prompt.
   */
  "session.task": {
    payload: z.object({ sessionId: z.string(), taskId: z.string(), worktreeId: z.string() }),
    result: TaskResult,
    onLeaseLost: "fail",
  },
} as const satisfies Record<string, JobKind>;

interface JobKind {
  payload: z.ZodType;
  result: z.ZodType;
  onLeaseLost: "retry" | "fail";
}

export type JobType = keyof typeof JOBS;
export const JOB_TYPES = Object.keys(JOBS) as JobType[];
export type JobPayload<T extends JobType> = z.infer<(typeof JOBS)[T]["payload"]>;
export type JobResult<T extends JobType> = z.infer<(typeof JOBS)[T]["result"]>;

const column = <K extends "payload" | "result">(k: K) =>
  Object.fromEntries(JOB_TYPES.map((t) => [t, JOBS[t][k]])) as { [T in JobType]: (typeof JOBS)[T][K] };
/** Each type's payload schema (a view of the table). */
export const JobPayloads = column("payload");
/** Each type's result schema (a view of the table). */
export const JobResults = column("result");
/** Types that go back in the queue when their runner is lost. */
export const IDEMPOTENT_JOBS: ReadonlySet<JobType> = new Set(JOB_TYPES.filter((t) => JOBS[t].onLeaseLost === "retry"));

/** `POST /api/runners/:runnerId/jobs`: only `ping` (a no-op, for benchmarks) may be queued directly. */
export const QueueJobBody = z.object({ type: z.literal("ping") });

const JobBase = z.object({
  id: z.string(),
  runnerId: z.string(),
  boardId: z.string().nullable(),
  status: JobStatus,
  attempts: z.number(),
  cancelRequested: z.boolean(),
  error: z.string().nullable(),
  createdAt: z.number(),
  updatedAt: z.number(),
});

/**
 * A job as it travels to the runner: its payload is checked there, per type, so a runner can fail
 * a malformed or unknown job in words instead of choking on the claim.
 */
export const JobRecord = JobBase.extend({
  type: z.string(),
  payload: z.record(z.string(), z.unknown()),
  result: z.record(z.string(), z.unknown()).nullable(),
});
export type JobRecord = z.infer<typeof JobRecord>;

const typedJob = <T extends JobType>(type: T) =>
  JobBase.extend({ type: z.literal(type), payload: JOBS[type].payload, result: z.nullable(JOBS[type].result) });
type TypedJob = { [T in JobType]: z.infer<ReturnType<typeof typedJob<T>>> }[JobType];

/** A job as the API and the board see it: typed by the table, so `job.type` narrows its payload and result. */
export const Job = z.discriminatedUnion(
  "type",
  JOB_TYPES.map(typedJob) as unknown as [ReturnType<typeof typedJob<"ping">>],
) as unknown as z.ZodType<TypedJob>;
export type Job = TypedJob;

/** `POST /runner/jobs/claim` with the job types this runner can run; none (an older runner) means every type. */
export const ClaimBody = z.object({ types: z.array(Text.max(60)).min(1).max(100).optional() });

/**
 * `POST /runner/jobs/claim` → 200 with a claim, or 204 when there is nothing to do. `more` says
 * whether another job was still queued when this one was claimed: when it is false the runner can
 * wait for the next wake instead of asking again only to hear 204.
 */
export const JobClaim = z.object({
  job: JobRecord,
  leaseToken: z.string(),
  leaseExpiresAt: z.number(),
  more: z.boolean().default(true),
});
export type JobClaim = z.infer<typeof JobClaim>;

/** How long a claim or heartbeat keeps a job; an expired lease is swept by the RunnerLink alarm. */
export const JOB_LEASE_MS = 30_000;
/** How often a runner should heartbeat a job it holds (a third of the lease). */
export const JOB_HEARTBEAT_MS = 10_000;

export const LeaseBody = z.object({ leaseToken: Text.min(1).max(200) });
/** Heartbeat answer: the new expiry, and whether the user asked to cancel. */
export const HeartbeatResult = z.object({ leaseExpiresAt: z.number(), cancelRequested: z.boolean() });
export type HeartbeatResult = z.infer<typeof HeartbeatResult>;

/** Progress events: `seq` starts at 1 and increases; a seq already applied is ignored. */
export const JobEventsBody = LeaseBody.extend({
  events: z
    .array(z.object({ seq: z.number().int().min(1), kind: Text.max(40), data: z.record(z.string(), z.unknown()) }))
    .min(1)
    .max(100),
});

/** Events with a seq at or below the last applied one are skipped (a retried post is harmless). */
export const JobEventsResult = z.object({ accepted: z.number().int(), lastSeq: z.number().int() });
export type JobEventsResult = z.infer<typeof JobEventsResult>;

/**
 * Completing twice with the same lease and status is a no-op 200. A `succeeded` result must match
 * `JobResults[type]` (400 otherwise, nothing changes).
 */
/** Failure codes a runner may attach to a failed job, for the board to offer the way out. */
export const JOB_FAILURE_CODES = [
  /** worktree.delete: the worktree has uncommitted changes (delete with force to discard them). */
  "uncommitted_changes",
  /** worktree.delete: the branch has commits not merged into its base (`detail.unmergedCommits`). */
  "branch_unmerged",
  /** worktree.delete: the branch was not made by this card's create, so it is never deleted. */
  "branch_not_ours",
  /** worktree.create (mode new): the branch is already there. */
  "branch_exists",
  /** worktree.refresh, or a runner's git report: the worktree folder is gone from disk. */
  "worktree_missing",
  /** repo.add: the same folder is already a repo on this runner. */
  "repo_duplicate",
] as const;
export const JobFailureCode = z.enum(JOB_FAILURE_CODES);
export type JobFailureCode = z.infer<typeof JobFailureCode>;

/** What the runner found on disk when a job failed: a card's status follows it. */
export const JobFailureDetail = z.object({
  /** worktree jobs: whether the worktree is on disk after the failure. */
  worktreeExists: z.boolean().optional(),
  unmergedCommits: z.number().int().nonnegative().optional(),
});
export type JobFailureDetail = z.infer<typeof JobFailureDetail>;

export const CompleteJobBody = z.discriminatedUnion("status", [
  LeaseBody.extend({ status: z.literal("succeeded"), result: z.record(z.string(), z.unknown()) }),
  LeaseBody.extend({
    status: z.literal("failed"),
    error: Text.max(20_000),
    code: JobFailureCode.optional(),
    detail: JobFailureDetail.optional(),
  }),
  /** The runner stopped the job because the user cancelled it. */
  LeaseBody.extend({ status: z.literal("cancelled") }),
  /** Ctrl-C drain: the runner hands an unstarted/interrupted idempotent job back to the queue. */
  LeaseBody.extend({ status: z.literal("released") }),
]);
