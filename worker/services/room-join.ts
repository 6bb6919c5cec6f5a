import { notFound, unauthorized } from "../lib/errors.ts";
import { roleOn } from "./access.ts";
import type { Deps } from "./context.ts";
import { authenticateUser, liveCredentials } from "./credentials.ts";
import { redeemTicket } from "./tickets.ts";
import { getUser } from "./users.ts";

/** How a socket asks to join a board room: a browser's single-use ticket, or any other client's bearer token. */
export type RoomPass = { ticket: string } | { bearer: string | null };

/** Who a board socket belongs to, and the credential it came with (so ending that credential ends the socket). */
export interface RoomIdentity {
  userId: string;
  name: string;
  color: string;
  credential: string;
}

/**
 * May this pass join this board's room? The same membership gate as every REST route, so a
 * non-member gets the same 404 there as here. A ticket is spent, and the credential it was made
 * with must still be in force: a token revoked in the ticket's 30 seconds does not open a socket.
 */
export async function authorizeRoomJoin(deps: Deps, boardId: string, pass: RoomPass): Promise<RoomIdentity> {
  const { db } = deps;
  let userId: string;
  let credential: string;
  if ("ticket" in pass) {
    const spent = await redeemTicket(db, pass.ticket, boardId);
    if (!spent) {
      throw unauthorized("Ticket is invalid, expired or already used. Ask for a new one.", "invalid_ticket");
    }
    ({ userId, credential } = spent);
    if (!(await liveCredentials(db, [spent])).size) {
      throw unauthorized("The sign-in this ticket was made with has ended. Sign in again.", "invalid_ticket");
    }
  } else {
    const actor = pass.bearer ? await authenticateUser(deps, pass.bearer) : null;
    if (actor?.kind !== "user") throw unauthorized("Send a ticket or a bearer token.");
    ({ userId, credential } = actor);
  }
  if (!(await roleOn(db, boardId, userId))) throw notFound("Board");
  const user = await getUser(db, userId);
  if (!user) throw unauthorized("Unknown user.");
  return { userId, name: user.name, color: user.color, credential };
}
