import { runDurableObjectAlarm } from "cloudflare:test";
import { and, eq, exists, sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { type Job, LINK_PROTOCOL } from "../../protocol/index.ts";
import { call, expectError, json, registerUser, type TestUser } from "../../test/helpers.ts";
import { contextFor } from "../context.ts";
import { schema } from "../db/client.ts";
import { claim, getRunnerLink, openLink, post, registerRunner, testEnv } from "../routes/runner-testkit.ts";
import { authorizeJob, insertJob, keepJobOnlyIf } from "./job-queue.ts";

let owner: TestUser;
let stranger: TestUser;
beforeAll(async () => {
  [owner, stranger] = await Promise.all([registerUser("Owner"), registerUser("Stranger")]);
});

async function ping(runnerId: string): Promise<Job> {
  const res = await call(`/api/runners/${runnerId}/jobs`, {
    method: "POST",
    token: owner.token,
    json: { type: "ping" },
  });
  expect(res.status).toBe(201);
  return res.json<Job>();
}

const getJob = (id: string, token = owner.token) => json<Job>(call(`/api/jobs/${id}`, { token }));

/** Pretend the lease ran out, then let the runner link's alarm do what it does when that happens. */
async function expireAndSweep(runnerId: string, jobId: string) {
  await testEnv.DB.prepare("update jobs set lease_expires_at = ? where id = ?")
    .bind(Date.now() - 1, jobId)
    .run();
  expect(await runDurableObjectAlarm(getRunnerLink(testEnv, runnerId))).toBe(true);
}

describe("queueing", () => {
  it("a job kept only if its row took the batch's write is taken back, in the same batch, when it did not", async () => {
    const r = await registerRunner(owner.token);
    const ctx = contextFor(testEnv, { kind: "user", userId: owner.id, via: "jwt", credential: "fam:test" });
    const { runners } = schema;
    const ids = await Promise.all(
      [1, 2].map(() => authorizeJob(ctx, { runnerId: r.id, boardId: null, type: "ping", payload: {} })),
    );
    const held = (name: string) =>
      exists(
        ctx.db
          .select({ one: sql`1` })
          .from(runners)
          .where(and(eq(runners.id, r.id), eq(runners.name, name))),
      );
    const [a, b] = ids.map((spec, i) => ({ ...spec, id: `guarded-${r.id}-${i}` }));
    await ctx.db.batch([insertJob(ctx, a!), keepJobOnlyIf(ctx, a!.id, held("renamed meanwhile"))]);
    await ctx.db.batch([insertJob(ctx, b!), keepJobOnlyIf(ctx, b!.id, held("laptop"))]);
    const rows = await testEnv.DB.prepare("select id from jobs where runner_id = ?").bind(r.id).all<{ id: string }>();
    expect(rows.results.map((x) => x.id)).toEqual([b!.id]);
  });
});

describe("the lease protocol", () => {
  it("a runner claims only the job types it names; one that names none gets any", async () => {
    const r = await registerRunner(owner.token);
    const job = await ping(r.id);
    // A runner that knows only worktree jobs leaves the ping for another.
    expect((await post(r.credential, "/runner/jobs/claim", { types: ["worktree.create"] })).status).toBe(204);
    expect((await getJob(job.id)).status).toBe("queued");
    const c = await json<{ job: Job }>(
      post(r.credential, "/runner/jobs/claim", { types: ["ping", "worktree.create"] }),
    );
    expect(c.job).toMatchObject({ id: job.id, type: "ping" });
    const other = await ping(r.id);
    expect((await claim(r.credential)).job.id).toBe(other.id);
    await expectError(post(r.credential, "/runner/jobs/claim", { types: [] }), 400);
  });

  it("claim, start, heartbeat, complete; a repeated completion is a no-op", async () => {
    const r = await registerRunner(owner.token);
    const job = await ping(r.id);
    expect(job.status).toBe("queued");

    const c = await claim(r.credential);
    expect(c).toMatchObject({ job: { id: job.id, status: "claimed", attempts: 1 }, more: false });
    expect(c.leaseExpiresAt - Date.now()).toBeGreaterThan(25_000);
    expect((await post(r.credential, "/runner/jobs/claim")).status).toBe(204);

    const started = await json(post(r.credential, `/runner/jobs/${job.id}/start`, { leaseToken: c.leaseToken }));
    expect(started).toMatchObject({ cancelRequested: false });
    expect((await getJob(job.id)).status).toBe("running");
    const beat = await json<{ leaseExpiresAt: number }>(
      post(r.credential, `/runner/jobs/${job.id}/heartbeat`, { leaseToken: c.leaseToken }),
    );
    expect(beat.leaseExpiresAt).toBeGreaterThanOrEqual(c.leaseExpiresAt);

    const done = { leaseToken: c.leaseToken, status: "succeeded", result: {} };
    const first = await post(r.credential, `/runner/jobs/${job.id}/complete`, done);
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ status: "succeeded" });
    const again = await post(r.credential, `/runner/jobs/${job.id}/complete`, done);
    expect(again.status).toBe(200);
    // A different outcome after the end is refused, and changes nothing.
    await expectError(
      post(r.credential, `/runner/jobs/${job.id}/complete`, { leaseToken: c.leaseToken, status: "failed", error: "x" }),
      409,
      "stale_lease",
    );
    await expectError(
      post(r.credential, `/runner/jobs/${job.id}/heartbeat`, { leaseToken: c.leaseToken }),
      409,
      "stale_lease",
    );
    expect(await getJob(job.id)).toMatchObject({ status: "succeeded", attempts: 1, error: null });
  });

  it("a job can end before its start lands (the runner sends start alongside the work)", async () => {
    const r = await registerRunner(owner.token);
    const job = await ping(r.id);
    const c = await claim(r.credential);
    const done = { leaseToken: c.leaseToken, status: "succeeded", result: { startedAt: Date.now() } };
    expect(await json(post(r.credential, `/runner/jobs/${job.id}/complete`, done))).toMatchObject({
      status: "succeeded",
    });
    // The late start finds the job ended and changes nothing.
    await expectError(post(r.credential, `/runner/jobs/${job.id}/start`, { leaseToken: c.leaseToken }), 409);
    expect(await getJob(job.id)).toMatchObject({ status: "succeeded", result: { startedAt: done.result.startedAt } });
  });

  it("another runner's job is not found; a user outside it cannot see it", async () => {
    const a = await registerRunner(owner.token);
    const b = await registerRunner(owner.token);
    const job = await ping(a.id);
    const c = await claim(a.credential);
    await expectError(post(b.credential, `/runner/jobs/${job.id}/start`, { leaseToken: c.leaseToken }), 404);
    await expectError(call(`/api/jobs/${job.id}`, { token: stranger.token }), 404);
    await expectError(call(`/api/jobs/${job.id}/cancel`, { method: "POST", token: stranger.token }), 404);
  });

  it("events are applied once per seq", async () => {
    const r = await registerRunner(owner.token);
    const job = await ping(r.id);
    const c = await claim(r.credential);
    const send = (seqs: number[]) =>
      json<{ accepted: number; lastSeq: number }>(
        post(r.credential, `/runner/jobs/${job.id}/events`, {
          leaseToken: c.leaseToken,
          events: seqs.map((seq) => ({ seq, kind: "progress", data: { seq } })),
        }),
      );
    expect(await send([1, 2])).toEqual({ accepted: 2, lastSeq: 2 });
    expect(await send([2, 3])).toEqual({ accepted: 1, lastSeq: 3 });
    expect(await send([1])).toEqual({ accepted: 0, lastSeq: 3 });
    await expectError(
      post(r.credential, `/runner/jobs/${job.id}/events`, {
        leaseToken: "lease_wrong",
        events: [{ seq: 4, kind: "progress", data: {} }],
      }),
      409,
      "stale_lease",
    );
    const row = await testEnv.DB.prepare("select event_seq from jobs where id = ?").bind(job.id).first();
    expect(row?.event_seq).toBe(3);
  });

  it("a lease swept by the alarm is handed on, and the old holder's writes are refused", async () => {
    const r = await registerRunner(owner.token);
    const job = await ping(r.id);
    const lost = await claim(r.credential);
    await post(r.credential, `/runner/jobs/${job.id}/start`, { leaseToken: lost.leaseToken });

    await expireAndSweep(r.id, job.id);
    expect(await getJob(job.id)).toMatchObject({ status: "queued", attempts: 1 });

    const taken = await claim(r.credential);
    expect(taken.job).toMatchObject({ id: job.id, attempts: 2 });
    expect(taken.leaseToken).not.toBe(lost.leaseToken);
    for (const path of ["start", "heartbeat"]) {
      await expectError(
        post(r.credential, `/runner/jobs/${job.id}/${path}`, { leaseToken: lost.leaseToken }),
        409,
        "stale_lease",
      );
    }
    await expectError(
      post(r.credential, `/runner/jobs/${job.id}/complete`, {
        leaseToken: lost.leaseToken,
        status: "failed",
        error: "late",
      }),
      409,
      "stale_lease",
    );
    expect((await getJob(job.id)).status).toBe("claimed");
    const ok = await post(r.credential, `/runner/jobs/${job.id}/complete`, {
      leaseToken: taken.leaseToken,
      status: "succeeded",
      result: {},
    });
    expect(ok.status).toBe(200);
  });

  it("an idempotent job that keeps losing its runner fails once its attempts are used up", async () => {
    const r = await registerRunner(owner.token);
    const job = await ping(r.id);
    await testEnv.DB.prepare("update jobs set max_attempts = 1 where id = ?").bind(job.id).run();
    await claim(r.credential);
    await expireAndSweep(r.id, job.id);
    expect(await getJob(job.id)).toMatchObject({ status: "failed", error: "runner lost (gave up after 1 attempts)" });
  });

  it("a non-idempotent job whose runner is lost fails with 'runner lost'", async () => {
    const r = await registerRunner(owner.token);
    // No such job type exists yet (agent turns will be one); the edge must treat unknown types as unsafe to retry.
    const id = crypto.randomUUID();
    await testEnv.DB.prepare("insert into jobs (id, runner_id, type, payload, created_by) values (?, ?, ?, '{}', ?)")
      .bind(id, r.id, "session.turn", owner.id)
      .run();
    const c = await claim(r.credential);
    expect(c.job.id).toBe(id);
    await expireAndSweep(r.id, id);
    expect(await getJob(id)).toMatchObject({ status: "failed", error: "runner lost", attempts: 1 });
    await expectError(
      post(r.credential, `/runner/jobs/${id}/complete`, { leaseToken: c.leaseToken, status: "succeeded", result: {} }),
      409,
      "stale_lease",
    );
  });

  it("a released job goes back to the queue without using up an attempt", async () => {
    const r = await registerRunner(owner.token);
    const job = await ping(r.id);
    const c = await claim(r.credential);
    const res = await post(r.credential, `/runner/jobs/${job.id}/complete`, {
      leaseToken: c.leaseToken,
      status: "released",
    });
    expect(res.status).toBe(200);
    expect(await getJob(job.id)).toMatchObject({ status: "queued", attempts: 0 });
    expect((await claim(r.credential)).job.id).toBe(job.id);
  });
});

describe("revoking", () => {
  it("fails the jobs still waiting on the runner", async () => {
    const r = await registerRunner(owner.token);
    const held = await ping(r.id);
    const waiting = await ping(r.id);
    // `more` tells the runner the queue is not empty yet, so it asks again without a wake.
    expect(await claim(r.credential)).toMatchObject({ job: { id: held.id }, more: true });
    expect((await call(`/api/runners/${r.id}`, { method: "DELETE", token: owner.token })).status).toBe(204);
    for (const job of [held, waiting]) {
      expect(await getJob(job.id)).toMatchObject({ status: "failed", error: "The runner was revoked." });
    }
  });
});

describe("cancelling", () => {
  it("a queued job is cancelled at once", async () => {
    const r = await registerRunner(owner.token);
    const job = await ping(r.id);
    const res = await json<Job>(call(`/api/jobs/${job.id}/cancel`, { method: "POST", token: owner.token }));
    expect(res.status).toBe("cancelled");
    expect((await post(r.credential, "/runner/jobs/claim")).status).toBe(204);
  });

  it("a running job is asked to stop over the link, and ends when the runner says so", async () => {
    const r = await registerRunner(owner.token);
    const link = await openLink(r.credential);
    const job = await ping(r.id);
    const c = await claim(r.credential);
    await post(r.credential, `/runner/jobs/${job.id}/start`, { leaseToken: c.leaseToken });

    const asked = Date.now();
    const res = await json<Job>(call(`/api/jobs/${job.id}/cancel`, { method: "POST", token: owner.token }));
    expect(res).toMatchObject({ status: "running", cancelRequested: true });
    expect(await link.next((m) => m.type === "cancel")).toEqual({ type: "cancel", v: LINK_PROTOCOL, jobId: job.id });
    expect(Date.now() - asked).toBeLessThan(1000);

    const beat = await json(post(r.credential, `/runner/jobs/${job.id}/heartbeat`, { leaseToken: c.leaseToken }));
    expect(beat).toMatchObject({ cancelRequested: true });
    const done = await json<Job>(
      post(r.credential, `/runner/jobs/${job.id}/complete`, { leaseToken: c.leaseToken, status: "cancelled" }),
    );
    expect(done.status).toBe("cancelled");
    link.ws.close();
  });
});
