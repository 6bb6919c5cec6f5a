import type { SQL } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { z } from "zod";
import { getRunnerLink } from "../../party/stubs.ts";
import type { Job, JobFailureCode, JobFailureDetail, JobPayloads, JobType } from "../../protocol/index.ts";
import { schema } from "../db/client.ts";
import { newId } from "../lib/ids.ts";
import type { Ctx } from "./context.ts";
import { entity } from "./context.ts";

/**
 * Putting work in front of a runner: the job row, and the wake-up on its link. Kept apart from the
 * lease protocol (jobs.ts) so domain modules can queue jobs without depending on it.
 */

const { jobs } = schema;
export type JobRow = typeof jobs.$inferSelect;

export const toJob = (r: JobRow): Job => ({
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
});

export interface JobSpec<T extends JobType> {
  /** Set when the row the job acts on must point at it; a fresh id otherwise. */
  id?: string;
  runnerId: string;
  boardId: string | null;
  type: T;
  payload: z.infer<(typeof JobPayloads)[T]>;
  idempotencyKey?: string;
}

/** The insert, to batch with the row the job acts on; follow with `jobQueued` once committed. */
export function insertJob<T extends JobType>(ctx: Ctx, spec: JobSpec<T>) {
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

export async function jobQueued(ctx: Ctx, job: JobRow): Promise<void> {
  await Promise.all([wakeRunner(ctx, job.runnerId), publishJob(ctx, job, "created")]);
}

export async function queueJob<T extends JobType>(ctx: Ctx, spec: JobSpec<T>): Promise<JobRow> {
  const [row] = await insertJob(ctx, spec);
  await jobQueued(ctx, row!);
  return row!;
}

/** Board jobs are shown on their board; runner-level jobs (repos, pings) only through their rows. */
export async function publishJob(ctx: Ctx, job: JobRow, op: "created" | "patched" = "patched"): Promise<void> {
  if (job.boardId) await ctx.publish(job.boardId, entity("job", op, toJob(job)));
}

/**
 * Like publishing, a wake-up never fails the write that caused it: the job is in D1, and a runner
 * that missed the wake claims it on its next connect (the link wakes every new connection).
 */
async function linkCall(
  ctx: Ctx,
  runnerId: string,
  what: string,
  call: (link: ReturnType<typeof getRunnerLink>) => Promise<unknown>,
) {
  try {
    await call(getRunnerLink(ctx.env, runnerId));
  } catch (err) {
    console.error(`runner link ${what} failed`, runnerId, err);
  }
}

export const wakeRunner = (ctx: Ctx, runnerId: string) => linkCall(ctx, runnerId, "wake", (l) => l.wake());
export const sendCancel = (ctx: Ctx, runnerId: string, jobId: string) =>
  linkCall(ctx, runnerId, "cancel", (l) => l.cancel(jobId));
export const watchLease = (ctx: Ctx, runnerId: string, expiresAt: number) =>
  linkCall(ctx, runnerId, "watchLease", (l) => l.watchLease(expiresAt));

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
