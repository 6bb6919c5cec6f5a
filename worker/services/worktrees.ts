import type { SQL } from "drizzle-orm";
import { and, asc, eq, gt } from "drizzle-orm";
import type { z } from "zod";
import type {
  CreateWorktreeBody,
  DeleteWorktreeQuery,
  GitState,
  Job,
  Page,
  PatchWorktreeBody,
  Worktree,
  WorktreePageQuery,
} from "../../protocol/index.ts";
import { JobResults } from "../../protocol/index.ts";
import { schema } from "../db/client.ts";
import { AppError, badRequest, conflict, forbidden, notFound } from "../lib/errors.ts";
import { newId } from "../lib/ids.ts";
import { requireBoardRole } from "./access.ts";
import type { Ctx } from "./context.ts";
import { entity, removed, userId } from "./context.ts";
import type { JobEffect, JobOutcome, JobRow } from "./job-queue.ts";
import { authorizeJob, insertJob, jobQueued, queueJob, toJob } from "./job-queue.ts";
import { patchData } from "./repos.ts";
import { assertUsable, isSharedWithBoard, loadRunner, requireRunnerUse } from "./runner-access.ts";

const { worktrees, repos, zones } = schema;
type WorktreeRow = typeof worktrees.$inferSelect;

/** What lives in `worktrees.data`. */
interface WorktreeData {
  git?: GitState;
  path?: string;
  issueUrl?: string;
  notes?: string;
  error?: string;
  jobId?: string;
}

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
    error: d.error ?? null,
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
    where: and(eq(worktrees.boardId, boardId), q.cursor ? gt(worktrees.id, q.cursor) : undefined),
    orderBy: asc(worktrees.id),
    limit: q.limit + 1,
  });
  const items = rows.slice(0, q.limit).map(toWorktree);
  return { items, nextCursor: rows.length > q.limit ? items.at(-1)!.id : null };
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
  const inUse = clash.find((w) => w.branch === body.branch);
  if (inUse) {
    throw conflict(`Branch "${body.branch}" is already checked out in worktree "${inUse.name}".`, "branch_in_use");
  }
  const id = newId();
  const jobId = newId();
  const baseBranch = body.baseBranch ?? repo.defaultBranch;
  const data: WorktreeData = { notes: body.notes, jobId, ...(body.issueUrl ? { issueUrl: body.issueUrl } : {}) };
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
        await authorizeJob(ctx, {
          id: jobId,
          runnerId: repo.runnerId,
          boardId,
          type: "worktree.create",
          payload: {
            worktreeId: id,
            repoId: repo.id,
            name: body.name,
            mode: body.mode,
            branch: body.branch,
            baseBranch,
          },
          idempotencyKey: `worktree.create:${id}`,
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

export async function patchWorktree(
  ctx: Ctx,
  boardId: string,
  worktreeId: string,
  body: z.infer<typeof PatchWorktreeBody>,
): Promise<Worktree> {
  await requireBoardRole(ctx, boardId, "member");
  await assertZoneOnBoard(ctx, boardId, body.zoneId);
  const { notes, ...columns } = body;
  const [row] = await ctx.db
    .update(worktrees)
    .set({
      ...columns,
      ...(notes !== undefined ? { data: patchData(worktrees.data, { notes }) } : {}),
      updatedAt: Date.now(),
    })
    .where(and(eq(worktrees.id, worktreeId), eq(worktrees.boardId, boardId)))
    .returning();
  if (!row) throw notFound("Worktree");
  await publishWorktree(ctx, "patched", row);
  return toWorktree(row);
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
  const runner = await loadRunner(ctx, wt.runnerId);
  if (runner.status === "revoked" || !(await isSharedWithBoard(ctx, wt.runnerId, boardId))) {
    // Nobody may be asked (the runner was revoked, or unshared from this board, which takes it
    // away from the board's old cards too): the card goes, the folder stays on that machine.
    await ctx.db.delete(worktrees).where(eq(worktrees.id, wt.id));
    await ctx.publish(boardId, removed("worktree", wt.id));
    return null;
  }
  const jobId = newId();
  const [[row], [job]] = await ctx.db.batch([
    ctx.db
      .update(worktrees)
      .set({ status: "deleting", data: patchData(worktrees.data, { error: null, jobId }), updatedAt: Date.now() })
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
        },
      }),
    ),
  ]);
  if (!row) throw new AppError(409, "worktree_busy", "The worktree changed meanwhile; try again.");
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
    return {
      stmts: [ctx.db.delete(worktrees).where(where).returning({ id: worktrees.id, boardId: worktrees.boardId })],
      async publish([rows]) {
        const [row] = rows as { id: string; boardId: string }[];
        if (row) await ctx.publish(row.boardId, removed("worktree", row.id));
      },
    };
  }

  let set: Partial<WorktreeRow> | null = null;
  /** A JSON merge patch: a null removes the key. */
  const data = (patch: { [K in keyof WorktreeData]?: WorktreeData[K] | null }) =>
    patchData(worktrees.data, patch) as unknown as WorktreeRow["data"];
  if (job.type === "worktree.create") {
    if (outcome.status === "succeeded") {
      const r = JobResults["worktree.create"].parse(outcome.result);
      set = { status: "ready", data: data({ path: r.path, git: r.git, error: null, jobId: null }) };
    } else {
      const error = outcome.status === "failed" ? outcome.error : "Creating the worktree was cancelled.";
      set = { status: "error", data: data({ error, jobId: null }) };
    }
  } else if (job.type === "worktree.delete") {
    set = {
      status: "ready",
      data: data({ jobId: null, ...(outcome.status === "failed" ? { error: outcome.error } : {}) }),
    };
  } else if (job.type === "worktree.refresh") {
    if (outcome.status === "succeeded") {
      const r = JobResults["worktree.refresh"].parse(outcome.result);
      set = { data: data({ git: r.git, error: null }) };
    } else if (outcome.status === "failed") set = { data: data({ error: outcome.error }) };
  }
  if (!set) return null;
  return {
    stmts: [
      ctx.db
        .update(worktrees)
        .set({ ...set, updatedAt: now })
        .where(where)
        .returning(),
    ],
    async publish([rows]) {
      const [row] = rows as WorktreeRow[];
      if (row) await publishWorktree(ctx, "patched", row);
    },
  };
}
