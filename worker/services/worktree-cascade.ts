import { and, eq, inArray, isNotNull, or } from "drizzle-orm";
import { schema } from "../db/client.ts";
import type { Ctx } from "./context.ts";
import { removed } from "./context.ts";
import { stopTask } from "./sessions.ts";

const { sessions, comments } = schema;

/**
 * What goes with a worktree card. The foreign keys delete its sessions (with their tasks and
 * messages) and the comments pinned to it or to its sessions; the board's rooms hear of each
 * here, so an open panel or thread says it is gone instead of lingering until the next join.
 */

/** Before its folder is removed: no agent keeps working in it. */
export async function stopWorktreeSessions(ctx: Ctx, worktreeId: string): Promise<void> {
  const busy = await ctx.db
    .select({ taskId: sessions.activeTaskId })
    .from(sessions)
    .where(and(eq(sessions.worktreeId, worktreeId), isNotNull(sessions.activeTaskId)));
  for (const { taskId } of busy) if (taskId) await stopTask(ctx, taskId);
}

/** Reads of what the card's deletion takes, to run in the same batch just before it. */
export function dependentsOf(ctx: Ctx, worktreeId: string) {
  const ofWorktree = ctx.db.select({ id: sessions.id }).from(sessions).where(eq(sessions.worktreeId, worktreeId));
  return [
    ofWorktree,
    ctx.db
      .select({ id: comments.id })
      .from(comments)
      .where(or(eq(comments.worktreeId, worktreeId), inArray(comments.sessionId, ofWorktree))),
  ] as const;
}

export async function publishDependentsGone(
  ctx: Ctx,
  boardId: string,
  [gone, goneComments]: [{ id: string }[], { id: string }[]],
): Promise<void> {
  await Promise.all([
    ...gone.map((s) => ctx.publish(boardId, removed("session", s.id))),
    ...goneComments.map((c) => ctx.publish(boardId, removed("comment", c.id))),
  ]);
}
