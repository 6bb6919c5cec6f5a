import { eq } from "drizzle-orm";
import { schema } from "../db/client.ts";
import type { Deps } from "./context.ts";

const { boardMembers } = schema;

/**
 * Every user credential has a name that outlives the request it came with: `fam:<id>` for a
 * sign-in (its refresh-token family, which its access tokens carry), `tok:<id>` for a personal or
 * session API token. A board socket remembers the name it was opened with, so ending a credential
 * ends its sockets too, and the room can re-check them.
 */
export type CredentialName = `fam:${string}` | `tok:${string}`;

export const familyCredential = (familyId: string): CredentialName => `fam:${familyId}`;
export const tokenCredential = (tokenId: string): CredentialName => `tok:${tokenId}`;

export interface SocketIdentity {
  userId: string;
  credential: string;
}

/** Which sockets of a user to end: those of one credential, or every sign-in (`fam:*`), or all. */
export type SocketMatch = { userId: string; credential?: CredentialName | "fam:*" };

/**
 * End a user's sockets at once: on every board they belong to, and their inbox. Like publishing,
 * this never fails the change that caused it: the credential is already dead in D1, so the socket
 * could not reconnect, and each room's sweep closes whatever this misses.
 */
export async function endSockets(ctx: Deps, match: SocketMatch): Promise<void> {
  const boards = await ctx.db
    .select({ boardId: boardMembers.boardId })
    .from(boardMembers)
    .where(eq(boardMembers.userId, match.userId));
  await Promise.all([
    ctx.inboxes.endSockets(match),
    ...boards.map(({ boardId }) => ctx.rooms.endSockets(boardId, match)),
  ]);
}

/** Does a socket's identity fall under a match? Shared by the room and its tests. */
export function matches(match: SocketMatch, socket: SocketIdentity): boolean {
  if (socket.userId !== match.userId) return false;
  if (!match.credential) return true;
  if (match.credential === "fam:*") return socket.credential.startsWith("fam:");
  return socket.credential === match.credential;
}
