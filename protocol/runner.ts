import { z } from "zod";
import { Name } from "./common.ts";

/**
 * The runner protocol (`/runner/*`, runner credential as `Authorization: Bearer trl_run_…`) and
 * the user-facing runner, repo, worktree and job shapes. The runner only dials out: it claims jobs
 * over HTTPS and holds one WebSocket to its RunnerLink, over which the edge wakes it.
 */

// ---- git names, checked before any job exists ----

/** A worktree name becomes a folder under the runner's data dir: one safe path segment. */
export const WorktreeName = z
  .string()
  .trim()
  .min(1, "must not be empty")
  .max(100, "must be at most 100 characters")
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]*$/,
    "may use letters, digits, '.', '_' and '-', and must start with a letter or digit",
  )
  .refine((s) => !s.includes("..") && !s.endsWith(".lock") && !s.endsWith("."), "is not a safe folder name");

/** `git check-ref-format --branch` rules, checked here so a bad name never reaches a runner. */
export const BranchName = z
  .string()
  .trim()
  .min(1, "must not be empty")
  .max(200, "must be at most 200 characters")
  .refine(
    (s) =>
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
  );

// ---- runners ----

export const RunnerInfo = z.object({
  version: z.string().max(40),
  os: z.string().max(80),
  gitVersion: z.string().max(80),
  providers: z.array(z.string().max(40)).max(20),
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
/** `POST /api/runners` answer: the one-time registration token and the command to paste. */
export const RunnerRegistration = z.object({
  runner: Runner,
  registrationToken: z.string(),
  expiresAt: z.number(),
  command: z.string(),
});
export const ShareRunnerBody = z.object({ boardId: z.string().min(1).max(64) });

/** `POST /runner/register` (no credential yet: the one-time token is the proof). */
export const RegisterRunnerBody = z.object({
  token: z.string().min(1).max(200),
  name: Name.optional(),
  info: RunnerInfo,
});
export const RegisterRunnerResult = z.object({ runnerId: z.string(), credential: z.string(), name: z.string() });

// ---- repos and worktrees ----

export const RepoSource = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("path"), path: z.string().min(1).max(1000) }),
  z.object({
    kind: z.literal("url"),
    url: z
      .string()
      .min(1)
      .max(2000)
      .refine(
        (u) => /^(https?:\/\/|ssh:\/\/|git@[^:]+:|file:\/\/)/.test(u),
        "must be an https, ssh, git@ or file:// URL",
      ),
  }),
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
  /** git's own words when creation or deletion failed */
  error: z.string().nullable(),
  createdBy: z.string(),
  createdAt: z.number(),
  updatedAt: z.number(),
});
export type Worktree = z.infer<typeof Worktree>;

const Coord = z.number().finite().min(-1_000_000).max(1_000_000);

export const CreateWorktreeBody = z.object({
  repoId: z.string().min(1).max(64),
  name: WorktreeName,
  /** new: create `branch` from `baseBranch` (default: the repo's default branch); existing: check out `branch`. */
  mode: z.enum(["new", "existing"]).default("new"),
  branch: BranchName,
  baseBranch: BranchName.optional(),
  issueUrl: z.url().max(2000).optional(),
  notes: z.string().max(10_000).default(""),
  x: Coord.default(0),
  y: Coord.default(0),
  zoneId: z.string().max(64).nullable().default(null),
});
export const PatchWorktreeBody = z
  .object({ x: Coord, y: Coord, zoneId: z.string().max(64).nullable(), notes: z.string().max(10_000) })
  .partial()
  .refine((b) => Object.keys(b).length > 0, "nothing to change");
export const DeleteWorktreeQuery = z.object({
  force: z
    .enum(["true", "false"])
    .default("false")
    .transform((v) => v === "true"),
  deleteBranch: z
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
    deleteBranch: z.boolean(),
  }),
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
  "worktree.create",
  "worktree.delete",
  "worktree.refresh",
]);

/** Job results by type (what the runner reports on success). */
export const JobResults = {
  ping: z.object({}),
  "repo.add": z.object({ path: z.string(), defaultBranch: z.string(), branches: z.array(z.string()).max(500) }),
  "repo.fetch": z.object({ defaultBranch: z.string(), branches: z.array(z.string()).max(500) }),
  "worktree.create": z.object({ path: z.string(), git: GitState }),
  "worktree.delete": z.object({}),
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

/** `POST /runner/jobs/claim` → 200 with a claim, or 204 when there is nothing to do. */
export const JobClaim = z.object({
  job: Job,
  leaseToken: z.string(),
  leaseExpiresAt: z.number(),
});
export type JobClaim = z.infer<typeof JobClaim>;

export const LeaseBody = z.object({ leaseToken: z.string().min(1).max(200) });
/** Heartbeat answer: the new expiry, and whether the user asked to cancel. */
export const HeartbeatResult = z.object({ leaseExpiresAt: z.number(), cancelRequested: z.boolean() });

/** Progress events: `seq` starts at 1 and increases; a seq already applied is ignored. */
export const JobEventsBody = LeaseBody.extend({
  events: z
    .array(
      z.object({ seq: z.number().int().min(1), kind: z.string().max(40), data: z.record(z.string(), z.unknown()) }),
    )
    .min(1)
    .max(100),
});

export const CompleteJobBody = z.discriminatedUnion("status", [
  LeaseBody.extend({ status: z.literal("succeeded"), result: z.record(z.string(), z.unknown()) }),
  LeaseBody.extend({ status: z.literal("failed"), error: z.string().max(20_000) }),
  /** The runner stopped the job because the user cancelled it. */
  LeaseBody.extend({ status: z.literal("cancelled") }),
  /** Ctrl-C drain: the runner hands an unstarted/interrupted idempotent job back to the queue. */
  LeaseBody.extend({ status: z.literal("released") }),
]);

/** RunnerLink socket, edge → runner. */
export const LinkMessage = z.discriminatedUnion("type", [
  z.object({ type: z.literal("wake") }),
  z.object({ type: z.literal("cancel"), jobId: z.string() }),
]);
export type LinkMessage = z.infer<typeof LinkMessage>;
