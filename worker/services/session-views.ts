import { and, eq } from "drizzle-orm";
import { schema } from "../db/client.ts";
import { requireBoardRole } from "./access.ts";
import type { Ctx } from "./context.ts";
import { userId } from "./context.ts";
import { sessionOnBoard } from "./session-rows.ts";

/**
 * When each person last looked at each session. A card pulses for you when one of its sessions
 * finished after you last looked; opening the session clears it for you alone, so this is
 * per person and never announced to the board.
 */

const { sessionViews } = schema;

export async function markSeen(ctx: Ctx, boardId: string, sessionId: string): Promise<{ seenAt: number }> {
  await requireBoardRole(ctx, boardId, "viewer");
  await sessionOnBoard(ctx, boardId, sessionId);
  const seenAt = Date.now();
  await ctx.db
    .insert(sessionViews)
    .values({ userId: userId(ctx), sessionId, boardId, seenAt })
    .onConflictDoUpdate({ target: [sessionViews.userId, sessionViews.sessionId], set: { seenAt } });
  return { seenAt };
}

/** My views on one board: session id → when I last looked. */
export async function listSeen(ctx: Ctx, boardId: string): Promise<Record<string, number>> {
  await requireBoardRole(ctx, boardId, "viewer");
  const rows = await ctx.db
    .select({ sessionId: sessionViews.sessionId, seenAt: sessionViews.seenAt })
    .from(sessionViews)
    .where(and(eq(sessionViews.userId, userId(ctx)), eq(sessionViews.boardId, boardId)));
  return Object.fromEntries(rows.map((r) => [r.sessionId, r.seenAt]));
}
