import { z } from "zod";
import { Id, Text } from "./common.ts";

/**
 * Threaded comments pinned to the board (optionally at a point on the canvas), a zone, a worktree
 * or a session (optionally on one of its messages). A thread is its first comment; replies carry
 * its id. Everyone on the board may comment, reply and react, viewers included: they are the
 * people who review. Only the author edits a comment; the author or the board's owner deletes it.
 * A thread is resolved by its author or any member.
 *
 * REST (`/api/boards/:boardId/…`, user credential):
 * - `GET    comments?cursor=&limit=` → `Page<Comment>` (every comment of the board, oldest first)
 * - `POST   comments` `CreateCommentBody` → 201 `Comment` (a thread, or a reply with `threadId`)
 * - `PATCH  comments/:commentId` `PatchCommentBody` → `Comment`
 * - `DELETE comments/:commentId` → 204 (a thread goes with its replies)
 * - `POST   comments/:commentId/resolve` / `reopen` → `Comment` (threads only)
 * - `PUT    comments/:commentId/reactions/:emoji` / `DELETE …` → `Comment`
 */

export const COMMENT_TARGETS = ["board", "zone", "worktree", "session"] as const;
export const CommentTarget = z.enum(COMMENT_TARGETS);
export type CommentTarget = z.infer<typeof CommentTarget>;

export const Reaction = z.object({ emoji: z.string(), userIds: z.array(z.string()) });
export type Reaction = z.infer<typeof Reaction>;

export const Comment = z.object({
  id: z.string(),
  boardId: z.string(),
  /** The thread this is a reply in; null for the thread itself. */
  threadId: z.string().nullable(),
  target: CommentTarget,
  /** The zone, worktree or session it is on; null on the board itself. */
  targetId: z.string().nullable(),
  /** A session thread may be on one message. */
  messageId: z.string().nullable(),
  /** A board thread may be pinned at a canvas point. */
  x: z.number().nullable(),
  y: z.number().nullable(),
  authorId: z.string(),
  authorName: z.string(),
  body: z.string(),
  /** Users named with `@` (members of the board when it was written). */
  mentions: z.array(z.string()),
  reactions: z.array(Reaction),
  resolvedAt: z.number().nullable(),
  resolvedBy: z.string().nullable(),
  editedAt: z.number().nullable(),
  createdAt: z.number(),
  updatedAt: z.number(),
});
export type Comment = z.infer<typeof Comment>;

export const CommentBody = Text.trim().min(1, "must not be empty").max(10_000, "must be at most 10,000 characters");
const Coord = z.number().finite().min(-1_000_000).max(1_000_000);

export const CreateCommentBody = z
  .object({
    body: CommentBody,
    /** Reply to this thread (the target comes from it). */
    threadId: Id.optional(),
    target: CommentTarget.optional(),
    targetId: Id.optional(),
    messageId: Id.optional(),
    x: Coord.optional(),
    y: Coord.optional(),
  })
  .superRefine((b, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: "custom", path: [path], message });
    if (b.threadId) {
      if (b.target || b.targetId || b.messageId || b.x !== undefined || b.y !== undefined)
        issue("threadId", "a reply takes its place from its thread: send only body and threadId");
      return;
    }
    if (!b.target) return issue("target", "say what the thread is on: board, zone, worktree or session");
    if (b.target === "board" && b.targetId) issue("targetId", "a board thread takes no targetId");
    if (b.target !== "board" && !b.targetId) issue("targetId", `the ${b.target}'s id is needed`);
    if (b.messageId && b.target !== "session") issue("messageId", "only a session thread can be on a message");
    if ((b.x === undefined) !== (b.y === undefined)) issue("x", "a pin needs both x and y");
    if (b.x !== undefined && b.target !== "board") issue("x", "only a board thread is pinned at a point");
  });
export type CreateCommentBody = z.input<typeof CreateCommentBody>;

export const PatchCommentBody = z.object({ body: CommentBody });

/** One emoji (with its modifiers and joiners), as a reaction. */
export const Emoji = Text.min(1)
  .max(32)
  .regex(
    /^(?:\p{Extended_Pictographic}|\p{Regional_Indicator})(?:\p{Extended_Pictographic}|\p{Emoji_Component}|\u200d|\ufe0f)*$/u,
    "must be one emoji",
  );

export const CommentPageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(500),
  cursor: Text.max(64).optional(),
});
