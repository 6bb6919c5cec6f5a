import type { Column, SQL } from "drizzle-orm";
import { and, asc, eq, exists, sql } from "drizzle-orm";
import type { z } from "zod";
import type { AddRepoBody, Job, Repo, RepoSource } from "../../protocol/index.ts";
import { JobResults, WorktreeName } from "../../protocol/index.ts";
import { schema } from "../db/client.ts";
import { AppError, badRequest, conflict, forbidden, notFound } from "../lib/errors.ts";
import { newId } from "../lib/ids.ts";
import { describeIssues } from "../lib/validate.ts";
import type { Ctx } from "./context.ts";
import { entity, removed, userId } from "./context.ts";
import type { JobEffect, JobOutcome, JobRow } from "./job-queue.ts";
import { authorizeJob, insertJob, jobQueued, keepJobOnlyIf, queueJob, toJob } from "./job-queue.ts";
import { assertUsable, publishToRunnerBoards, requireRunnerOwner, requireRunnerUse } from "./runner-access.ts";

const { repos, worktrees } = schema;
export type RepoRow = typeof repos.$inferSelect;

/** What lives in `repos.data`: where the repo came from and what the runner last reported. */
interface RepoData {
  source: RepoSource;
  path?: string;
  branches?: string[];
  error?: string;
  /** The add job of the latest retry, so that of two retries at once only one queues a job. */
  jobId?: string;
}

export const toRepo = (r: RepoRow): Repo => {
  const d = r.data as unknown as RepoData;
  return {
    id: r.id,
    runnerId: r.runnerId,
    name: r.name,
    status: r.status,
    source: d.source,
    defaultBranch: r.defaultBranch,
    branches: d.branches ?? [],
    lastFetchedAt: r.lastFetchedAt,
    error: d.error ?? null,
    path: d.path ?? null,
    createdAt: r.createdAt,
  };
};

/** Merge into the JSON column in SQL (RFC 7396: a null deletes the key), so concurrent patches compose. */
export const patchData = (column: Column, patch: object) => sql`json_patch(${column}, ${JSON.stringify(patch)})`;

export const publishRepo = (ctx: Ctx, op: "created" | "patched", r: RepoRow) =>
  publishToRunnerBoards(ctx, r.runnerId, entity("repo", op, toRepo(r)));

/** `~/code/my-app` → `my-app`, `git@host:org/api.git` → `api`. */
function nameFrom(source: RepoSource): string {
  const raw = source.kind === "path" ? source.path : source.url;
  const last =
    raw
      .replace(/[/\\]+$/, "")
      .split(/[/\\:]/)
      .at(-1) ?? "";
  return last.replace(/\.git$/, "");
}

export async function listRepos(ctx: Ctx, runnerId: string): Promise<Repo[]> {
  await requireRunnerUse(ctx, runnerId, "viewer");
  const rows = await ctx.db.query.repos.findMany({ where: eq(repos.runnerId, runnerId), orderBy: asc(repos.name) });
  return rows.map(toRepo);
}

/** A folder on the runner's machine, named directly or through a file:// URL. */
const isLocal = (source: RepoSource) => source.kind === "path" || /^file:/i.test(source.url);

/** A path as typed, without trailing slashes, for telling the same folder given twice. */
const samePath = (p: string) => p.trim().replace(/(.)[/\\]+$/, "$1");

/**
 * Only the runner's owner may point it at a folder on their machine (by path or file:// URL):
 * anyone else could make it adopt any folder and learn about the disk from the errors. Members
 * pick from the repos the owner added, or clone one by a network URL into the data folder.
 */
async function requireSourceUse(ctx: Ctx, runnerId: string, source: RepoSource) {
  if (!isLocal(source)) return requireRunnerUse(ctx, runnerId, "member");
  try {
    return await requireRunnerOwner(ctx, runnerId);
  } catch (err) {
    if (err instanceof AppError && err.status === 403) {
      throw forbidden(
        "Only the runner's owner can add a folder from their machine. Pick a repo they added, or clone one by its https or ssh URL.",
        "not_runner_owner",
      );
    }
    throw err;
  }
}

export async function addRepo(ctx: Ctx, runnerId: string, body: z.infer<typeof AddRepoBody>): Promise<Repo> {
  assertUsable(await requireSourceUse(ctx, runnerId, body.source));
  const named = WorktreeName.safeParse(body.name ?? nameFrom(body.source));
  if (!named.success) {
    throw badRequest(`Give the repo a name: ${describeIssues(named.error)}`, "invalid_name");
  }
  const name = named.data;
  const existing = await ctx.db.query.repos.findMany({ where: eq(repos.runnerId, runnerId) });
  if (existing.some((r) => r.name === name)) {
    throw conflict(`This runner already has a repo named "${name}".`, "repo_exists");
  }
  if (body.source.kind === "path") {
    const want = samePath(body.source.path);
    const twin = existing.find((r) => {
      const d = r.data as unknown as RepoData;
      return (d.source.kind === "path" && samePath(d.source.path) === want) || (d.path && samePath(d.path) === want);
    });
    if (twin) throw conflict(`This folder is already on this runner as the repo "${twin.name}".`, "repo_exists");
  }
  const id = newId();
  const data: RepoData = { source: body.source };
  const [[row], [job]] = await ctx.db.batch([
    ctx.db
      .insert(repos)
      .values({ id, runnerId, name, data: data as unknown as Record<string, unknown>, createdBy: userId(ctx) })
      .returning(),
    insertJob(
      ctx,
      await authorizeJob(ctx, {
        runnerId,
        boardId: null,
        type: "repo.add",
        payload: { repoId: id, name, source: body.source },
        idempotencyKey: `repo.add:${id}`,
      }),
    ),
  ]);
  await jobQueued(ctx, job!);
  await publishRepo(ctx, "created", row!);
  return toRepo(row!);
}

export async function fetchRepo(ctx: Ctx, runnerId: string, repoId: string): Promise<Job> {
  assertUsable(await requireRunnerUse(ctx, runnerId, "member"));
  const repo = await ctx.db.query.repos.findFirst({ where: and(eq(repos.id, repoId), eq(repos.runnerId, runnerId)) });
  if (!repo) throw notFound("Repo");
  if (repo.status !== "ready")
    throw conflict("The repo is not ready yet: wait until it has been added.", "repo_not_ready");
  return toJob(await queueJob(ctx, { runnerId, boardId: null, type: "repo.fetch", payload: { repoId } }));
}

/** The runner's owner, or whoever added the repo, may retry or remove it. */
async function requireRepoManager(ctx: Ctx, runnerId: string, repoId: string) {
  const runner = await requireRunnerUse(ctx, runnerId, "member");
  const repo = await ctx.db.query.repos.findFirst({ where: and(eq(repos.id, repoId), eq(repos.runnerId, runnerId)) });
  if (!repo) throw notFound("Repo");
  if (runner.ownerId !== userId(ctx) && repo.createdBy !== userId(ctx)) {
    throw forbidden("Only the runner's owner or whoever added this repo can do this.", "not_repo_manager");
  }
  return { runner, repo };
}

/** Add a repo again after it failed (the folder was fixed, the network is back). */
export async function retryRepo(ctx: Ctx, runnerId: string, repoId: string): Promise<Repo> {
  const { runner, repo } = await requireRepoManager(ctx, runnerId, repoId);
  assertUsable(runner);
  const source = (repo.data as unknown as RepoData).source;
  await requireSourceUse(ctx, runnerId, source);
  if (repo.status !== "error") {
    throw conflict(`Only a repo that failed can be retried; this one is ${repo.status}.`, "repo_not_failed");
  }
  const jobId = newId();
  const [[row], [job]] = await ctx.db.batch([
    ctx.db
      .update(repos)
      .set({ status: "adding", data: patchData(repos.data, { error: null, jobId }) })
      .where(and(eq(repos.id, repo.id), eq(repos.status, "error")))
      .returning(),
    insertJob(
      ctx,
      await authorizeJob(ctx, {
        id: jobId,
        runnerId,
        boardId: null,
        type: "repo.add",
        payload: { repoId: repo.id, name: repo.name, source },
        idempotencyKey: `repo.add:${repo.id}:${jobId}`,
      }),
    ),
    // Only if the update above took the repo: of two retries at once, one queues a job.
    keepJobOnlyIf(
      ctx,
      jobId,
      exists(
        ctx.db
          .select({ one: sql`1` })
          .from(repos)
          .where(and(eq(repos.id, repo.id), sql`json_extract(${repos.data}, '$.jobId') = ${jobId}`)),
      ),
    ),
  ]);
  if (!row) throw conflict("The repo changed meanwhile; try again.", "repo_busy");
  await jobQueued(ctx, job!);
  await publishRepo(ctx, "patched", row);
  return toRepo(row);
}

/**
 * Remove a repo from the runner's list, in any state. Refused while cards use it (deleting them
 * first removes their worktrees properly). The runner then forgets it: a clone in its data folder
 * is deleted, a folder it used in place is left exactly as it is.
 */
export async function removeRepo(ctx: Ctx, runnerId: string, repoId: string): Promise<void> {
  const { runner, repo } = await requireRepoManager(ctx, runnerId, repoId);
  const inUse = sql`exists (select 1 from ${worktrees} where ${worktrees.repoId} = ${repo.id})`;
  const [gone] = await ctx.db
    .delete(repos)
    .where(and(eq(repos.id, repo.id), sql`not ${inUse}`))
    .returning({ id: repos.id });
  if (!gone) {
    const cards = await ctx.db.$count(worktrees, eq(worktrees.repoId, repo.id));
    throw conflict(
      `${cards} worktree card${cards === 1 ? " uses" : "s use"} this repo: delete ${cards === 1 ? "it" : "them"} first, which removes their worktrees from the runner.`,
      "repo_in_use",
    );
  }
  // After the row is gone, not beside it: a stray job must never make the runner forget a repo
  // that is still in use. A runner that misses it keeps a harmless entry nobody points at.
  if (runner.status !== "revoked") {
    await queueJob(ctx, { runnerId, boardId: null, type: "repo.remove", payload: { repoId: repo.id } });
  }
  await publishToRunnerBoards(ctx, runnerId, removed("repo", repo.id));
}

/** What finished `repo.add` / `repo.fetch` jobs do to the repo row. */
export function repoJobEffect(ctx: Ctx, job: JobRow, outcome: JobOutcome, guard: SQL): JobEffect | null {
  const repoId = String(job.payload.repoId);
  const now = Date.now();
  let set: Partial<Record<keyof RepoRow, unknown>>;
  if (outcome.status === "succeeded") {
    const r =
      job.type === "repo.add"
        ? JobResults["repo.add"].parse(outcome.result)
        : { path: undefined, ...JobResults["repo.fetch"].parse(outcome.result) };
    set = {
      status: "ready",
      defaultBranch: r.defaultBranch,
      lastFetchedAt: now,
      data: patchData(repos.data, { branches: r.branches, error: null, ...(r.path ? { path: r.path } : {}) }),
    };
    if (r.path) {
      // The same folder reached another way (`~/x` and `/home/me/x`, a subfolder): one repo per folder.
      const twin = sql`(select ${repos.name} from ${repos} where ${repos.runnerId} = ${job.runnerId} and ${repos.id} != ${repoId} and ${repos.status} = 'ready' and json_extract(${repos.data}, '$.path') = ${r.path} limit 1)`;
      const message = sql`'This folder is already on this runner as the repo "' || ${twin} || '".'`;
      set.status = sql`case when ${twin} is null then 'ready' else 'error' end`;
      set.data = sql`case when ${twin} is null then ${set.data} else json_patch(${repos.data}, json_object('error', ${message}, 'path', ${r.path})) end`;
    }
  } else if (outcome.status === "failed") {
    // A failed fetch leaves a usable repo; a failed add leaves nothing to use.
    set = {
      ...(job.type === "repo.add" ? { status: "error" } : {}),
      data: patchData(repos.data, { error: outcome.error }),
    };
  } else if (job.type === "repo.add") {
    set = { status: "error", data: patchData(repos.data, { error: "Adding the repo was cancelled." }) };
  } else return null;
  return {
    stmts: [
      ctx.db
        .update(repos)
        .set(set as Partial<RepoRow>)
        .where(and(eq(repos.id, repoId), guard))
        .returning(),
    ],
    async publish([rows]) {
      const [row] = rows as RepoRow[];
      if (row) await publishRepo(ctx, "patched", row);
    },
  };
}
