import { and, desc, eq, isNull } from "drizzle-orm";
import type { ApiToken, CreatedApiToken } from "../../protocol/index.ts";
import type { Db } from "../db/client.ts";
import { schema } from "../db/client.ts";
import { randomToken, sha256 } from "../lib/crypto.ts";
import { forbidden, notFound } from "../lib/errors.ts";
import { newId } from "../lib/ids.ts";
import type { Actor, Ctx } from "./context.ts";
import { userId } from "./context.ts";
import { endSockets, tokenCredential } from "./sockets.ts";

const { apiTokens, users } = schema;
export const PERSONAL_PREFIX = "trl_pat_";
export const SESSION_PREFIX = "trl_ses_";
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
  if (ctx.actor.kind === "user" && ctx.actor.via === "session") {
    throw forbidden("Session tokens cannot manage API tokens. Sign in as the user.", "wrong_credential");
  }
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
 * a token whose user is gone no credential, whatever the foreign keys did.
 */
export async function authenticateApiToken(db: Db, token: string): Promise<Actor | null> {
  const [found] = await db
    .select({ token: apiTokens })
    .from(apiTokens)
    .innerJoin(users, eq(users.id, apiTokens.userId))
    .where(eq(apiTokens.tokenHash, await sha256(token)));
  const row = found?.token;
  const now = Date.now();
  if (!row || row.revokedAt || (row.expiresAt && row.expiresAt < now)) return null;
  if (!row.lastUsedAt || now - row.lastUsedAt > LAST_USED_GRANULARITY_MS) {
    await db.update(apiTokens).set({ lastUsedAt: now }).where(eq(apiTokens.id, row.id));
  }
  const credential = tokenCredential(row.id);
  return row.scope === "session"
    ? { kind: "user", userId: row.userId, via: "session", credential, sessionId: row.sessionId ?? undefined }
    : { kind: "user", userId: row.userId, via: "personal", credential };
}
