import { and, eq, gt, inArray, isNull, or } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { schema } from "../db/client.ts";
import { verifyAccessToken } from "../lib/jwt.ts";
import type { Actor, Deps } from "./context.ts";
import type { SocketIdentity } from "./sockets.ts";
import { familyCredential } from "./sockets.ts";
import { authenticateApiToken } from "./tokens.ts";

const { users, refreshTokens, apiTokens, boardMembers } = schema;

/**
 * The one place a user bearer token becomes an actor, for REST, MCP and socket upgrades alike. A
 * credential whose user is gone, or whose sign-in was ended, is no credential: callers answer 401.
 */
export async function authenticateUser(deps: Deps, token: string): Promise<Actor | null> {
  const { db } = deps;
  if (token.startsWith("trl_run_")) return null;
  if (token.startsWith("trl_")) return authenticateApiToken(db, token);
  const claims = await verifyAccessToken(deps.config.jwtSecret, token);
  if (!claims) return null;
  const live = await liveFamilies(db, [claims]);
  if (!live.has(claims.familyId)) return null;
  return { kind: "user", userId: claims.userId, via: "jwt", credential: familyCredential(claims.familyId) };
}

/** D1 binds at most 100 parameters per query. */
const CHUNK = 45;

/**
 * Sign-ins still in force: a refresh row of the family that is not revoked (rotated rows are
 * spent, not revoked) and has not expired, for a user that still exists (the rows cascade away
 * with the user).
 */
async function liveFamilies(db: Db, items: { userId: string; familyId: string }[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (let i = 0; i < items.length; i += CHUNK) {
    const part = items.slice(i, i + CHUNK);
    const rows = await db
      .selectDistinct({ familyId: refreshTokens.familyId })
      .from(refreshTokens)
      .innerJoin(users, eq(users.id, refreshTokens.userId))
      .where(
        and(
          or(...part.map((p) => and(eq(refreshTokens.familyId, p.familyId), eq(refreshTokens.userId, p.userId)))),
          isNull(refreshTokens.revokedAt),
          gt(refreshTokens.expiresAt, Date.now()),
        ),
      );
    for (const r of rows) out.add(r.familyId);
  }
  return out;
}

/** The key `stillAllowed` and `liveCredentials` answer with, one per socket identity. */
export const identityKey = (s: SocketIdentity) => `${s.userId} ${s.credential}`;

/** Which of these credentials are still in force, for the users they name. */
export async function liveCredentials(db: Db, sockets: SocketIdentity[]): Promise<Set<string>> {
  const families: { userId: string; familyId: string }[] = [];
  const tokenIds: string[] = [];
  for (const s of sockets) {
    if (s.credential.startsWith("fam:")) families.push({ userId: s.userId, familyId: s.credential.slice(4) });
    else if (s.credential.startsWith("tok:")) tokenIds.push(s.credential.slice(4));
  }
  const liveFam = await liveFamilies(db, families);
  const liveTok = new Map<string, string>();
  const now = Date.now();
  for (let i = 0; i < tokenIds.length; i += CHUNK * 2) {
    const rows = await db
      .select({ id: apiTokens.id, userId: apiTokens.userId, expiresAt: apiTokens.expiresAt })
      .from(apiTokens)
      .innerJoin(users, eq(users.id, apiTokens.userId))
      .where(and(inArray(apiTokens.id, tokenIds.slice(i, i + CHUNK * 2)), isNull(apiTokens.revokedAt)));
    for (const r of rows) if (!r.expiresAt || r.expiresAt > now) liveTok.set(r.id, r.userId);
  }
  const out = new Set<string>();
  for (const s of sockets) {
    const id = s.credential.slice(4);
    const ok = s.credential.startsWith("fam:") ? liveFam.has(id) : liveTok.get(id) === s.userId;
    if (ok) out.add(identityKey(s));
  }
  return out;
}

/**
 * Which of a board's sockets may stay: the credential is still in force and its user is still a
 * member. The room asks this on its sweep, which catches what no event announced (a token that
 * expired, a user deleted underneath us); `endSockets` ends sockets at once when a credential ends.
 */
export async function stillAllowed(db: Db, boardId: string, sockets: SocketIdentity[]): Promise<Set<string>> {
  const live = await liveCredentials(db, sockets);
  const userIds = [...new Set(sockets.map((s) => s.userId))];
  const members = new Set<string>();
  for (let i = 0; i < userIds.length; i += CHUNK * 2) {
    const rows = await db
      .select({ userId: boardMembers.userId })
      .from(boardMembers)
      .where(and(eq(boardMembers.boardId, boardId), inArray(boardMembers.userId, userIds.slice(i, i + CHUNK * 2))));
    for (const r of rows) members.add(r.userId);
  }
  return new Set([...live].filter((k) => members.has(k.slice(0, k.indexOf(" ")))));
}
