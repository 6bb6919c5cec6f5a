import { Hono } from "hono";
import type { AppEnv } from "../middleware.ts";
import { cancelJob, getJob } from "../services/jobs.ts";

/** `/api/jobs`: a job's state, and cancelling it. */
export const jobs = new Hono<AppEnv>()
  .get("/:jobId", async (c) => c.json(await getJob(c.var.ctx, c.req.param("jobId"))))
  .post("/:jobId/cancel", async (c) => c.json(await cancelJob(c.var.ctx, c.req.param("jobId"))));
