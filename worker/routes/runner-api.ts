import { Hono } from "hono";
import { createMiddleware } from "hono/factory";
import { RUNNER_HEADERS, TERMINAL_HEADERS } from "../../party/runner-link.ts";
import { getRunnerLink } from "../../party/stubs.ts";
import {
  ClaimBody,
  CompleteJobBody,
  GitReport,
  JobEventsBody,
  LeaseBody,
  LINK_INFO_PARAM,
  LINK_VERSION_PARAM,
  RegisterRunnerBody,
  RunnerInfo,
} from "../../protocol/index.ts";
import { contextFor, depsFor } from "../context.ts";
import { openDb } from "../db/client.ts";
import { AppError, badRequest, unauthorized } from "../lib/errors.ts";
import { describeIssues, valid } from "../lib/validate.ts";
import type { AppEnv } from "../middleware.ts";
import { bearer } from "../middleware.ts";
import { appendJobEvents, claimJob, completeJob, heartbeatJob, startJob } from "../services/jobs.ts";
import { authenticateRunner, getActingRunner, RUNNER_PREFIX, registerRunner } from "../services/runners.ts";
import { taskContext, taskDecisions } from "../services/session-tasks.ts";
import { listRunnerWorktrees, reportGitState } from "../services/worktrees.ts";

/** `/runner/*` accepts runner credentials and nothing else (user tokens are refused here, as runner ones are on /api). */
const requireRunner = createMiddleware<AppEnv>(async (c, next) => {
  const token = bearer(c.req.header("authorization"));
  if (!token) throw unauthorized("Send the runner credential as `Authorization: Bearer trl_run_…`.");
  if (!token.startsWith(RUNNER_PREFIX)) {
    throw unauthorized("The runner API accepts only runner credentials (trl_run_…).", "wrong_credential");
  }
  const db = openDb(c.env.DB);
  const actor = await authenticateRunner(db, token);
  if (!actor) {
    throw unauthorized(
      "This runner credential is unknown or was revoked. Register the runner again.",
      "invalid_credential",
    );
  }
  c.set("ctx", contextFor(c.env, actor));
  await next();
});

function parseInfo(raw: string | undefined): RunnerInfo | null {
  if (!raw) return null;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw badRequest(`The ${LINK_INFO_PARAM} parameter is not JSON.`);
  }
  const parsed = RunnerInfo.safeParse(value);
  if (!parsed.success) throw badRequest(`Invalid ${LINK_INFO_PARAM}: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

export const runnerApi = new Hono<AppEnv>()
  .post("/register", valid("json", RegisterRunnerBody), async (c) => {
    return c.json(await registerRunner(depsFor(c.env), c.req.valid("json")), 201);
  })
  .use("*", requireRunner)
  .get("/me", async (c) => c.json(await getActingRunner(c.var.ctx)))
  /** The runner's socket to its RunnerLink; authenticated here so a bad credential never wakes the object. */
  .get("/link", async (c) => {
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      throw new AppError(426, "upgrade_required", "Open /runner/link as a WebSocket.");
    }
    const info = parseInfo(c.req.query(LINK_INFO_PARAM));
    const { actor } = c.var.ctx;
    if (actor.kind !== "runner") throw unauthorized();
    const headers = new Headers(c.req.raw.headers);
    for (const h of [...Object.values(RUNNER_HEADERS), ...Object.values(TERMINAL_HEADERS)]) headers.delete(h);
    headers.set(RUNNER_HEADERS.runnerId, actor.runnerId);
    headers.set(RUNNER_HEADERS.ownerId, actor.ownerId);
    if (info) headers.set(RUNNER_HEADERS.info, JSON.stringify(info));
    const version = c.req.query(LINK_VERSION_PARAM);
    if (version) headers.set(RUNNER_HEADERS.version, version);
    return getRunnerLink(c.env, actor.runnerId).fetch(new Request(c.req.raw, { headers }));
  })
  /** The runner's own cards that should be on disk, for its watcher. */
  .get("/worktrees", async (c) => c.json({ items: await listRunnerWorktrees(c.var.ctx) }))
  /** Git state the watcher saw change; only this runner's rows are touched. */
  .post("/git", valid("json", GitReport), async (c) => c.json(await reportGitState(c.var.ctx, c.req.valid("json"))))
  .post("/jobs/claim", valid("json", ClaimBody), async (c) => {
    const claim = await claimJob(c.var.ctx, c.req.valid("json").types);
    return claim ? c.json(claim) : c.body(null, 204);
  })
  .post("/jobs/:jobId/start", valid("json", LeaseBody), async (c) =>
    c.json(await startJob(c.var.ctx, c.req.param("jobId"), c.req.valid("json").leaseToken)),
  )
  .post("/jobs/:jobId/heartbeat", valid("json", LeaseBody), async (c) =>
    c.json(await heartbeatJob(c.var.ctx, c.req.param("jobId"), c.req.valid("json").leaseToken)),
  )
  .post("/jobs/:jobId/session", valid("json", LeaseBody), async (c) =>
    c.json(
      await taskContext(
        c.var.ctx,
        c.req.param("jobId"),
        c.req.valid("json").leaseToken,
        `${new URL(c.req.url).origin}/mcp`,
      ),
    ),
  )
  .post("/jobs/:jobId/decisions", valid("json", LeaseBody), async (c) =>
    c.json(await taskDecisions(c.var.ctx, c.req.param("jobId"), c.req.valid("json").leaseToken)),
  )
  .post("/jobs/:jobId/events", valid("json", JobEventsBody), async (c) =>
    c.json(await appendJobEvents(c.var.ctx, c.req.param("jobId"), c.req.valid("json"))),
  )
  .post("/jobs/:jobId/complete", valid("json", CompleteJobBody), async (c) =>
    c.json(await completeJob(c.var.ctx, c.req.param("jobId"), c.req.valid("json"))),
  );
