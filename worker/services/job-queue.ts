import type { SQL } from "drizzle-orm";
import { and, eq, not } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { z } from "zod";
import type { Job, JobFailureCode, JobFailureDetail, JobPayloads, JobType } from "../../protocol/index.ts";
import { schema } from "../db/client.ts";
import { forbidden } from "../lib/errors.ts";
import { newId } from "../lib/ids.ts";
import type { Ctx } from "./context.ts";
import { entity } from "./context.ts";
import { assertUsable, isSharedWithBoard, loadRunner, requireRunnerUse } from "./runner-access.ts";

/**
 * Putting work in front of a runner: the job row, and the wake-up on its link. Kept apart from the
 * lease protocol (jobs.ts) so domain modules can queue jobs without depending on it.
 */

const { jobs } = schema;
export type JobRow = typeof jobs.$inferSelect;

/** A row as the API shows it. Rows are only ever written through `JobSpec`, so the type and payload agree. */
export const toJob = (r: JobRow): Job =>
  ({
    id: r.id,
    runnerId: r.runnerId,
    boardId: r.boardId,
    type: r.type,
    payload: r.payload,
    status: r.status,
    attempts: r.attempts,
    cancelRequested: r.cancelRequested,
    result: r.result ?? null,
    error: r.error,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  }) as Job;

export interface JobSpec<T extends JobType> {
  /** Set when the row the job acts on must point at it; a fresh id otherwise. */
  id?: string;
  runnerId: string;
  boardId: string | null;
  type: T;
  payload: z.infer<(typeof JobPayloads)[T]>;
  idempotencyKey?: string;
}

/**
 * May this job be put in front of its runner? The one check every job passes as it is queued,
 * whatever the route: the runner is not revoked, and a board's job runs only on a runner shared
 * with that board (so unsharing takes the runner away from the board's old cards too); a job of
 * no board only on a runner the caller owns or may use through a board.
 */
export async function authorizeJob<T extends JobType>(ctx: Ctx, spec: JobSpec<T>): Promise<AuthorizedJob<T>> {
  const runner = spec.boardId
    ? await loadRunner(ctx, spec.runnerId)
    : await requireRunnerUse(ctx, spec.runnerId, "member");
  assertUsable(runner);
  if (spec.boardId && !(await isSharedWithBoard(ctx, spec.runnerId, spec.boardId))) {
    throw forbidden(
      "This runner is no longer shared with this board. Its owner can share it again from the runner's settings.",
      "runner_not_shared",
    );
  }
  return spec as AuthorizedJob<T>;
}

declare const authorized: unique symbol;
/** A spec that passed `authorizeJob`: the only kind `insertJob` takes, so no route can skip the check. */
export type AuthorizedJob<T extends JobType> = JobSpec<T> & { readonly [authorized]: true };

/**
 * The insert, to batch with the row the job acts on (`insertJob(ctx, await authorizeJob(ctx, spec))`);
 * follow with `jobQueued` once committed.
 */
export function insertJob<T extends JobType>(ctx: Ctx, spec: AuthorizedJob<T>) {
  const createdBy = ctx.actor.kind === "user" ? ctx.actor.userId : null;
  return ctx.db
    .insert(jobs)
    .values({
      id: spec.id ?? newId(),
      runnerId: spec.runnerId,
      boardId: spec.boardId,
      type: spec.type,
      payload: spec.payload as Record<string, unknown>,
      idempotencyKey: spec.idempotencyKey ?? null,
      createdBy,
    })
    .returning();
}

/**
 * Put right after `insertJob` in a batch whose write to the job's row is conditional: the job is
 * taken back in the same transaction unless `held` (an EXISTS on that row in the state the write
 * put it in) is true, so a write that matched nothing, because the row changed meanwhile, leaves
 * no job a runner could claim.
 */
export function keepJobOnlyIf(ctx: Ctx, jobId: string, held: SQL) {
  return ctx.db.delete(jobs).where(and(eq(jobs.id, jobId), not(held)));
}

export async function jobQueued(ctx: Ctx, job: JobRow): Promise<void> {
  await Promise.all([wakeRunner(ctx, job.runnerId), publishJob(ctx, job, "created")]);
}

export async function queueJob<T extends JobType>(ctx: Ctx, spec: JobSpec<T>): Promise<JobRow> {
  const [row] = await insertJob(ctx, await authorizeJob(ctx, spec));
  await jobQueued(ctx, row!);
  return row!;
}

/** Board jobs are shown on their board; runner-level jobs (repos, pings) only through their rows. */
export async function publishJob(ctx: Ctx, job: JobRow, op: "created" | "patched" = "patched"): Promise<void> {
  if (job.boardId) await ctx.publish(job.boardId, entity("job", op, toJob(job)));
}

/**
 * Like publishing, a wake-up never fails the write that caused it (the ports are best effort): the
 * job is in D1, and a runner that missed the wake claims it on its next connect.
 */
export const wakeRunner = (ctx: Ctx, runnerId: string) => ctx.links.wake(runnerId);
export const sendCancel = (ctx: Ctx, runnerId: string, jobId: string) => ctx.links.cancel(runnerId, jobId);
export const watchLease = (ctx: Ctx, runnerId: string, expiresAt: number) => ctx.links.watchLease(runnerId, expiresAt);

// ---- what a settled job does to the rows it acts on ----

export type JobOutcome =
  | { status: "succeeded"; result: Record<string, unknown> }
  | { status: "failed"; error: string; code?: JobFailureCode; detail?: JobFailureDetail }
  | { status: "cancelled" };

/**
 * A job type's effect on its domain rows. The statements run in the same D1 batch as the job's
 * transition, before it, each guarded by `guard` (an EXISTS on the job still being in the state
 * the transition expects), so an effect applies exactly when the transition wins: never twice, and
 * never for a stale lease.
 */
export interface JobEffect {
  stmts: BatchItem<"sqlite">[];
  /** Announce what changed, after the batch committed; gets each statement's result in order. */
  publish(results: unknown[]): Promise<void>;
}
export type JobEffectFn = (ctx: Ctx, job: JobRow, outcome: JobOutcome, guard: SQL) => JobEffect | null;
