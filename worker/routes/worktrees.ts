import { Hono } from "hono";
import {
  CreateWorktreeBody,
  DeleteWorktreeQuery,
  PatchWorktreeBody,
  RetryWorktreeBody,
  WorktreePageQuery,
} from "../../protocol/index.ts";
import { valid } from "../lib/validate.ts";
import type { AppEnv } from "../middleware.ts";
import {
  createWorktree,
  deleteWorktree,
  listWorktrees,
  patchWorktree,
  refreshWorktree,
  retryWorktree,
} from "../services/worktrees.ts";

/** `/api/boards/:boardId/worktrees`: the cards on a board. */
export const worktrees = new Hono<AppEnv>()
  .get("/:boardId/worktrees", valid("query", WorktreePageQuery), async (c) =>
    c.json(await listWorktrees(c.var.ctx, c.req.param("boardId"), c.req.valid("query"))),
  )
  .post("/:boardId/worktrees", valid("json", CreateWorktreeBody), async (c) =>
    c.json(await createWorktree(c.var.ctx, c.req.param("boardId"), c.req.valid("json")), 201),
  )
  .patch("/:boardId/worktrees/:worktreeId", valid("json", PatchWorktreeBody), async (c) =>
    c.json(await patchWorktree(c.var.ctx, c.req.param("boardId"), c.req.param("worktreeId"), c.req.valid("json"))),
  )
  .delete("/:boardId/worktrees/:worktreeId", valid("query", DeleteWorktreeQuery), async (c) => {
    const wt = await deleteWorktree(c.var.ctx, c.req.param("boardId"), c.req.param("worktreeId"), c.req.valid("query"));
    // 202 with the card now `deleting`; 204 when it was removed at once (its runner is gone).
    return wt ? c.json(wt, 202) : c.body(null, 204);
  })
  .post("/:boardId/worktrees/:worktreeId/retry", valid("json", RetryWorktreeBody), async (c) =>
    c.json(await retryWorktree(c.var.ctx, c.req.param("boardId"), c.req.param("worktreeId"), c.req.valid("json")), 202),
  )
  .post("/:boardId/worktrees/:worktreeId/refresh", async (c) =>
    c.json(await refreshWorktree(c.var.ctx, c.req.param("boardId"), c.req.param("worktreeId")), 202),
  );
