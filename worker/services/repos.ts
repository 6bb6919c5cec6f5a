import type { Column, SQL } from "drizzle-orm";
import { and, asc, eq, sql } from "drizzle-orm";
import type { z } from "zod";
import type { AddRepoBody, Job, Repo, RepoSource } from "../../protocol/index.ts";
import { JobResults, WorktreeName } from "../../protocol/index.ts";
import { schema } from "../db/client.ts";
import { badRequest, conflict, forbidden, notFound } from "../lib/errors.ts";
import { newId } from "../lib/ids.ts";
import { describeIssues } from "../lib/validate.ts";
import type { Ctx } from "./context.ts";
import { entity, userId } from "./context.ts";
import type { JobEffect, JobOutcome, JobRow } from "./job-queue.ts";
import { authorizeJob, insertJob, jobQueued, queueJob, toJob } from "./job-queue.ts";
import { assertUsable, publishToRunnerBoards, requireRunnerUse } from "./runner-access.ts";

const { repos } = schema;
type RepoRow = typeof repos.$inferSelect;

/** What lives in `repos.data`: where the repo came from and what the runner last reported. */
interface RepoData {
  source: RepoSource;
  path?: string;
  branches?: string[];
  error?: string;
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

const publishRepo = (ctx: Ctx, op: "created" | "patched", r: RepoRow) =>
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

export async function addRepo(ctx: Ctx, runnerId: string, body: z.infer<typeof AddRepoBody>): Promise<Repo> {
  const runner = await requireRunnerUse(ctx, runnerId, "member");
  assertUsable(runner);
  // A file:// URL reads the runner machine's own disk: that is its owner's to choose.
  if (body.source.kind === "url" && body.source.url.startsWith("file:") && runner.ownerId !== userId(ctx)) {
    throw forbidden(
      "Only the runner's owner can add a repo from a file:// URL; clone over https or ssh.",
      "not_runner_owner",
    );
  }
  const named = WorktreeName.safeParse(body.name ?? nameFrom(body.source));
  if (!named.success) {
    throw badRequest(`Give the repo a name: ${describeIssues(named.error)}`, "invalid_name");
  }
  const name = named.data;
  const taken = await ctx.db.query.repos.findFirst({
    where: and(eq(repos.runnerId, runnerId), eq(repos.name, name)),
    columns: { id: true },
  });
  if (taken) throw conflict(`This runner already has a repo named "${name}".`, "repo_exists");
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
