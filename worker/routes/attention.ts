import { Hono } from "hono";
import type { AppEnv } from "../middleware.ts";
import { listSeen, markSeen } from "../services/session-views.ts";

/** `/api/boards/:boardId/…`: what each person has seen, for the card's attention pulse. */
export const attention = new Hono<AppEnv>()
  .get("/:boardId/seen", async (c) => c.json(await listSeen(c.var.ctx, c.req.param("boardId"))))
  .put("/:boardId/sessions/:sessionId/seen", async (c) =>
    c.json(await markSeen(c.var.ctx, c.req.param("boardId"), c.req.param("sessionId"))),
  );
