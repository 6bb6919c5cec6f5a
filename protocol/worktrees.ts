import { z } from "zod";
import { HttpUrl, Text } from "./common.ts";

/** Worktrees: a card on a board is one git worktree on a runner's machine, and its git state. */

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

export const Coord = z.number().finite().min(-1_000_000).max(1_000_000);

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
  /** Only the cards in one zone, or in one status. */
  zoneId: Text.max(64).optional(),
  status: z.enum(["creating", "ready", "deleting", "error"]).optional(),
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
