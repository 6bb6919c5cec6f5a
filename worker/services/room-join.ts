import { forbidden, notFound, unauthorized } from "../lib/errors.ts";
import { roleOn } from "./access.ts";
import type { Deps } from "./context.ts";
import { authenticateUser, liveCredentials } from "./credentials.ts";
import type { SocketIdentity } from "./sockets.ts";
import { inboxRoom, redeemTicket } from "./tickets.ts";
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
  const { userId, credential } = await whoseSocket(deps, boardId, pass);
  if (!(await roleOn(db, boardId, userId))) throw notFound("Board");
  const user = await getUser(db, userId);
  if (!user) throw unauthorized("Unknown user.");
  return { userId, name: user.name, color: user.color, credential };
}

/**
 * May this pass open this person's inbox? Only they may: a ticket made for their inbox, or a
 * bearer token of theirs (not a session's: see `createInboxTicket`), with the same credential
 * checks as a board socket.
 */
export async function authorizeInboxJoin(deps: Deps, ownerId: string, pass: RoomPass): Promise<SocketIdentity> {
  const who = await whoseSocket(deps, inboxRoom(ownerId), pass);
  if (who.userId !== ownerId) throw forbidden("This is someone else's inbox.");
  if (who.session) throw forbidden("A session's token cannot open its person's inbox.", "wrong_credential");
  return { userId: who.userId, credential: who.credential };
}

/** Who a socket's pass names. A ticket is spent, and must be for this room and still backed by a live credential. */
async function whoseSocket(deps: Deps, room: string, pass: RoomPass): Promise<SocketIdentity & { session?: boolean }> {
  const { db } = deps;
  if ("ticket" in pass) {
    const spent = await redeemTicket(db, pass.ticket, room);
    if (!spent) {
      throw unauthorized("Ticket is invalid, expired or already used. Ask for a new one.", "invalid_ticket");
    }
    if (!(await liveCredentials(db, [spent])).size) {
      throw unauthorized("The sign-in this ticket was made with has ended. Sign in again.", "invalid_ticket");
    }
    return spent;
  }
  const actor = pass.bearer ? await authenticateUser(deps, pass.bearer) : null;
  if (actor?.kind !== "user") throw unauthorized("Send a ticket or a bearer token.");
  return { userId: actor.userId, credential: actor.credential, session: actor.via === "session" };
}
