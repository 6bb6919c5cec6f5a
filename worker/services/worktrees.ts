import type { SQL } from "drizzle-orm";
import { and, asc, desc, eq, exists, gt, inArray, ne, sql } from "drizzle-orm";
import type { z } from "zod";
import type {
  CreateWorktreeBody,
  DeleteWorktreeQuery,
  GitReport,
  GitReportResult,
  GitState,
  Job,
  Page,
  PatchWorktreeBody,
  RetryWorktreeBody,
  RunnerWorktree,
  Worktree,
  WorktreePageQuery,
} from "../../protocol/index.ts";
import { JobResults, MAX_WATCHED_WORKTREES } from "../../protocol/index.ts";
import { schema } from "../db/client.ts";
import { AppError, badRequest, conflict, forbidden, notFound } from "../lib/errors.ts";
import { newId } from "../lib/ids.ts";
import { requireBoardRole } from "./access.ts";
import type { Ctx } from "./context.ts";
import { entity, removed, userId } from "./context.ts";
import type { JobEffect, JobOutcome, JobRow } from "./job-queue.ts";
import { authorizeJob, insertJob, jobQueued, keepJobOnlyIf, queueJob, toJob } from "./job-queue.ts";
import { patchData, publishRepo, type RepoRow, toRepo } from "./repos.ts";
import { actingRunnerId, assertUsable, isSharedWithBoard, loadRunner, requireRunnerUse } from "./runner-access.ts";
import { worktreeSettled } from "./session-tasks.ts";
import { endWorktreeTerminals } from "./terminals.ts";
import { dependentsOf, publishDependentsGone, stopWorktreeSessions } from "./worktree-cascade.ts";
import { fireZoneTrigger } from "./zone-triggers.ts";

const { worktrees, repos, zones } = schema;
type WorktreeRow = typeof worktrees.$inferSelect;
type BatchStmt = JobEffect["stmts"][number];

/** What lives in `worktrees.data`. */
interface WorktreeData {
  git?: GitState;
  path?: string;
  issueUrl?: string;
  notes?: string;
  error?: string;
  errorCode?: string;
  jobId?: string;
  /** Rows from before these were recorded: mode "new", and no branch of Trellis's making. */
  mode?: "new" | "existing";
  branchCreated?: boolean;
}

/** The card is in `error` because its folder is gone: the runner saw it, or a refresh did. */
const MISSING = "The worktree folder is gone from the runner's machine. Retry to make it again, or delete the card.";

export const toWorktree = (r: WorktreeRow): Worktree => {
  const d = r.data as WorktreeData;
  return {
    id: r.id,
    boardId: r.boardId,
    repoId: r.repoId,
    runnerId: r.runnerId,
    zoneId: r.zoneId,
    name: r.name,
    branch: r.branch,
    baseBranch: r.baseBranch,
    status: r.status,
    x: r.x,
    y: r.y,
    git: d.git ?? null,
    issueUrl: d.issueUrl ?? null,
    notes: d.notes ?? "",
    mode: d.mode ?? "new",
    branchCreated: d.branchCreated ?? false,
    error: d.error ?? null,
    errorCode: d.errorCode ?? null,
    path: d.path ?? null,
    jobId: d.jobId ?? null,
    createdBy: r.createdBy,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
};

const publishWorktree = (ctx: Ctx, op: "created" | "patched", r: WorktreeRow) =>
  ctx.publish(r.boardId, entity("worktree", op, toWorktree(r)));

async function loadWorktree(ctx: Ctx, boardId: string, worktreeId: string): Promise<WorktreeRow> {
  const row = await ctx.db.query.worktrees.findFirst({
    where: and(eq(worktrees.id, worktreeId), eq(worktrees.boardId, boardId)),
  });
  if (!row) throw notFound("Worktree");
  return row;
}

async function assertZoneOnBoard(ctx: Ctx, boardId: string, zoneId: string | null | undefined) {
  if (!zoneId) return;
  const zone = await ctx.db.query.zones.findFirst({
    where: and(eq(zones.id, zoneId), eq(zones.boardId, boardId)),
    columns: { id: true },
  });
  if (!zone) throw badRequest("That zone is not on this board.", "bad_zone");
}

/** A board pages through its cards in id order; 3,000 cards are six requests. */
export async function listWorktrees(
  ctx: Ctx,
  boardId: string,
  q: z.infer<typeof WorktreePageQuery>,
): Promise<Page<Worktree>> {
  await requireBoardRole(ctx, boardId, "viewer");
  const rows = await ctx.db.query.worktrees.findMany({
    where: and(
      eq(worktrees.boardId, boardId),
      q.cursor ? gt(worktrees.id, q.cursor) : undefined,
      q.zoneId ? eq(worktrees.zoneId, q.zoneId) : undefined,
      q.status ? eq(worktrees.status, q.status) : undefined,
    ),
    orderBy: asc(worktrees.id),
    limit: q.limit + 1,
  });
  const items = rows.slice(0, q.limit).map(toWorktree);
  return { items, nextCursor: rows.length > q.limit ? items.at(-1)!.id : null };
}

export async function getWorktree(ctx: Ctx, boardId: string, worktreeId: string): Promise<Worktree> {
  await requireBoardRole(ctx, boardId, "viewer");
  const row = await ctx.db.query.worktrees.findFirst({
    where: and(eq(worktrees.id, worktreeId), eq(worktrees.boardId, boardId)),
  });
  if (!row) throw notFound("Worktree");
  return toWorktree(row);
}

/**
 * The repo's runner must be shared with this board. Someone who can see the runner from elsewhere
 * is told why; anyone else gets the same 404 as for a repo that does not exist.
 */
async function repoForBoard(ctx: Ctx, boardId: string, repoId: string) {
  const repo = await ctx.db.query.repos.findFirst({ where: eq(repos.id, repoId) });
  if (!repo) throw notFound("Repo");
  if (!(await isSharedWithBoard(ctx, repo.runnerId, boardId))) {
    await requireRunnerUse(ctx, repo.runnerId, "viewer").catch(() => {
      throw notFound("Repo");
    });
    throw forbidden(
      "This repo's runner is not shared with this board. Its owner can share it from the runner's settings.",
      "runner_not_shared",
    );
  }
  assertUsable(await loadRunner(ctx, repo.runnerId));
  return repo;
}

/**
 * A card's create job: the first one, or a retry's (whose idempotency key names the attempt, so
 * it is a new job and not a repeat of the first).
 */
function createJob(
  ctx: Ctx,
  card: { id: string; boardId: string; name: string },
  repo: { id: string; runnerId: string },
  jobId: string,
  git: { mode: "new" | "existing"; branch: string; baseBranch: string | null },
  opts: { retry?: boolean } = {},
) {
  return authorizeJob(ctx, {
    id: jobId,
    runnerId: repo.runnerId,
    boardId: card.boardId,
    type: "worktree.create",
    payload: { worktreeId: card.id, repoId: repo.id, name: card.name, ...git },
    idempotencyKey: opts.retry ? `worktree.create:${card.id}:${jobId}` : `worktree.create:${card.id}`,
  });
}

export async function createWorktree(
  ctx: Ctx,
  boardId: string,
  body: z.infer<typeof CreateWorktreeBody>,
): Promise<Worktree> {
  await requireBoardRole(ctx, boardId, "member");
  const repo = await repoForBoard(ctx, boardId, body.repoId);
  if (repo.status !== "ready") {
    throw conflict("The repo is not ready: wait until it has been added, or add it again.", "repo_not_ready");
  }
  await assertZoneOnBoard(ctx, boardId, body.zoneId);
  const clash = await ctx.db.query.worktrees.findMany({
    where: eq(worktrees.repoId, repo.id),
    columns: { name: true, branch: true },
  });
  if (clash.some((w) => w.name === body.name)) {
    throw conflict(`A worktree named "${body.name}" already exists in this repo.`, "worktree_exists");
  }
  assertBranchFree(repo, clash, body.mode, body.branch);
  const id = newId();
  const jobId = newId();
  const baseBranch = body.baseBranch ?? repo.defaultBranch;
  const data: WorktreeData = {
    notes: body.notes,
    jobId,
    mode: body.mode,
    ...(body.issueUrl ? { issueUrl: body.issueUrl } : {}),
  };
  let created: [WorktreeRow[], JobRow[]];
  try {
    created = await ctx.db.batch([
      ctx.db
        .insert(worktrees)
        .values({
          id,
          boardId,
          repoId: repo.id,
          runnerId: repo.runnerId,
          zoneId: body.zoneId,
          name: body.name,
          branch: body.branch,
          baseBranch,
          x: body.x,
          y: body.y,
          data: data as Record<string, unknown>,
          createdBy: userId(ctx),
        })
        .returning(),
      insertJob(
        ctx,
        await createJob(ctx, { id, boardId, name: body.name }, repo, jobId, {
          mode: body.mode,
          branch: body.branch,
          baseBranch,
        }),
      ),
    ]);
  } catch (err) {
    // Two creations with the same name raced past the check above; the unique index kept one.
    if (String((err as Error).cause ?? err).includes("UNIQUE")) {
      throw conflict(`A worktree named "${body.name}" already exists in this repo.`, "worktree_exists");
    }
    throw err;
  }
  const [[row], [job]] = created;
  await publishWorktree(ctx, "created", row!);
  await jobQueued(ctx, job!);
  return toWorktree(row!);
}

/**
 * Refuse, before any job exists, a branch another card has checked out, and (mode new) a branch the
 * repo already has as far as its last report goes: git would refuse it later as an errored card.
 */
function assertBranchFree(repo: RepoRow, cards: { name: string; branch: string }[], mode: string, branch: string) {
  const inUse = cards.find((w) => w.branch === branch);
  if (inUse) {
    throw conflict(`Branch "${branch}" is already checked out in worktree "${inUse.name}".`, "branch_in_use");
  }
  if (mode !== "new") return;
  if (branch === repo.defaultBranch) {
    throw conflict(
      `"${branch}" is ${repo.name}'s default branch, so it cannot be made as a new branch: pick a new name, or choose "existing branch".`,
      "branch_exists",
    );
  }
  if (toRepo(repo).branches.includes(branch)) {
    throw conflict(
      `Branch "${branch}" already exists in ${repo.name}: pick another name, or choose "existing branch" to work on it.`,
      "branch_exists",
    );
  }
}

/**
 * Run a failed card's create again, optionally with another branch, base or mode. Its own branch
 * from an earlier attempt is fine to reuse: the runner recognises what this card made.
 */
export async function retryWorktree(
  ctx: Ctx,
  boardId: string,
  worktreeId: string,
  body: z.infer<typeof RetryWorktreeBody>,
): Promise<Worktree> {
  await requireBoardRole(ctx, boardId, "member");
  const wt = await loadWorktree(ctx, boardId, worktreeId);
  if (wt.status !== "error") {
    throw conflict(`Only a card in error can be retried; this one is ${wt.status}.`, "worktree_not_failed");
  }
  const repo = await repoForBoard(ctx, boardId, wt.repoId);
  if (repo.status !== "ready") {
    throw conflict("The repo is not ready: retry or re-add the repo first.", "repo_not_ready");
  }
  const d = wt.data as WorktreeData;
  const mode = body.mode ?? d.mode ?? "new";
  const branch = body.branch ?? wt.branch;
  const baseBranch = body.baseBranch === undefined ? wt.baseBranch : (body.baseBranch ?? repo.defaultBranch);
  const others = await ctx.db.query.worktrees.findMany({
    where: and(eq(worktrees.repoId, repo.id), ne(worktrees.id, wt.id)),
    columns: { name: true, branch: true },
  });
  const ownBranch = branch === wt.branch && d.branchCreated === true;
  assertBranchFree(repo, others, ownBranch ? "existing" : mode, branch);
  const jobId = newId();
  const [[row], [job]] = await ctx.db.batch([
    ctx.db
      .update(worktrees)
      .set({
        status: "creating",
        branch,
        baseBranch,
        data: patchData(worktrees.data, { mode, jobId, error: null, errorCode: null }),
        updatedAt: Date.now(),
      })
      .where(and(eq(worktrees.id, wt.id), eq(worktrees.status, "error")))
      .returning(),
    insertJob(ctx, await createJob(ctx, wt, repo, jobId, { mode, branch, baseBranch }, { retry: true })),
    // Only if the update above took the card: a card that changed meanwhile gets no job.
    keepJobOnlyIf(
      ctx,
      jobId,
      exists(
        ctx.db
          .select({ one: sql`1` })
          .from(worktrees)
          .where(and(eq(worktrees.id, wt.id), sql`json_extract(${worktrees.data}, '$.jobId') = ${jobId}`)),
      ),
    ),
  ]);
  if (!row) throw conflict("The card changed meanwhile; try again.", "worktree_busy");
  await publishWorktree(ctx, "patched", row);
  await jobQueued(ctx, job!);
  return toWorktree(row);
}

export async function patchWorktree(
  ctx: Ctx,
  boardId: string,
  worktreeId: string,
  body: z.infer<typeof PatchWorktreeBody>,
): Promise<Worktree> {
  await requireBoardRole(ctx, boardId, "member");
  await assertZoneOnBoard(ctx, boardId, body.zoneId);
  const { notes, ...columns } = body;
  const where = and(eq(worktrees.id, worktreeId), eq(worktrees.boardId, boardId));
  const update = ctx.db
    .update(worktrees)
    .set({
      ...columns,
      ...(notes !== undefined ? { data: patchData(worktrees.data, { notes }) } : {}),
      updatedAt: Date.now(),
    })
    .where(where)
    .returning();
  const zoneId = body.zoneId;
  let row: WorktreeRow | undefined;
  let entered = false;
  if (!zoneId) [row] = await update;
  else {
    // Did this write put the card into the zone, or was it there already? Asked in the same batch
    // (a transaction) as the move, so of two people dropping it at once exactly one fires the trigger.
    const [enter, rows] = await ctx.db.batch([
      ctx.db
        .update(worktrees)
        .set({ zoneId })
        .where(and(where, sql`${worktrees.zoneId} is not ${zoneId}`))
        .returning({ id: worktrees.id }),
      update,
    ]);
    [row] = rows;
    entered = enter.length > 0;
  }
  if (!row) throw notFound("Worktree");
  await publishWorktree(ctx, "patched", row);
  if (entered && zoneId) await fireZoneTrigger(ctx, boardId, row, zoneId);
  return toWorktree(row);
}

/**
 * Put a card in a zone at a position inside it (`x`, `y` from the zone's top-left corner), or on
 * the open canvas (`zoneId` null, `x`, `y` on the canvas). The card's stored position is on the
 * canvas, as the board's own drag stores it, so both reach every board the same way.
 */
export async function moveWorktree(
  ctx: Ctx,
  boardId: string,
  worktreeId: string,
  to: { zoneId: string | null; x: number; y: number },
): Promise<Worktree> {
  await requireBoardRole(ctx, boardId, "member");
  if (to.zoneId === null) return patchWorktree(ctx, boardId, worktreeId, { zoneId: null, x: to.x, y: to.y });
  const zone = await ctx.db.query.zones.findFirst({
    where: and(eq(zones.id, to.zoneId), eq(zones.boardId, boardId)),
  });
  if (!zone) throw badRequest("zoneId: that zone is not on this board.", "bad_zone");
  for (const [axis, v, size] of [
    ["x", to.x, zone.width],
    ["y", to.y, zone.height],
  ] as const) {
    if (v < 0 || v > size) {
      throw badRequest(
        `${axis}: must be between 0 and ${size} (the zone "${zone.name}" is ${zone.width} × ${zone.height}); it is measured from the zone's top-left corner.`,
      );
    }
  }
  return patchWorktree(ctx, boardId, worktreeId, { zoneId: zone.id, x: zone.x + to.x, y: zone.y + to.y });
}

/**
 * Deleting asks the runner to remove the folder (and maybe the branch); the card goes when it
 * reports success. A refusal (uncommitted changes) puts the card back with git's words in `error`,
 * so the board can offer a forced delete.
 */
export async function deleteWorktree(
  ctx: Ctx,
  boardId: string,
  worktreeId: string,
  opts: z.infer<typeof DeleteWorktreeQuery>,
): Promise<Worktree | null> {
  await requireBoardRole(ctx, boardId, "member");
  const wt = await loadWorktree(ctx, boardId, worktreeId);
  if (wt.status === "deleting") return toWorktree(wt);
  if (wt.status === "creating") {
    throw conflict("This worktree is still being created: delete it once it is ready or has failed.", "worktree_busy");
  }
  const d = wt.data as WorktreeData;
  if (opts.deleteBranch && !d.branchCreated) {
    throw conflict(
      `Trellis did not create branch "${wt.branch}" (it was there before this card), so it never deletes it. Delete the worktree and keep the branch.`,
      "branch_not_ours",
    );
  }
  const runner = await loadRunner(ctx, wt.runnerId);
  if (runner.status === "revoked" || !(await isSharedWithBoard(ctx, wt.runnerId, boardId))) {
    // Nobody may be asked (the runner was revoked, or unshared from this board, which takes it
    // away from the board's old cards too): the card goes, the folder stays on that machine.
    await endWorktreeTerminals(ctx, wt.id, "its worktree was deleted");
    await stopWorktreeSessions(ctx, wt.id);
    const [gone, goneComments] = await ctx.db.batch([
      ...dependentsOf(ctx, wt.id),
      ctx.db.delete(worktrees).where(eq(worktrees.id, wt.id)),
    ]);
    await ctx.publish(boardId, removed("worktree", wt.id));
    await publishDependentsGone(ctx, boardId, [gone, goneComments]);
    return null;
  }
  const jobId = newId();
  const [[row], [job]] = await ctx.db.batch([
    ctx.db
      .update(worktrees)
      .set({
        status: "deleting",
        data: patchData(worktrees.data, { error: null, errorCode: null, jobId }),
        updatedAt: Date.now(),
      })
      .where(and(eq(worktrees.id, wt.id), eq(worktrees.status, wt.status)))
      .returning(),
    insertJob(
      ctx,
      await authorizeJob(ctx, {
        id: jobId,
        runnerId: wt.runnerId,
        boardId,
        type: "worktree.delete",
        payload: {
          worktreeId: wt.id,
          repoId: wt.repoId,
          name: wt.name,
          branch: wt.branch,
          force: opts.force,
          deleteBranch: opts.deleteBranch,
          deleteUnmerged: opts.deleteBranch && opts.deleteUnmerged,
          baseBranch: wt.baseBranch,
        },
      }),
    ),
  ]);
  if (!row) throw new AppError(409, "worktree_busy", "The worktree changed meanwhile; try again.");
  // Its shells and agents stop before its folder goes.
  await endWorktreeTerminals(ctx, wt.id, "its worktree is being deleted");
  await stopWorktreeSessions(ctx, wt.id);
  await publishWorktree(ctx, "patched", row);
  await jobQueued(ctx, job!);
  return toWorktree(row);
}

export async function refreshWorktree(ctx: Ctx, boardId: string, worktreeId: string): Promise<Job> {
  await requireBoardRole(ctx, boardId, "member");
  const wt = await loadWorktree(ctx, boardId, worktreeId);
  if (wt.status !== "ready") throw conflict("Only a ready worktree can be refreshed.", "worktree_busy");
  const job = await queueJob(ctx, {
    runnerId: wt.runnerId,
    boardId,
    type: "worktree.refresh",
    payload: { worktreeId: wt.id, repoId: wt.repoId, name: wt.name, baseBranch: wt.baseBranch },
  });
  return toJob(job);
}

/** What finished worktree jobs do to the card. */
export function worktreeJobEffect(ctx: Ctx, job: JobRow, outcome: JobOutcome, guard: SQL): JobEffect | null {
  const id = String(job.payload.worktreeId);
  const where = and(eq(worktrees.id, id), guard);
  const now = Date.now();

  if (job.type === "worktree.delete" && outcome.status === "succeeded") {
    const { branches } = JobResults["worktree.delete"].parse(outcome.result);
    const stmts: JobEffect["stmts"] = [
      ...dependentsOf(ctx, id),
      ctx.db.delete(worktrees).where(where).returning({ id: worktrees.id, boardId: worktrees.boardId }),
    ];
    if (branches) stmts.push(repoBranchesUpdate(ctx, String(job.payload.repoId), job.runnerId, branches, guard));
    return {
      stmts,
      async publish([gone, goneComments, rows, repoRows]) {
        const [row] = rows as { id: string; boardId: string }[];
        if (row) {
          await ctx.publish(row.boardId, removed("worktree", row.id));
          await publishDependentsGone(ctx, row.boardId, [gone, goneComments] as [{ id: string }[], { id: string }[]]);
        }
        const [repo] = (repoRows ?? []) as RepoRow[];
        if (repo) await publishRepo(ctx, "patched", repo);
      },
    };
  }

  let set: Partial<WorktreeRow> | null = null;
  /** A JSON merge patch: a null removes the key. */
  const data = (patch: { [K in keyof WorktreeData]?: WorktreeData[K] | null }) =>
    patchData(worktrees.data, patch) as unknown as WorktreeRow["data"];
  const failed = outcome.status === "failed" ? outcome : null;
  /** The repo's branches as the runner saw them after the job, so the create dialog's list stays true. */
  let branches: string[] | undefined;
  if (job.type === "worktree.create") {
    if (outcome.status === "succeeded") {
      const r = JobResults["worktree.create"].parse(outcome.result);
      branches = r.branches;
      set = {
        status: "ready",
        data: data({
          path: r.path,
          git: r.git,
          branchCreated: r.createdBranch,
          error: null,
          errorCode: null,
          jobId: null,
        }),
      };
    } else {
      const error = failed ? failed.error : "Creating the worktree was cancelled.";
      set = { status: "error", data: data({ error, errorCode: failed?.code ?? null, jobId: null }) };
    }
  } else if (job.type === "worktree.delete") {
    // The card's status follows what is on disk: the runner says whether the worktree is still
    // there; without its word (a lost runner, a cancel), a card that never got a folder stays failed.
    const onDisk = failed?.detail?.worktreeExists;
    set = {
      status: (onDisk === undefined
        ? sql`case when json_extract(${worktrees.data}, '$.path') is null then 'error' else 'ready' end`
        : onDisk
          ? "ready"
          : "error") as WorktreeRow["status"],
      data: data({ jobId: null, ...(failed ? { error: failed.error, errorCode: failed.code ?? null } : {}) }),
    };
  } else if (job.type === "worktree.refresh") {
    if (outcome.status === "succeeded") {
      const r = JobResults["worktree.refresh"].parse(outcome.result);
      set = { data: data({ git: r.git, error: null, errorCode: null }) };
    } else if (failed?.detail?.worktreeExists === false) {
      set = { status: "error", data: data({ error: failed.error, errorCode: "worktree_missing" }) };
    } else if (failed) set = { data: data({ error: failed.error, errorCode: failed.code ?? null }) };
  }
  if (!set) return null;
  const stmts: JobEffect["stmts"] = [
    ctx.db
      .update(worktrees)
      .set({ ...set, updatedAt: now })
      .where(where)
      .returning(),
  ];
  if (branches) stmts.push(repoBranchesUpdate(ctx, String(job.payload.repoId), job.runnerId, branches, guard));
  return {
    stmts,
    async publish([rows, repoRows]) {
      const [row] = rows as WorktreeRow[];
      if (row) await publishWorktree(ctx, "patched", row);
      const [repo] = (repoRows ?? []) as RepoRow[];
      if (repo) await publishRepo(ctx, "patched", repo);
      if (row && job.type === "worktree.create") await worktreeSettled(ctx, row);
    },
  };
}

/** The repo's branch list as the runner reported it (only for a repo that is this runner's and ready). */
function repoBranchesUpdate(
  ctx: Ctx,
  repoId: string,
  runnerId: string,
  branches: string[],
  guard?: SQL,
  defaultBranch?: string,
) {
  return ctx.db
    .update(repos)
    .set({ data: patchData(repos.data, { branches }), ...(defaultBranch ? { defaultBranch } : {}) })
    .where(and(eq(repos.id, repoId), eq(repos.runnerId, runnerId), eq(repos.status, "ready"), guard))
    .returning();
}

// ---- live git state, from the runner's watcher ----

/** What the runner should watch: its cards that ought to be on disk, newest first. */
export async function listRunnerWorktrees(ctx: Ctx): Promise<RunnerWorktree[]> {
  const rows = await ctx.db.query.worktrees.findMany({
    where: and(eq(worktrees.runnerId, actingRunnerId(ctx)), inArray(worktrees.status, ["ready", "error"])),
    orderBy: desc(worktrees.id),
    limit: MAX_WATCHED_WORKTREES * 2,
  });
  return rows
    .filter((r) => r.status === "ready" || (r.data as WorktreeData).errorCode === "worktree_missing")
    .slice(0, MAX_WATCHED_WORKTREES)
    .map((r) => ({
      id: r.id,
      repoId: r.repoId,
      name: r.name,
      branch: r.branch,
      baseBranch: r.baseBranch,
      status: r.status as "ready" | "error",
      git: (r.data as WorktreeData).git ?? null,
    }));
}

const sameGit = (a: GitState | undefined | null, b: GitState | null) =>
  !!a && !!b && a.head === b.head && a.ahead === b.ahead && a.behind === b.behind && a.changedFiles === b.changedFiles;

/**
 * Git state the runner saw change. Only this runner's rows are touched (anything else is counted
 * as ignored), and only cards at rest: one being created or deleted belongs to its job.
 */
export async function reportGitState(ctx: Ctx, report: z.infer<typeof GitReport>): Promise<GitReportResult> {
  const runnerId = actingRunnerId(ctx);
  const ids = [...new Set(report.worktrees.map((w) => w.worktreeId))];
  const rows = ids.length
    ? await ctx.db.query.worktrees.findMany({
        where: and(inArray(worktrees.id, ids), eq(worktrees.runnerId, runnerId)),
      })
    : [];
  const byId = new Map(rows.map((r) => [r.id, r]));
  const now = Date.now();
  const stmts: BatchStmt[] = [];
  let ignored = 0;
  for (const w of report.worktrees) {
    const row = byId.get(w.worktreeId);
    const d = row?.data as WorktreeData | undefined;
    let set: Partial<WorktreeRow> | null = null;
    if (!row || !d) ignored++;
    else if (row.status === "ready" && !w.exists) {
      set = {
        status: "error",
        data: patchData(worktrees.data, { error: MISSING, errorCode: "worktree_missing" }) as never,
      };
    } else if (row.status === "error" && d.errorCode === "worktree_missing" && w.exists) {
      set = {
        status: "ready",
        data: patchData(worktrees.data, { error: null, errorCode: null, ...(w.git ? { git: w.git } : {}) }) as never,
      };
    } else if (row.status === "ready" && w.git && !sameGit(d.git, w.git)) {
      set = { data: patchData(worktrees.data, { git: w.git }) as never };
    } else if (row.status !== "ready" && row.status !== "error") ignored++;
    if (!row || !set) continue;
    byId.delete(row.id);
    stmts.push(
      ctx.db
        .update(worktrees)
        .set({ ...set, updatedAt: now })
        .where(and(eq(worktrees.id, row.id), eq(worktrees.status, row.status)))
        .returning(),
    );
  }
  const repoStart = stmts.length;
  for (const r of report.repos)
    stmts.push(repoBranchesUpdate(ctx, r.repoId, runnerId, r.branches, undefined, r.defaultBranch));
  if (stmts.length === 0) return { applied: 0, ignored };
  const results = (await ctx.db.batch(stmts as [BatchStmt, ...BatchStmt[]])) as unknown[][];
  let applied = 0;
  for (const [i, res] of results.entries()) {
    const [row] = res as (WorktreeRow | RepoRow)[];
    if (!row) {
      if (i >= repoStart) ignored++;
      continue;
    }
    applied++;
    if (i < repoStart) await publishWorktree(ctx, "patched", row as WorktreeRow);
    else await publishRepo(ctx, "patched", row as RepoRow);
  }
  return { applied, ignored };
}
