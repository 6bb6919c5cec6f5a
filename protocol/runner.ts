import { z } from "zod";
import { HttpUrl, Name, Text } from "./common.ts";

/**
 * The runner protocol (`/runner/*`, runner credential as `Authorization: Bearer trl_run_…`) and
 * the user-facing runner, repo, worktree and job shapes. The runner only dials out: it claims jobs
 * over HTTPS and holds one WebSocket to its RunnerLink, over which the edge wakes it.
 *
 * Runner API (all JSON; errors are `{ error: { code, message } }`):
 * - `POST /runner/register` `RegisterRunnerBody` → 201 `RegisterRunnerResult` (no credential yet).
 * - `GET  /runner/me` → `Runner` (who this credential is).
 * - `GET  /runner/link?info=<url-encoded JSON RunnerInfo>&v=LINK_PROTOCOL` WebSocket upgrade (`protocol/link.ts`).
 * - `POST /runner/jobs/claim` → 200 `JobClaim`, or 204 when nothing is queued for this runner.
 * - `POST /runner/jobs/:id/start` `LeaseBody` → `HeartbeatResult` (claimed → running, lease renewed;
 *   the runner may send it alongside the work: completing from `claimed` is accepted too).
 * - `POST /runner/jobs/:id/heartbeat` `LeaseBody` → `HeartbeatResult`.
 * - `POST /runner/jobs/:id/events` `JobEventsBody` → `JobEventsResult`.
 * - `POST /runner/jobs/:id/complete` `CompleteJobBody` → `Job`.
 * - `GET  /runner/worktrees` → `RunnerWorktrees` (what to watch), `POST /runner/git` `GitReport` →
 *   `GitReportResult` (git state that changed on disk; see the end of this file).
 * Every job write carries the claim's lease token; a stale one gets 409 `stale_lease` and changes
 * nothing: drop the job's work, it was handed to another claim or ended. A user token on
 * `/runner/*` gets 401 `wrong_credential`; a revoked or unknown credential gets 401 `invalid_credential`.
 */

// ---- git names, checked before any job exists ----

/** A worktree name becomes a folder under the runner's data dir: one safe path segment. */
export const WorktreeName = Text.trim()
  .min(1, "must not be empty")
  .max(100, "must be at most 100 characters")
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]*$/,
    "may use letters, digits, '.', '_' and '-', and must start with a letter or digit",
  )
  .refine((s) => !s.includes("..") && !s.endsWith(".lock") && !s.endsWith("."), "is not a safe folder name");

/** `git check-ref-format --branch` rules, checked here so a bad name never reaches a runner. */
export const BranchName = Text.trim()
  .min(1, "must not be empty")
  .max(200, "must be at most 200 characters")
  .refine(
    (s) =>
      // biome-ignore lint/suspicious/noControlCharactersInRegex: git refuses control characters in ref names
      !/[\x00-\x20\x7f~^:?*[\\]/.test(s) &&
      !s.includes("..") &&
      !s.includes("@{") &&
      !s.includes("//") &&
      !s.startsWith("/") &&
      !s.endsWith("/") &&
      !s.startsWith("-") &&
      !s.endsWith(".") &&
      s !== "@" &&
      s.split("/").every((part) => part.length > 0 && !part.startsWith(".") && !part.endsWith(".lock")),
    "is not a valid git branch name",
  )
  // git itself refuses it (`git branch HEAD`): the name means "the commit checked out".
  .refine((s) => s !== "HEAD", "must not be HEAD, which git keeps for the checked-out commit");

// ---- runners ----

export const RunnerInfo = z.object({
  version: Text.max(40),
  os: Text.max(80),
  gitVersion: Text.max(80),
  providers: z.array(Text.max(40)).max(20),
});
export type RunnerInfo = z.infer<typeof RunnerInfo>;

export const Runner = z.object({
  id: z.string(),
  ownerId: z.string(),
  name: z.string(),
  status: z.enum(["pending", "online", "offline", "revoked"]),
  lastSeenAt: z.number().nullable(),
  info: RunnerInfo.partial(),
  /** Boards the owner shared it with (only shown to the owner). */
  boardIds: z.array(z.string()),
  createdAt: z.number(),
});
export type Runner = z.infer<typeof Runner>;

export const CreateRunnerBody = z.object({ name: Name });

/**
 * How the commands Trellis prints invoke the runner. `trellis-runner` is not on npm yet, so they run
 * it from a clone of Trellis: `npm run runner -- …` in the clone's root folder, which runs on the
 * Node 22 the clone ships whatever the machine's own Node is. Once it is published they become
 * `npx trellis-runner …`, from anywhere; the app says so next to the command.
 */
export const RUNNER_CLI = "npm run runner --";
export const RUNNER_CLI_PUBLISHED = "npx trellis-runner";
/** `POST /api/runners` answer: the one-time registration token and the command to paste. */
export const RunnerRegistration = z.object({
  runner: Runner,
  registrationToken: z.string(),
  expiresAt: z.number(),
  command: z.string(),
});
export type RunnerRegistration = z.infer<typeof RunnerRegistration>;
export const ShareRunnerBody = z.object({ boardId: Text.min(1).max(64) });

/** `POST /runner/register` (no credential yet: the one-time token is the proof). */
export const RegisterRunnerBody = z.object({
  token: Text.min(1).max(200),
  name: Name.optional(),
  info: RunnerInfo,
});
export const RegisterRunnerResult = z.object({ runnerId: z.string(), credential: z.string(), name: z.string() });

// ---- repos and worktrees ----

/**
 * Where a runner may clone from: `https://`, `ssh://` or `git@host:path`, and `file://` (which the
 * service allows only for the runner's owner, since it reads the owner's disk). A host or path
 * that starts with `-` would reach git or ssh as an option (`ssh://-oProxyCommand=…`), and
 * whitespace or control characters have no place in a URL: both are refused here rather than left
 * to git.
 */
export function repoUrlProblem(url: string): string | null {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\s\x00-\x1f\x7f]/.test(url)) return "must not contain spaces or control characters";
  let host: string;
  let path: string;
  const scp = /^git@([^:/]+):(.*)$/.exec(url);
  if (scp) [, host, path] = scp as unknown as [string, string, string];
  else {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return "must be an https://, ssh://, git@host:path or file:// URL";
    }
    if (!["https:", "ssh:", "file:"].includes(u.protocol)) {
      return "must be an https://, ssh://, git@host:path or file:// URL";
    }
    if (u.protocol !== "file:" && !u.hostname) return "must name a host";
    host = `${u.username}@${u.hostname}`.replace(/^@/, "");
    path = u.pathname;
  }
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  if (
    decode(host)
      .split("@")
      .some((part) => part.startsWith("-"))
  )
    return "host must not start with '-'";
  if (/^[/~]*-/.test(decode(path))) return "path must not start with '-'";
  return null;
}

export const RepoUrl = Text.trim()
  .min(1)
  .max(2000)
  .superRefine((url, ctx) => {
    const problem = repoUrlProblem(url);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

/**
 * A folder on the runner's machine: absolute (`/…`, `C:\\…`) or from the home folder (`~/…`). A
 * relative path would be resolved against wherever the runner happened to be started: refused.
 */
export const RepoPath = Text.trim()
  .min(1)
  .max(1000)
  .regex(
    /^(\/|~$|~\/|[A-Za-z]:[\\/]|\\\\)/,
    "must be an absolute path on the runner's machine (like /home/you/code/app or ~/code/app), not a relative one",
  );

export const RepoSource = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("path"), path: RepoPath }),
  z.object({ kind: z.literal("url"), url: RepoUrl }),
]);
export type RepoSource = z.infer<typeof RepoSource>;

export const Repo = z.object({
  id: z.string(),
  runnerId: z.string(),
  name: z.string(),
  status: z.enum(["adding", "ready", "error"]),
  source: RepoSource,
  defaultBranch: z.string().nullable(),
  branches: z.array(z.string()),
  lastFetchedAt: z.number().nullable(),
  error: z.string().nullable(),
  /** Where the repo lives on the runner's machine, once added. */
  path: z.string().nullable(),
  createdAt: z.number(),
});
export type Repo = z.infer<typeof Repo>;

export const AddRepoBody = z.object({ name: WorktreeName.optional(), source: RepoSource });

export const GitState = z.object({
  head: z.string().nullable(),
  ahead: z.number().int(),
  behind: z.number().int(),
  changedFiles: z.number().int(),
  refreshedAt: z.number(),
});
export type GitState = z.infer<typeof GitState>;

export const Worktree = z.object({
  id: z.string(),
  boardId: z.string(),
  repoId: z.string(),
  runnerId: z.string(),
  zoneId: z.string().nullable(),
  name: z.string(),
  branch: z.string(),
  baseBranch: z.string().nullable(),
  status: z.enum(["creating", "ready", "deleting", "error"]),
  x: z.number(),
  y: z.number(),
  git: GitState.nullable(),
  issueUrl: z.string().nullable(),
  notes: z.string(),
  /** new: Trellis makes `branch` from the base; existing: it checks out a branch that was there. */
  mode: z.enum(["new", "existing"]),
  /**
   * Whether this card's own create job made `branch` (the runner's report). Trellis deletes only a
   * branch it made, so "also delete the branch" is offered only when this is true.
   */
  branchCreated: z.boolean(),
  /** git's own words when creation or deletion failed, whole */
  error: z.string().nullable(),
  /** What kind of failure `error` is (`JOB_FAILURE_CODES`), so the board can offer the way out; null if none. */
  errorCode: z.string().nullable(),
  /** Where the worktree lives on the runner's machine, once created. */
  path: z.string().nullable(),
  /** The create or delete job in flight for this card (so the board can offer to cancel it), else null. */
  jobId: z.string().nullable(),
  createdBy: z.string(),
  createdAt: z.number(),
  updatedAt: z.number(),
});
export type Worktree = z.infer<typeof Worktree>;

const Coord = z.number().finite().min(-1_000_000).max(1_000_000);

export const CreateWorktreeBody = z.object({
  repoId: Text.min(1).max(64),
  name: WorktreeName,
  /** new: create `branch` from `baseBranch` (default: the repo's default branch); existing: check out `branch`. */
  mode: z.enum(["new", "existing"]).default("new"),
  branch: BranchName,
  baseBranch: BranchName.optional(),
  issueUrl: HttpUrl.optional(),
  notes: Text.max(10_000).default(""),
  x: Coord.default(0),
  y: Coord.default(0),
  zoneId: Text.max(64).nullable().default(null),
});
export const PatchWorktreeBody = z
  .object({ x: Coord, y: Coord, zoneId: Text.max(64).nullable(), notes: Text.max(10_000) })
  .partial()
  .refine((b) => Object.keys(b).length > 0, "nothing to change");
/** `GET /api/boards/:boardId/worktrees`: pages ordered by id; a big board pages through in 500s. */
export const WorktreePageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(500),
  cursor: Text.max(64).optional(),
});
/**
 * `POST /api/boards/:boardId/worktrees/:worktreeId/retry`: run the create again for a card in
 * `error`, optionally with a different branch, base or mode (edit, then retry).
 */
export const RetryWorktreeBody = z.object({
  mode: z.enum(["new", "existing"]).optional(),
  branch: BranchName.optional(),
  baseBranch: BranchName.nullable().optional(),
});
export const DeleteWorktreeQuery = z.object({
  force: z
    .enum(["true", "false"])
    .default("false")
    .transform((v) => v === "true"),
  deleteBranch: z
    .enum(["true", "false"])
    .default("false")
    .transform((v) => v === "true"),
  /**
   * The explicit second "yes" for a branch with commits not merged into its base. Without it the
   * runner refuses (`branch_unmerged`, with the count) and nothing is deleted.
   */
  deleteUnmerged: z
    .enum(["true", "false"])
    .default("false")
    .transform((v) => v === "true"),
});

// ---- jobs ----

export const JobStatus = z.enum(["queued", "claimed", "running", "succeeded", "failed", "cancelled"]);

/** Job payloads by type. `idempotent` types are retried after a lost lease; others fail "runner lost". */
export const JobPayloads = {
  ping: z.object({}),
  "repo.add": z.object({ repoId: z.string(), name: z.string(), source: RepoSource }),
  "repo.fetch": z.object({ repoId: z.string() }),
  "worktree.create": z.object({
    worktreeId: z.string(),
    repoId: z.string(),
    name: z.string(),
    mode: z.enum(["new", "existing"]),
    branch: z.string(),
    baseBranch: z.string().nullable(),
  }),
  "worktree.delete": z.object({
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
  /** Forget a repo the user removed; a clone in the data folder goes too, a folder used in place stays. */
  "repo.remove": z.object({ repoId: z.string() }),
  "worktree.refresh": z.object({
    worktreeId: z.string(),
    repoId: z.string(),
    name: z.string(),
    baseBranch: z.string().nullable(),
  }),
} as const;
export type JobType = keyof typeof JobPayloads;
export const JOB_TYPES = Object.keys(JobPayloads) as JobType[];
export const IDEMPOTENT_JOBS: ReadonlySet<JobType> = new Set([
  "ping",
  "repo.add",
  "repo.fetch",
  "repo.remove",
  "worktree.create",
  "worktree.delete",
  "worktree.refresh",
]);

/** `POST /api/runners/:runnerId/jobs`: only `ping` (a no-op, for benchmarks) may be queued directly. */
export const QueueJobBody = z.object({ type: z.literal("ping") });

/** Job results by type (what the runner reports on success). */
export const JobResults = {
  /** `startedAt`: the runner's clock (ms) when it began the job, for measuring pickup latency. */
  ping: z.object({ startedAt: z.number().int().nonnegative().optional() }),
  "repo.add": z.object({ path: z.string(), defaultBranch: z.string(), branches: z.array(z.string()).max(500) }),
  "repo.fetch": z.object({ defaultBranch: z.string(), branches: z.array(z.string()).max(500) }),
  /**
   * `createdBranch`: this job made the branch (a runner that does not say is taken to have made
   * none, so Trellis will never delete it). `branches`: the repo's branches afterwards.
   */
  "worktree.create": z.object({
    path: z.string(),
    git: GitState,
    createdBranch: z.boolean().default(false),
    branches: z.array(z.string()).max(500).optional(),
  }),
  "worktree.delete": z.object({ branches: z.array(z.string()).max(500).optional() }),
  "repo.remove": z.object({}),
  "worktree.refresh": z.object({ git: GitState }),
} as const;

export const Job = z.object({
  id: z.string(),
  runnerId: z.string(),
  boardId: z.string().nullable(),
  type: z.string(),
  payload: z.record(z.string(), z.unknown()),
  status: JobStatus,
  attempts: z.number(),
  cancelRequested: z.boolean(),
  result: z.record(z.string(), z.unknown()).nullable(),
  error: z.string().nullable(),
  createdAt: z.number(),
  updatedAt: z.number(),
});
export type Job = z.infer<typeof Job>;

/**
 * `POST /runner/jobs/claim` → 200 with a claim, or 204 when there is nothing to do. `more` says
 * whether another job was still queued when this one was claimed: when it is false the runner can
 * wait for the next wake instead of asking again only to hear 204.
 */
export const JobClaim = z.object({
  job: Job,
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

// ---- live git state: the runner watches its worktrees and reports what changed ----

/**
 * `GET /runner/worktrees` → `RunnerWorktrees`: this runner's cards that should be on disk (ready,
 * or in error because their folder went missing), newest first, for the runner to watch. Asked for
 * on every link connect and after every worktree job.
 */
export const RunnerWorktree = z.object({
  id: z.string(),
  repoId: z.string(),
  name: z.string(),
  branch: z.string(),
  baseBranch: z.string().nullable(),
  status: z.enum(["ready", "error"]),
  /** What the edge last heard, so the runner reports only a difference. */
  git: GitState.nullable(),
});
export type RunnerWorktree = z.infer<typeof RunnerWorktree>;
export const RunnerWorktrees = z.object({ items: z.array(RunnerWorktree) });
/** At most this many are listed (and watched); a runner with more sees its newest. */
export const MAX_WATCHED_WORKTREES = 500;

/**
 * `POST /runner/git` `GitReport` → `GitReportResult`: git state the runner saw change on disk. A
 * worktree whose folder is gone (`exists: false`) turns its card to `error` (`worktree_missing`);
 * one that is back turns it `ready` again. Rows that are not this runner's, or are being created or
 * deleted, are left alone and counted in `ignored`.
 */
export const GitReport = z
  .object({
    worktrees: z
      .array(z.object({ worktreeId: Text.min(1).max(64), exists: z.boolean(), git: GitState.nullable() }))
      .max(100)
      .default([]),
    repos: z
      .array(
        z.object({
          repoId: Text.min(1).max(64),
          defaultBranch: Text.max(200),
          branches: z.array(Text.max(200)).max(500),
        }),
      )
      .max(50)
      .default([]),
  })
  .refine((r) => r.worktrees.length + r.repos.length > 0, "nothing to report");
export type GitReport = z.input<typeof GitReport>;
export const GitReportResult = z.object({ applied: z.number().int(), ignored: z.number().int() });
export type GitReportResult = z.infer<typeof GitReportResult>;
