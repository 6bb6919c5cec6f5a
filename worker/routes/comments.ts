import { Hono } from "hono";
import { CommentPageQuery, CreateCommentBody, Emoji, PatchCommentBody } from "../../protocol/index.ts";
import { badRequest } from "../lib/errors.ts";
import { valid } from "../lib/validate.ts";
import type { AppEnv } from "../middleware.ts";
import { createComment, deleteComment, editComment, listComments, react, resolveThread } from "../services/comments.ts";

function emojiOf(raw: string): string {
  const parsed = Emoji.safeParse(raw);
  if (!parsed.success) throw badRequest("emoji: must be one emoji, like 👍");
  return parsed.data;
}

/** `/api/boards/:boardId/comments` (protocol/comments.ts). */
export const comments = new Hono<AppEnv>()
  .get("/:boardId/comments", valid("query", CommentPageQuery), async (c) =>
    c.json(await listComments(c.var.ctx, c.req.param("boardId"), c.req.valid("query"))),
  )
  .post("/:boardId/comments", valid("json", CreateCommentBody), async (c) =>
    c.json(await createComment(c.var.ctx, c.req.param("boardId"), c.req.valid("json")), 201),
  )
  .patch("/:boardId/comments/:commentId", valid("json", PatchCommentBody), async (c) =>
    c.json(await editComment(c.var.ctx, c.req.param("boardId"), c.req.param("commentId"), c.req.valid("json"))),
  )
  .delete("/:boardId/comments/:commentId", async (c) => {
    await deleteComment(c.var.ctx, c.req.param("boardId"), c.req.param("commentId"));
    return c.body(null, 204);
  })
  .post("/:boardId/comments/:commentId/resolve", async (c) =>
    c.json(await resolveThread(c.var.ctx, c.req.param("boardId"), c.req.param("commentId"), true)),
  )
  .post("/:boardId/comments/:commentId/reopen", async (c) =>
    c.json(await resolveThread(c.var.ctx, c.req.param("boardId"), c.req.param("commentId"), false)),
  )
  .put("/:boardId/comments/:commentId/reactions/:emoji", async (c) =>
    c.json(
      await react(c.var.ctx, c.req.param("boardId"), c.req.param("commentId"), emojiOf(c.req.param("emoji")), true),
    ),
  )
  .delete("/:boardId/comments/:commentId/reactions/:emoji", async (c) =>
    c.json(
      await react(c.var.ctx, c.req.param("boardId"), c.req.param("commentId"), emojiOf(c.req.param("emoji")), false),
    ),
  );
