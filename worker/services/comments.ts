import { and, asc, eq, gt, inArray, or } from "drizzle-orm";
import type { z } from "zod";
import type {
  Comment,
  CommentPageQuery,
  CommentTarget,
  CreateCommentBody,
  Page,
  PatchCommentBody,
  Reaction,
} from "../../protocol/index.ts";
import { mentionedIn } from "../../protocol/index.ts";
import { schema } from "../db/client.ts";
import { badRequest, forbidden, notFound } from "../lib/errors.ts";
import { newId } from "../lib/ids.ts";
import { requireBoardRole } from "./access.ts";
import type { Ctx } from "./context.ts";
import { entity, removed, userId } from "./context.ts";
import { notifyUsers } from "./notifications.ts";

/**
 * Comments, as DESIGN's collaboration rules have them: everyone on the board, viewers included,
 * may start threads, reply and react (reviewing is what viewers are for); only the author edits;
 * the author or the board's owner deletes (the owner keeps the board clean); a thread is resolved
 * or reopened by its author or any member. A non-member sees nothing, as for every board route.
 */

const { comments, commentReactions, users, boardMembers, zones, worktrees, sessions, messages } = schema;
type CommentRow = typeof comments.$inferSelect;

interface CommentData {
  messageId?: string | null;
  x?: number | null;
  y?: number | null;
  mentions?: string[];
  resolvedBy?: string | null;
  editedAt?: number | null;
}

function toComment(r: CommentRow, authorName: string, reactions: Reaction[]): Comment {
  const d = r.data as CommentData;
  return {
    id: r.id,
    boardId: r.boardId,
    threadId: r.parentId,
    target: r.targetType as CommentTarget,
    targetId: r.targetType === "board" ? null : r.targetId,
    messageId: d.messageId ?? null,
    x: d.x ?? null,
    y: d.y ?? null,
    authorId: r.authorId,
    authorName,
    body: r.body,
    mentions: d.mentions ?? [],
    reactions,
    resolvedAt: r.resolvedAt,
    resolvedBy: d.resolvedBy ?? null,
    editedAt: d.editedAt ?? null,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

/** Rows with their authors' names and their reactions, in two queries however many there are. */
async function hydrate(ctx: Ctx, rows: CommentRow[]): Promise<Comment[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const authorIds = [...new Set(rows.map((r) => r.authorId))];
  // D1 binds at most 100 values: ask in slices.
  const slices = <T>(xs: T[]) =>
    Array.from({ length: Math.ceil(xs.length / 90) }, (_, i) => xs.slice(i * 90, i * 90 + 90));
  const [names, reacts] = await Promise.all([
    Promise.all(
      slices(authorIds).map((s) =>
        ctx.db.select({ id: users.id, name: users.name }).from(users).where(inArray(users.id, s)),
      ),
    ),
    Promise.all(
      slices(ids).map((s) =>
        ctx.db
          .select()
          .from(commentReactions)
          .where(inArray(commentReactions.commentId, s))
          .orderBy(asc(commentReactions.createdAt)),
      ),
    ),
  ]);
  const nameOf = new Map(names.flat().map((u) => [u.id, u.name]));
  const byComment = new Map<string, Map<string, string[]>>();
  for (const r of reacts.flat()) {
    const emojis = byComment.get(r.commentId) ?? new Map<string, string[]>();
    emojis.set(r.emoji, [...(emojis.get(r.emoji) ?? []), r.userId]);
    byComment.set(r.commentId, emojis);
  }
  return rows.map((r) =>
    toComment(
      r,
      nameOf.get(r.authorId) ?? "someone who left",
      [...(byComment.get(r.id) ?? new Map<string, string[]>())].map(([emoji, userIds]) => ({ emoji, userIds })),
    ),
  );
}

async function one(ctx: Ctx, row: CommentRow): Promise<Comment> {
  return (await hydrate(ctx, [row]))[0]!;
}

async function commentOnBoard(ctx: Ctx, boardId: string, commentId: string): Promise<CommentRow> {
  const row = await ctx.db.query.comments.findFirst({
    where: and(eq(comments.id, commentId), eq(comments.boardId, boardId)),
  });
  if (!row) throw notFound("Comment");
  return row;
}

async function publishComment(ctx: Ctx, op: "created" | "patched", row: CommentRow): Promise<Comment> {
  const c = await one(ctx, row);
  await ctx.publish(row.boardId, entity("comment", op, c));
  return c;
}

export async function listComments(
  ctx: Ctx,
  boardId: string,
  q: z.infer<typeof CommentPageQuery>,
): Promise<Page<Comment>> {
  await requireBoardRole(ctx, boardId, "viewer");
  const rows = await ctx.db
    .select()
    .from(comments)
    .where(and(eq(comments.boardId, boardId), q.cursor ? gt(comments.id, q.cursor) : undefined))
    .orderBy(asc(comments.id))
    .limit(q.limit + 1);
  const more = rows.length > q.limit;
  const items = await hydrate(ctx, rows.slice(0, q.limit));
  return { items, nextCursor: more ? items.at(-1)!.id : null };
}

/** Where a new thread goes: the target must be on this board (and a message in that session). */
interface Place {
  targetType: CommentTarget;
  targetId: string;
  zoneId: string | null;
  worktreeId: string | null;
  sessionId: string | null;
}

async function placeFor(ctx: Ctx, boardId: string, body: z.infer<typeof CreateCommentBody>): Promise<Place> {
  const target = body.target!;
  if (target === "board")
    return { targetType: target, targetId: boardId, zoneId: null, worktreeId: null, sessionId: null };
  const id = body.targetId!;
  const table = { zone: zones, worktree: worktrees, session: sessions }[target];
  const found = await ctx.db
    .select({ id: table.id })
    .from(table)
    .where(and(eq(table.id, id), eq(table.boardId, boardId)))
    .limit(1);
  if (found.length === 0) throw badRequest(`targetId: no such ${target} on this board.`);
  if (body.messageId) {
    const msg = await ctx.db.query.messages.findFirst({
      where: and(eq(messages.id, body.messageId), eq(messages.sessionId, id)),
      columns: { id: true },
    });
    if (!msg) throw badRequest("messageId: no such message in that session.");
  }
  return {
    targetType: target,
    targetId: id,
    zoneId: target === "zone" ? id : null,
    worktreeId: target === "worktree" ? id : null,
    sessionId: target === "session" ? id : null,
  };
}

async function mentionsIn(ctx: Ctx, boardId: string, body: string): Promise<string[]> {
  if (!body.includes("@")) return [];
  const members = await ctx.db
    .select({ userId: boardMembers.userId, name: users.name })
    .from(boardMembers)
    .innerJoin(users, eq(users.id, boardMembers.userId))
    .where(eq(boardMembers.boardId, boardId));
  return mentionedIn(body, members);
}

/** Tell the people newly named, except the writer. */
async function notifyMentioned(ctx: Ctx, c: Comment, before: readonly string[]) {
  const fresh = c.mentions.filter((u) => u !== c.authorId && !before.includes(u));
  const line = c.body.replace(/\s+/g, " ");
  await notifyUsers(ctx, c.boardId, fresh, {
    kind: "mention",
    title: `${c.authorName} mentioned you`,
    body: line.length > 280 ? `${line.slice(0, 279)}…` : line,
    href: `/b/${c.boardId}?comment=${c.threadId ?? c.id}`,
    commentId: c.id,
    sessionId: c.target === "session" ? c.targetId : null,
    actorName: c.authorName,
  });
}

export async function createComment(
  ctx: Ctx,
  boardId: string,
  body: z.infer<typeof CreateCommentBody>,
): Promise<Comment> {
  await requireBoardRole(ctx, boardId, "viewer");
  let place: Place;
  if (body.threadId) {
    const thread = await commentOnBoard(ctx, boardId, body.threadId).catch(() => {
      throw badRequest("threadId: no such thread on this board.");
    });
    if (thread.parentId) throw badRequest("threadId: reply to the thread's first comment, not to a reply.");
    place = {
      targetType: thread.targetType as CommentTarget,
      targetId: thread.targetId,
      zoneId: thread.zoneId,
      worktreeId: thread.worktreeId,
      sessionId: thread.sessionId,
    };
  } else place = await placeFor(ctx, boardId, body);
  const mentions = await mentionsIn(ctx, boardId, body.body);
  const data: CommentData = {
    messageId: body.messageId ?? null,
    x: body.x ?? null,
    y: body.y ?? null,
    mentions,
  };
  const [row] = await ctx.db
    .insert(comments)
    .values({
      id: newId(),
      boardId,
      parentId: body.threadId ?? null,
      authorId: userId(ctx),
      body: body.body,
      ...place,
      data: data as Record<string, unknown>,
    })
    .returning();
  const c = await publishComment(ctx, "created", row!);
  await notifyMentioned(ctx, c, []);
  return c;
}

export async function editComment(
  ctx: Ctx,
  boardId: string,
  commentId: string,
  body: z.infer<typeof PatchCommentBody>,
): Promise<Comment> {
  await requireBoardRole(ctx, boardId, "viewer");
  const row = await commentOnBoard(ctx, boardId, commentId);
  if (row.authorId !== userId(ctx)) throw forbidden("Only its author can edit a comment.", "not_author");
  const before = (row.data as CommentData).mentions ?? [];
  const mentions = await mentionsIn(ctx, boardId, body.body);
  const now = Date.now();
  const [updated] = await ctx.db
    .update(comments)
    .set({
      body: body.body,
      data: { ...(row.data as CommentData), mentions, editedAt: now } as Record<string, unknown>,
      updatedAt: now,
    })
    .where(and(eq(comments.id, commentId), eq(comments.authorId, userId(ctx))))
    .returning();
  if (!updated) throw notFound("Comment");
  const c = await publishComment(ctx, "patched", updated);
  await notifyMentioned(ctx, c, before);
  return c;
}

export async function deleteComment(ctx: Ctx, boardId: string, commentId: string): Promise<void> {
  const role = await requireBoardRole(ctx, boardId, "viewer");
  const row = await commentOnBoard(ctx, boardId, commentId);
  if (row.authorId !== userId(ctx) && role !== "owner") {
    throw forbidden("Only its author or the board's owner can delete a comment.", "not_author");
  }
  // A thread goes with its replies.
  const gone = await ctx.db
    .delete(comments)
    .where(and(eq(comments.boardId, boardId), or(eq(comments.id, commentId), eq(comments.parentId, commentId))))
    .returning({ id: comments.id });
  await Promise.all(gone.map((g) => ctx.publish(boardId, removed("comment", g.id))));
}

export async function resolveThread(ctx: Ctx, boardId: string, commentId: string, resolved: boolean): Promise<Comment> {
  const role = await requireBoardRole(ctx, boardId, "viewer");
  const row = await commentOnBoard(ctx, boardId, commentId);
  if (row.parentId) throw badRequest("Resolve the thread (its first comment), not a reply.");
  if (row.authorId !== userId(ctx) && role === "viewer") {
    throw forbidden("Viewers can resolve only threads they started.", "insufficient_role");
  }
  const [updated] = await ctx.db
    .update(comments)
    .set({
      resolvedAt: resolved ? Date.now() : null,
      data: { ...(row.data as CommentData), resolvedBy: resolved ? userId(ctx) : null } as Record<string, unknown>,
      updatedAt: Date.now(),
    })
    .where(eq(comments.id, commentId))
    .returning();
  return publishComment(ctx, "patched", updated!);
}

export async function react(
  ctx: Ctx,
  boardId: string,
  commentId: string,
  emoji: string,
  on: boolean,
): Promise<Comment> {
  await requireBoardRole(ctx, boardId, "viewer");
  const row = await commentOnBoard(ctx, boardId, commentId);
  const mine = and(
    eq(commentReactions.commentId, commentId),
    eq(commentReactions.userId, userId(ctx)),
    eq(commentReactions.emoji, emoji),
  );
  if (on) {
    // Twenty kinds of reaction per comment is plenty; more is someone scripting the board.
    const kinds = await ctx.db
      .selectDistinct({ emoji: commentReactions.emoji })
      .from(commentReactions)
      .where(eq(commentReactions.commentId, commentId));
    if (kinds.length >= 20 && !kinds.some((k) => k.emoji === emoji)) {
      throw badRequest("emoji: this comment already has 20 kinds of reaction; add to one of them.");
    }
    await ctx.db
      .insert(commentReactions)
      .values({ commentId, userId: userId(ctx), emoji })
      .onConflictDoNothing();
  } else await ctx.db.delete(commentReactions).where(mine);
  return publishComment(ctx, "patched", row);
}
