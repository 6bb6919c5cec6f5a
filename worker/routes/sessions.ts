import { Hono } from "hono";
import {
  CreateSessionBody,
  DecisionBody,
  ForkBody,
  MessagePageQuery,
  PatchSessionBody,
  PatchTaskBody,
  PromptBody,
  SessionPageQuery,
  SpawnBody,
} from "../../protocol/index.ts";
import { valid } from "../lib/validate.ts";
import type { AppEnv } from "../middleware.ts";
import {
  createSession,
  decidePermission,
  deleteSession,
  editQueuedTask,
  forkSession,
  getSession,
  listMessages,
  listSessions,
  patchSession,
  promptSession,
  removeQueuedTask,
  spawnSession,
  stopSession,
} from "../services/sessions.ts";

/** `/api/boards/:boardId/sessions`: agent sessions (protocol/sessions.ts). */
export const sessions = new Hono<AppEnv>()
  .get("/:boardId/sessions", valid("query", SessionPageQuery), async (c) =>
    c.json(await listSessions(c.var.ctx, c.req.param("boardId"), c.req.valid("query"))),
  )
  .post("/:boardId/sessions", valid("json", CreateSessionBody), async (c) =>
    c.json(await createSession(c.var.ctx, c.req.param("boardId"), c.req.valid("json")), 201),
  )
  .get("/:boardId/sessions/:sessionId", async (c) =>
    c.json(await getSession(c.var.ctx, c.req.param("boardId"), c.req.param("sessionId"))),
  )
  .patch("/:boardId/sessions/:sessionId", valid("json", PatchSessionBody), async (c) =>
    c.json(await patchSession(c.var.ctx, c.req.param("boardId"), c.req.param("sessionId"), c.req.valid("json"))),
  )
  .delete("/:boardId/sessions/:sessionId", async (c) => {
    await deleteSession(c.var.ctx, c.req.param("boardId"), c.req.param("sessionId"));
    return c.body(null, 204);
  })
  .get("/:boardId/sessions/:sessionId/messages", valid("query", MessagePageQuery), async (c) =>
    c.json(await listMessages(c.var.ctx, c.req.param("boardId"), c.req.param("sessionId"), c.req.valid("query"))),
  )
  .post("/:boardId/sessions/:sessionId/prompts", valid("json", PromptBody), async (c) =>
    c.json(await promptSession(c.var.ctx, c.req.param("boardId"), c.req.param("sessionId"), c.req.valid("json")), 201),
  )
  .patch("/:boardId/sessions/:sessionId/tasks/:taskId", valid("json", PatchTaskBody), async (c) =>
    c.json(
      await editQueuedTask(
        c.var.ctx,
        c.req.param("boardId"),
        c.req.param("sessionId"),
        c.req.param("taskId"),
        c.req.valid("json"),
      ),
    ),
  )
  .delete("/:boardId/sessions/:sessionId/tasks/:taskId", async (c) => {
    await removeQueuedTask(c.var.ctx, c.req.param("boardId"), c.req.param("sessionId"), c.req.param("taskId"));
    return c.body(null, 204);
  })
  .post("/:boardId/sessions/:sessionId/stop", async (c) =>
    c.json(await stopSession(c.var.ctx, c.req.param("boardId"), c.req.param("sessionId"))),
  )
  .post("/:boardId/sessions/:sessionId/permissions/:requestId", valid("json", DecisionBody), async (c) =>
    c.json(
      await decidePermission(
        c.var.ctx,
        c.req.param("boardId"),
        c.req.param("sessionId"),
        c.req.param("requestId"),
        c.req.valid("json"),
      ),
    ),
  )
  .post("/:boardId/sessions/:sessionId/fork", valid("json", ForkBody), async (c) =>
    c.json(await forkSession(c.var.ctx, c.req.param("boardId"), c.req.param("sessionId"), c.req.valid("json")), 201),
  )
  .post("/:boardId/sessions/:sessionId/spawn", valid("json", SpawnBody), async (c) =>
    c.json(await spawnSession(c.var.ctx, c.req.param("boardId"), c.req.param("sessionId"), c.req.valid("json")), 201),
  );
