import { and, eq, gt, lt } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { schema } from "../db/client.ts";
import { randomToken, sha256 } from "../lib/crypto.ts";
import { forbidden } from "../lib/errors.ts";
import { requireBoardRole } from "./access.ts";
import type { Ctx } from "./context.ts";
import { userId } from "./context.ts";

const { roomTickets } = schema;
export const TICKET_TTL_MS = 30_000;

/** What a ticket opens when it is not a board: its owner's inbox. */
export const inboxRoom = (userId: string) => `inbox:${userId}`;

/** A browser's pass into a board room: single use, 30 s, so no long-lived token rides in a URL. */
export async function createTicket(ctx: Ctx, boardId: string) {
  await requireBoardRole(ctx, boardId, "viewer");
  return issue(ctx, boardId);
}

/**
 * A browser's pass onto its person's own inbox socket. Not for a session's token: the agent has
 * no business hearing its person's bell across every board.
 */
export async function createInboxTicket(ctx: Ctx) {
  if (ctx.actor.kind === "user" && ctx.actor.via === "session") {
    throw forbidden("A session's token cannot open its person's inbox.", "wrong_credential");
  }
  return issue(ctx, inboxRoom(userId(ctx)));
}

async function issue(ctx: Ctx, room: string) {
  const ticket = randomToken("trl_tk_", 24);
  const now = Date.now();
  await ctx.db.batch([
    // Housekeeping rides along: expired tickets of anyone are dropped here.
    ctx.db.delete(roomTickets).where(lt(roomTickets.expiresAt, now)),
    ctx.db.insert(roomTickets).values({
      ticketHash: await sha256(ticket),
      userId: userId(ctx),
      credential: ctx.actor.kind === "user" ? ctx.actor.credential : null,
      boardId: room,
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
  /** The room it must have been made for: a board id, or `inboxRoom(userId)`. */
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
