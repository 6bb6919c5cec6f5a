import type { SQL } from "drizzle-orm";
import { and, asc, eq, exists, inArray, lte, min, notInArray, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { z } from "zod";
import type { CompleteJobBody, Job, JobClaim, JobEventsBody, JobEventsResult, JobType } from "../../protocol/index.ts";
import { IDEMPOTENT_JOBS, JOB_LEASE_MS, JobResults } from "../../protocol/index.ts";
import { schema } from "../db/client.ts";
import { randomToken } from "../lib/crypto.ts";
import { AppError, badRequest, conflict, notFound } from "../lib/errors.ts";
import { describeIssues } from "../lib/validate.ts";
import { requireBoardRole } from "./access.ts";
import type { Ctx } from "./context.ts";
import { userId } from "./context.ts";
import type { JobEffect, JobEffectFn, JobOutcome, JobRow } from "./job-queue.ts";
import { publishJob, queueJob, sendCancel, toJob, wakeRunner, watchLease } from "./job-queue.ts";
import { repoJobEffect } from "./repos.ts";
import { actingRunnerId, assertUsable, requireRunnerOwner } from "./runner-access.ts";
import { sessionEventsEffect, sessionTaskEffect, sessionTaskStarted } from "./session-tasks.ts";
import { worktreeJobEffect } from "./worktrees.ts";

/**
 * The job lifecycle: queued → claimed (lease) → running → succeeded | failed | cancelled, with
 * expired leases swept back to queued (idempotent types) or to failed. Every runner write is fenced
 * by the lease token in its WHERE clause, so a runner presumed lost changes nothing.
 */

const { jobs, runners } = schema;
const ACTIVE = ["claimed", "running"] as const;
const OPEN = ["queued", "claimed", "running"] as const;

/** What each job type does to its domain rows when it settles; every type is listed (null: nothing). */
const EFFECTS: { [T in JobType]: JobEffectFn | null } = {
  ping: null,
  "repo.add": repoJobEffect,
  "repo.fetch": repoJobEffect,
  // The repo row is gone before the job is queued: the runner only forgets its local entry.
  "repo.remove": null,
  "worktree.create": worktreeJobEffect,
  "worktree.delete": worktreeJobEffect,
  "worktree.refresh": worktreeJobEffect,
  "session.task": sessionTaskEffect,
};

/** What a job type does with the progress events its runner posts (types not listed post none). */
const EVENT_EFFECTS: { [T in JobType]?: JobEventsEffectFn } = {
  "session.task": sessionEventsEffect,
};
type JobEventsEffectFn = (
  ctx: Ctx,
  job: JobRow,
  events: z.infer<typeof JobEventsBody>["events"],
  guard: SQL,
) => Promise<JobEffect>;

/** What a job type does when its runner starts it. */
const STARTS: { [T in JobType]?: (ctx: Ctx, job: JobRow) => Promise<void> } = {
  "session.task": sessionTaskStarted,
};

const isIdempotent = (type: string) => IDEMPOTENT_JOBS.has(type as JobType);

/** The job is this runner's and the lease is the current one. */
const leaseHeld = (jobId: string, runnerId: string, leaseToken: string) =>
  and(eq(jobs.id, jobId), eq(jobs.runnerId, runnerId), eq(jobs.leaseToken, leaseToken), inArray(jobs.status, ACTIVE));

const staleLease = () =>
  conflict(
    "This job's lease is no longer yours: it expired and was handed on, or the job has ended. Drop its work.",
    "stale_lease",
  );

/** Why a fenced write matched nothing: the job is not this runner's (404) or the lease moved on (409). */
async function refusal(ctx: Ctx, jobId: string): Promise<AppError> {
  const job = await ctx.db.query.jobs.findFirst({ where: eq(jobs.id, jobId), columns: { runnerId: true } });
  return !job || job.runnerId !== actingRunnerId(ctx) ? notFound("Job") : staleLease();
}

/**
 * Move a job to its end state and apply its effects, all in one batch and all conditional on
 * `where` still matching. Returns null when something else settled or moved the job first.
 */
async function settle(
  ctx: Ctx,
  job: JobRow,
  outcome: JobOutcome,
  where: SQL | undefined,
  opts: { revokeLease?: boolean } = {},
): Promise<JobRow | null> {
  const guard = exists(ctx.db.select({ one: sql`1` }).from(jobs).where(where));
  const effect = EFFECTS[job.type as JobType]?.(ctx, job, outcome, guard) ?? null;
  const transition = ctx.db
    .update(jobs)
    .set({
      status: outcome.status,
      result: outcome.status === "succeeded" ? outcome.result : null,
      error: outcome.status === "failed" ? outcome.error : null,
      leaseExpiresAt: null,
      // A lease the edge took back is dead; one the runner completed with is kept so a repeated
      // completion can be recognised and answered with the same outcome.
      ...(opts.revokeLease ? { leaseToken: null } : {}),
      updatedAt: Date.now(),
    })
    .where(where)
    .returning();
  const stmts = [...(effect?.stmts ?? []), transition] as unknown as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]];
  const results = (await ctx.db.batch(stmts)) as unknown[];
  const [row] = results.at(-1) as JobRow[];
  if (!row) return null;
  await effect?.publish(results.slice(0, -1));
  await publishJob(ctx, row);
  return row;
}

// ---- the runner's side ----

/**
 * Claim the oldest queued job for this runner in one statement: D1 runs it atomically. A runner
 * names the types it can run, and claims only those: an older runner never takes a job it would
 * only fail, and the job waits for one that knows it.
 */
export async function claimJob(ctx: Ctx, types?: string[]): Promise<JobClaim | null> {
  const runnerId = actingRunnerId(ctx);
  const leaseToken = randomToken("lease_", 18);
  const now = Date.now();
  const leaseExpiresAt = now + JOB_LEASE_MS;
  const oldest = ctx.db
    .select({ id: jobs.id })
    .from(jobs)
    .where(and(eq(jobs.runnerId, runnerId), eq(jobs.status, "queued"), types ? inArray(jobs.type, types) : undefined))
    .orderBy(asc(jobs.id))
    .limit(1);
  // One round trip: the claim, then whether anything else is still waiting.
  const [[row], [next]] = await ctx.db.batch([
    ctx.db
      .update(jobs)
      .set({ status: "claimed", leaseToken, leaseExpiresAt, attempts: sql`${jobs.attempts} + 1`, updatedAt: now })
      .where(and(inArray(jobs.id, oldest), eq(jobs.status, "queued")))
      .returning(),
    oldest,
  ]);
  if (!row) return null;
  await Promise.all([watchLease(ctx, runnerId, leaseExpiresAt), publishJob(ctx, row)]);
  return { job: toJob(row), leaseToken, leaseExpiresAt, more: next !== undefined };
}

/**
 * Renew the lease (and on start, mark the job running). A lease that ran out but was not swept yet
 * is still renewed: nobody else holds the job, so the work is not wasted.
 */
async function renew(ctx: Ctx, jobId: string, leaseToken: string, start: boolean) {
  const now = Date.now();
  const leaseExpiresAt = now + JOB_LEASE_MS;
  const [row] = await ctx.db
    .update(jobs)
    .set({ leaseExpiresAt, updatedAt: now, ...(start ? { status: "running" as const } : {}) })
    .where(leaseHeld(jobId, actingRunnerId(ctx), leaseToken))
    .returning();
  if (!row) throw await refusal(ctx, jobId);
  return { row, leaseExpiresAt };
}

export async function startJob(ctx: Ctx, jobId: string, leaseToken: string) {
  const { row, leaseExpiresAt } = await renew(ctx, jobId, leaseToken, true);
  await publishJob(ctx, row);
  await STARTS[row.type as JobType]?.(ctx, row);
  return { leaseExpiresAt, cancelRequested: row.cancelRequested };
}

export async function heartbeatJob(ctx: Ctx, jobId: string, leaseToken: string) {
  const { row, leaseExpiresAt } = await renew(ctx, jobId, leaseToken, false);
  return { leaseExpiresAt, cancelRequested: row.cancelRequested };
}

/**
 * Events at or below the last applied seq are skipped, so a retried post applies nothing twice.
 * The seq advances with a compare-and-set on the old value, so two overlapping posts cannot both
 * apply the same events.
 */
export async function appendJobEvents(
  ctx: Ctx,
  jobId: string,
  body: z.infer<typeof JobEventsBody>,
): Promise<JobEventsResult> {
  const held = leaseHeld(jobId, actingRunnerId(ctx), body.leaseToken);
  for (let attempt = 0; attempt < 3; attempt++) {
    const job = await ctx.db.query.jobs.findFirst({ where: held });
    if (!job) throw await refusal(ctx, jobId);
    const fresh = body.events.filter((e) => e.seq > job.eventSeq).sort((a, b) => a.seq - b.seq);
    if (fresh.length === 0) return { accepted: 0, lastSeq: job.eventSeq };
    const lastSeq = fresh.at(-1)!.seq;
    // The events' own writes go in the batch that advances the seq, each applying only if that
    // advance won: a retried or overlapping post can never apply an event twice, or half of one.
    const won = exists(
      ctx.db
        .select({ one: sql`1` })
        .from(jobs)
        .where(and(held, eq(jobs.eventSeq, lastSeq))),
    );
    const effect = (await EVENT_EFFECTS[job.type as JobType]?.(ctx, job, fresh, won)) ?? null;
    const advance = ctx.db
      .update(jobs)
      .set({ eventSeq: lastSeq, updatedAt: Date.now() })
      .where(and(held, eq(jobs.eventSeq, job.eventSeq)))
      .returning({ id: jobs.id });
    const results = (await ctx.db.batch([advance, ...(effect?.stmts ?? [])] as unknown as [
      BatchItem<"sqlite">,
      ...BatchItem<"sqlite">[],
    ])) as unknown[];
    const [moved] = results[0] as { id: string }[];
    if (moved) {
      await effect?.publish(results.slice(1));
      return { accepted: fresh.length, lastSeq };
    }
  }
  throw conflict("Events for this job are being posted concurrently; post them in order.", "concurrent_events");
}

const repeats = (job: JobRow, status: z.infer<typeof CompleteJobBody>["status"]) =>
  status === "released" ? job.status === "queued" : job.status === status;

export async function completeJob(ctx: Ctx, jobId: string, body: z.infer<typeof CompleteJobBody>): Promise<Job> {
  const runnerId = actingRunnerId(ctx);
  const job = await ctx.db.query.jobs.findFirst({ where: and(eq(jobs.id, jobId), eq(jobs.runnerId, runnerId)) });
  if (!job) throw notFound("Job");
  if (job.leaseToken !== body.leaseToken) throw staleLease();
  // A retried completion (the answer to the first one was lost) gets the same answer, changing nothing.
  if (repeats(job, body.status)) return toJob(job);
  if (!(ACTIVE as readonly string[]).includes(job.status)) throw staleLease();
  const held = leaseHeld(jobId, runnerId, body.leaseToken);

  if (body.status === "released") {
    if (job.cancelRequested) return toJob(await settleOrRefuse(ctx, job, { status: "cancelled" }, held));
    return toJob(await releaseJob(ctx, job, held));
  }
  let outcome: JobOutcome;
  if (body.status === "succeeded") {
    const schema = JobResults[job.type as JobType];
    const parsed = schema ? schema.safeParse(body.result) : null;
    if (parsed && !parsed.success) {
      throw badRequest(`Invalid result for a ${job.type} job: ${describeIssues(parsed.error)}`, "invalid_result");
    }
    outcome = { status: "succeeded", result: (parsed?.data ?? body.result) as Record<string, unknown> };
  } else if (body.status === "failed") {
    outcome = { status: "failed", error: body.error, code: body.code, detail: body.detail };
  } else outcome = { status: "cancelled" };
  return toJob(await settleOrRefuse(ctx, job, outcome, held));
}

async function settleOrRefuse(ctx: Ctx, job: JobRow, outcome: JobOutcome, where: SQL | undefined) {
  const row = await settle(ctx, job, outcome, where);
  if (!row) throw staleLease();
  return row;
}

/** Ctrl-C drain: the job goes back to the queue, and the hand-back does not count as an attempt. */
async function releaseJob(ctx: Ctx, job: JobRow, held: SQL | undefined): Promise<JobRow> {
  if (job.status === "running" && !isIdempotent(job.type)) {
    throw badRequest(
      `A running ${job.type} job cannot be handed back (retrying it could repeat its effect); complete or fail it.`,
      "not_releasable",
    );
  }
  const [row] = await ctx.db
    .update(jobs)
    .set({
      status: "queued",
      attempts: sql`max(${jobs.attempts} - 1, 0)`,
      leaseExpiresAt: null,
      updatedAt: Date.now(),
    })
    .where(held)
    .returning();
  if (!row) throw staleLease();
  await Promise.all([wakeRunner(ctx, row.runnerId), publishJob(ctx, row)]);
  return row;
}

/**
 * Take back every expired lease of a runner: idempotent jobs go back to the queue while they have
 * attempts left, everything else fails with "runner lost". Called by the runner's link alarm.
 * Returns when the next live lease runs out, so the alarm knows when to look again.
 */
export async function sweepExpiredLeases(ctx: Ctx, runnerId: string, now = Date.now()): Promise<number | null> {
  const expired = await ctx.db.query.jobs.findMany({
    where: and(eq(jobs.runnerId, runnerId), inArray(jobs.status, ACTIVE), lte(jobs.leaseExpiresAt, now)),
  });
  let requeued = false;
  for (const job of expired) {
    // Each step re-checks that the lease is the one found expired: a heartbeat may have won meanwhile.
    const stillExpired = and(
      eq(jobs.id, job.id),
      eq(jobs.leaseToken, job.leaseToken ?? ""),
      inArray(jobs.status, ACTIVE),
      lte(jobs.leaseExpiresAt, now),
    );
    if (job.cancelRequested) {
      await settle(ctx, job, { status: "cancelled" }, stillExpired, { revokeLease: true });
    } else if (isIdempotent(job.type) && job.attempts < job.maxAttempts) {
      const [row] = await ctx.db
        .update(jobs)
        .set({ status: "queued", leaseToken: null, leaseExpiresAt: null, updatedAt: Date.now() })
        .where(stillExpired)
        .returning();
      if (row) {
        requeued = true;
        await publishJob(ctx, row);
      }
    } else {
      const error = isIdempotent(job.type) ? `runner lost (gave up after ${job.attempts} attempts)` : "runner lost";
      await settle(ctx, job, { status: "failed", error }, stillExpired, { revokeLease: true });
    }
  }
  if (requeued) await wakeRunner(ctx, runnerId);
  const [next] = await ctx.db
    .select({ at: min(jobs.leaseExpiresAt) })
    .from(jobs)
    .where(and(eq(jobs.runnerId, runnerId), inArray(jobs.status, ACTIVE)));
  return next?.at ?? null;
}

/** A revoked runner will never finish its jobs: fail them now so nothing waits on it. */
export async function failOpenJobs(ctx: Ctx, runnerId: string, error: string): Promise<void> {
  const withEffects = Object.keys(EFFECTS);
  // Effect-free jobs (pings: possibly thousands) fail in one statement; the rest one by one.
  await ctx.db
    .update(jobs)
    .set({ status: "failed", error, leaseToken: null, leaseExpiresAt: null, updatedAt: Date.now() })
    .where(and(eq(jobs.runnerId, runnerId), inArray(jobs.status, OPEN), notInArray(jobs.type, withEffects)));
  const open = await ctx.db.query.jobs.findMany({
    where: and(eq(jobs.runnerId, runnerId), inArray(jobs.status, OPEN)),
  });
  for (const job of open) {
    await settle(ctx, job, { status: "failed", error }, and(eq(jobs.id, job.id), inArray(jobs.status, OPEN)), {
      revokeLease: true,
    });
  }
}

// ---- the user's side ----

/** The runner's owner sees all its jobs; others see board jobs on boards they belong to, and their own. */
async function requireJobAccess(ctx: Ctx, jobId: string, min: "viewer" | "member"): Promise<JobRow> {
  const job = await ctx.db.query.jobs.findFirst({ where: eq(jobs.id, jobId) });
  if (!job) throw notFound("Job");
  const runner = await ctx.db.query.runners.findFirst({
    where: eq(runners.id, job.runnerId),
    columns: { ownerId: true },
  });
  if (runner?.ownerId === userId(ctx)) return job;
  if (job.boardId) {
    try {
      await requireBoardRole(ctx, job.boardId, min);
      return job;
    } catch (err) {
      if (err instanceof AppError && err.status === 404) throw notFound("Job");
      throw err;
    }
  }
  if (job.createdBy === userId(ctx)) return job;
  throw notFound("Job");
}

export async function getJob(ctx: Ctx, jobId: string): Promise<Job> {
  return toJob(await requireJobAccess(ctx, jobId, "viewer"));
}

/**
 * A queued job is cancelled at once (its effects undone, e.g. a worktree that was going to be
 * created shows as cancelled); a claimed or running one is asked to stop over the runner's link and
 * ends when the runner reports back. Cancelling an ended job changes nothing.
 */
export async function cancelJob(ctx: Ctx, jobId: string): Promise<Job> {
  const job = await requireJobAccess(ctx, jobId, "member");
  if (job.status === "queued") {
    const row = await settle(ctx, job, { status: "cancelled" }, and(eq(jobs.id, jobId), eq(jobs.status, "queued")));
    if (row) return toJob(row);
  }
  const [row] = await ctx.db
    .update(jobs)
    .set({ cancelRequested: true, updatedAt: Date.now() })
    .where(and(eq(jobs.id, jobId), inArray(jobs.status, ACTIVE)))
    .returning();
  if (!row) {
    const now = await ctx.db.query.jobs.findFirst({ where: eq(jobs.id, jobId) });
    return toJob(now ?? job);
  }
  await Promise.all([sendCancel(ctx, row.runnerId, jobId), publishJob(ctx, row)]);
  return toJob(row);
}

/** A no-op job, for measuring pickup latency end to end. */
export async function queuePing(ctx: Ctx, runnerId: string): Promise<Job> {
  assertUsable(await requireRunnerOwner(ctx, runnerId));
  return toJob(await queueJob(ctx, { runnerId, boardId: null, type: "ping", payload: {} }));
}
