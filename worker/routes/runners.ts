import { Hono } from "hono";
import {
  AddRepoBody,
  BoardMcpStdioBody,
  CreateRunnerBody,
  QueueJobBody,
  ShareRunnerBody,
} from "../../protocol/index.ts";
import { valid } from "../lib/validate.ts";
import type { AppEnv } from "../middleware.ts";
import { queuePing } from "../services/jobs.ts";
import { addRepo, fetchRepo, listRepos, removeRepo, retryRepo } from "../services/repos.ts";
import {
  createRunner,
  listBoardRunners,
  listRunners,
  revokeRunner,
  setBoardMcpStdio,
  shareRunner,
  unshareRunner,
} from "../services/runners.ts";

/** `/api/runners`: runners, their sharing, their repos, and ping jobs for benchmarks. */
export const runners = new Hono<AppEnv>()
  .get("/", async (c) => c.json({ items: await listRunners(c.var.ctx) }))
  .post("/", valid("json", CreateRunnerBody), async (c) =>
    // The command to paste points the runner back at whatever origin the user reached us on.
    c.json(await createRunner(c.var.ctx, c.req.valid("json").name, new URL(c.req.url).origin), 201),
  )
  .delete("/:runnerId", async (c) => {
    await revokeRunner(c.var.ctx, c.req.param("runnerId"));
    return c.body(null, 204);
  })
  .put("/:runnerId/board-mcp-stdio", valid("json", BoardMcpStdioBody), async (c) =>
    c.json(await setBoardMcpStdio(c.var.ctx, c.req.param("runnerId"), c.req.valid("json").boardMcpStdio)),
  )
  .post("/:runnerId/boards", valid("json", ShareRunnerBody), async (c) =>
    c.json(await shareRunner(c.var.ctx, c.req.param("runnerId"), c.req.valid("json").boardId)),
  )
  .delete("/:runnerId/boards/:boardId", async (c) => {
    await unshareRunner(c.var.ctx, c.req.param("runnerId"), c.req.param("boardId"));
    return c.body(null, 204);
  })
  .get("/:runnerId/repos", async (c) => c.json({ items: await listRepos(c.var.ctx, c.req.param("runnerId")) }))
  .post("/:runnerId/repos", valid("json", AddRepoBody), async (c) =>
    c.json(await addRepo(c.var.ctx, c.req.param("runnerId"), c.req.valid("json")), 201),
  )
  .post("/:runnerId/repos/:repoId/fetch", async (c) =>
    c.json(await fetchRepo(c.var.ctx, c.req.param("runnerId"), c.req.param("repoId")), 202),
  )
  .post("/:runnerId/repos/:repoId/retry", async (c) =>
    c.json(await retryRepo(c.var.ctx, c.req.param("runnerId"), c.req.param("repoId")), 202),
  )
  .delete("/:runnerId/repos/:repoId", async (c) => {
    await removeRepo(c.var.ctx, c.req.param("runnerId"), c.req.param("repoId"));
    return c.body(null, 204);
  })
  .post("/:runnerId/jobs", valid("json", QueueJobBody), async (c) =>
    c.json(await queuePing(c.var.ctx, c.req.param("runnerId")), 201),
  );

/** `/api/boards/:boardId/runners`: the runners members of a board may target. */
export const boardRunners = new Hono<AppEnv>().get("/:boardId/runners", async (c) =>
  c.json({ items: await listBoardRunners(c.var.ctx, c.req.param("boardId")) }),
);
