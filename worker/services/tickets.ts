import { and, eq, gt, lt } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { schema } from "../db/client.ts";
import { randomToken, sha256 } from "../lib/crypto.ts";
import { requireBoardRole } from "./access.ts";
import type { Ctx } from "./context.ts";
import { userId } from "./context.ts";

const { roomTickets } = schema;
export const TICKET_TTL_MS = 30_000;

/** A browser's pass into a board room: single use, 30 s, so no long-lived token rides in a URL. */
export async function createTicket(ctx: Ctx, boardId: string) {
  await requireBoardRole(ctx, boardId, "viewer");
  const ticket = randomToken("trl_tk_", 24);
  const now = Date.now();
  await ctx.db.batch([
    // Housekeeping rides along: expired tickets of anyone are dropped here.
    ctx.db.delete(roomTickets).where(lt(roomTickets.expiresAt, now)),
    ctx.db.insert(roomTickets).values({
      ticketHash: await sha256(ticket),
      userId: userId(ctx),
      credential: ctx.actor.kind === "user" ? ctx.actor.credential : null,
      boardId,
      expiresAt: now + TICKET_TTL_MS,
    }),
  ]);
  return { ticket, expiresIn: TICKET_TTL_MS / 1000 };
}

/**
 * Spend a ticket: one statement deletes and returns it, so it cannot be used twice. It hands on
 * the credential it was made with, so the socket ends when that credential does.
 */
export async function redeemTicket(
  db: Db,
  ticket: string,
  boardId: string,
): Promise<{ userId: string; credential: string } | null> {
  const [row] = await db
    .delete(roomTickets)
    .where(
      and(
        eq(roomTickets.ticketHash, await sha256(ticket)),
        eq(roomTickets.boardId, boardId),
        gt(roomTickets.expiresAt, Date.now()),
      ),
    )
    .returning({ userId: roomTickets.userId, credential: roomTickets.credential });
  // A ticket from before tickets named their credential cannot be tied to one: refuse it (it lives 30 s).
  return row?.credential ? { userId: row.userId, credential: row.credential } : null;
}
