import { and, desc, eq, isNull } from "drizzle-orm";
import type { ApiToken, CreatedApiToken } from "../../protocol/index.ts";
import type { Db } from "../db/client.ts";
import { schema } from "../db/client.ts";
import { randomToken, sha256 } from "../lib/crypto.ts";
import { notFound } from "../lib/errors.ts";
import { newId } from "../lib/ids.ts";
import { requirePerson } from "./access.ts";
import type { Actor, Ctx } from "./context.ts";
import { userId } from "./context.ts";
import { endSockets, tokenCredential } from "./sockets.ts";

const { apiTokens, users, sessions } = schema;
export const PERSONAL_PREFIX = "trl_pat_";
export const SESSION_PREFIX = "trl_ses_";
/** An agent's token lives as long as a long task could; a new task gets a new one. */
export const SESSION_TOKEN_TTL_MS = 24 * 60 * 60 * 1000;
/** Writing last-used on every request would put a D1 write on every API call; once a minute is plenty. */
const LAST_USED_GRANULARITY_MS = 60_000;

const toApiToken = (r: typeof apiTokens.$inferSelect): ApiToken => ({
  id: r.id,
  name: r.name,
  createdAt: r.createdAt,
  lastUsedAt: r.lastUsedAt,
});

/**
 * An agent's session token is short-lived and bound to one session: letting it mint, list or
 * revoke the user's long-lived personal tokens would turn 24 hours of access into forever.
 */
function requireNotSession(ctx: Ctx) {
  requirePerson(ctx, "manage API tokens");
}

export async function createApiToken(ctx: Ctx, name: string): Promise<CreatedApiToken> {
  requireNotSession(ctx);
  const token = randomToken(PERSONAL_PREFIX);
  const [row] = await ctx.db
    .insert(apiTokens)
    .values({ id: newId(), userId: userId(ctx), name, scope: "personal", tokenHash: await sha256(token) })
    .returning();
  return { ...toApiToken(row!), token };
}

export async function listApiTokens(ctx: Ctx): Promise<ApiToken[]> {
  requireNotSession(ctx);
  const rows = await ctx.db.query.apiTokens.findMany({
    where: and(eq(apiTokens.userId, userId(ctx)), eq(apiTokens.scope, "personal"), isNull(apiTokens.revokedAt)),
    orderBy: desc(apiTokens.id),
  });
  return rows.map(toApiToken);
}

export async function revokeApiToken(ctx: Ctx, id: string): Promise<void> {
  requireNotSession(ctx);
  const [row] = await ctx.db
    .update(apiTokens)
    .set({ revokedAt: Date.now() })
    .where(and(eq(apiTokens.id, id), eq(apiTokens.userId, userId(ctx)), isNull(apiTokens.revokedAt)))
    .returning({ id: apiTokens.id });
  if (!row) throw notFound("Token");
  // Whatever this token opened closes now, not when it next makes a request.
  await endSockets(ctx, { userId: userId(ctx), credential: tokenCredential(id) });
}

/**
 * Resolve an opaque user bearer token (personal or session) to an actor, or null. The join makes
 * a token whose user is gone no credential, whatever the foreign keys did; a session token also
 * needs its session (deleting a session revokes its tokens, and a board's deletion takes its
 * sessions), and reaches only that session's board.
 */
export async function authenticateApiToken(db: Db, token: string): Promise<Actor | null> {
  const [found] = await db
    .select({ token: apiTokens, boardId: sessions.boardId })
    .from(apiTokens)
    .innerJoin(users, eq(users.id, apiTokens.userId))
    .leftJoin(sessions, eq(sessions.id, apiTokens.sessionId))
    .where(eq(apiTokens.tokenHash, await sha256(token)));
  const row = found?.token;
  const now = Date.now();
  if (!row || row.revokedAt || (row.expiresAt && row.expiresAt < now)) return null;
  if (row.scope === "session" && !found.boardId) return null;
  if (!row.lastUsedAt || now - row.lastUsedAt > LAST_USED_GRANULARITY_MS) {
    await db.update(apiTokens).set({ lastUsedAt: now }).where(eq(apiTokens.id, row.id));
  }
  const credential = tokenCredential(row.id);
  return row.scope === "session"
    ? {
        kind: "user",
        userId: row.userId,
        via: "session",
        credential,
        sessionId: row.sessionId ?? undefined,
        boardId: found.boardId ?? undefined,
      }
    : { kind: "user", userId: row.userId, via: "personal", credential };
}

/**
 * A session's MCP token, minted when its task is handed to the runner: hashed, for the session's
 * user, expiring. Only the newest stays in force (a retried task gets a new one, and the one
 * before it, which only the old claim knew, ends), so a session has at most one live token.
 */
export async function mintSessionToken(
  db: Db,
  session: { id: string; createdBy: string },
): Promise<{ token: string; expiresAt: number }> {
  const token = randomToken(SESSION_PREFIX);
  const now = Date.now();
  const expiresAt = now + SESSION_TOKEN_TTL_MS;
  await db.batch([
    db
      .update(apiTokens)
      .set({ revokedAt: now })
      .where(and(eq(apiTokens.sessionId, session.id), eq(apiTokens.scope, "session"), isNull(apiTokens.revokedAt))),
    db.insert(apiTokens).values({
      id: newId(),
      userId: session.createdBy,
      name: `session ${session.id}`,
      scope: "session",
      sessionId: session.id,
      tokenHash: await sha256(token),
      expiresAt,
    }),
  ]);
  return { token, expiresAt };
}

/** A deleted session's tokens end with it (the join in `authenticateApiToken` would refuse them too). */
export function revokeSessionTokens(db: Db, sessionId: string) {
  return db
    .update(apiTokens)
    .set({ revokedAt: Date.now() })
    .where(and(eq(apiTokens.sessionId, sessionId), eq(apiTokens.scope, "session"), isNull(apiTokens.revokedAt)));
}
