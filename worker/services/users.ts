import { and, eq, isNull } from "drizzle-orm";
import type { LoginBody, RegisterBody, User } from "../../protocol/index.ts";
import type { Db } from "../db/client.ts";
import { schema } from "../db/client.ts";
import type { Env } from "../env.ts";
import { dummyPasswordHash, hashPassword, randomToken, sha256, verifyPassword } from "../lib/crypto.ts";
import { AppError, conflict, tooMany, unauthorized } from "../lib/errors.ts";
import { newId } from "../lib/ids.ts";
import { ACCESS_TTL_S, signAccessToken } from "../lib/jwt.ts";

const { users, refreshTokens, loginThrottle } = schema;

export const REFRESH_TTL_MS = 30 * 24 * 3600 * 1000;
const PALETTE = ["#e11d48", "#db2777", "#9333ea", "#4f46e5", "#0284c7", "#0d9488", "#16a34a", "#ca8a04", "#ea580c"];
export const LOCAL_OWNER_EMAIL = "owner@local.trellis";

export function toUser(row: typeof users.$inferSelect): User {
  return { id: row.id, email: row.email, name: row.name, color: row.color, createdAt: row.createdAt };
}

function colorFor(seed: string): string {
  let h = 0;
  for (const c of seed) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return PALETTE[h % PALETTE.length]!;
}

export async function getUser(db: Db, id: string): Promise<User | null> {
  const row = await db.query.users.findFirst({ where: eq(users.id, id) });
  return row ? toUser(row) : null;
}

export async function register(db: Db, env: Env, body: RegisterBody) {
  const existing = await db.query.users.findFirst({ where: eq(users.email, body.email), columns: { id: true } });
  if (existing) throw conflict("An account with this email already exists. Log in instead.", "email_taken");
  const id = newId();
  const passwordHash = await hashPassword(body.password);
  try {
    await db
      .insert(users)
      .values({ id, email: body.email, name: body.name, color: colorFor(body.email), passwordHash });
  } catch (err) {
    // Two registrations racing for one email: the unique index decides.
    if (String(err).includes("UNIQUE")) throw conflict("An account with this email already exists.", "email_taken");
    throw err;
  }
  return issueSession(db, env, id, newId());
}

// Login attempts per email: the first few are free, then each further try must wait longer.
const FREE_FAILURES = 5;
const throttleDelayMs = (failures: number) => Math.min(2 ** (failures - FREE_FAILURES) * 1000, 15 * 60 * 1000);
const THROTTLE_FORGET_MS = 60 * 60 * 1000;
const RESERVE_TRIES = 5;

/**
 * Count this attempt before the password is checked, or refuse it with 429. The count is a
 * compare-and-swap on the row, so a burst of concurrent guesses is counted one by one instead of
 * every request reading the same count and all of them getting a free try.
 */
async function reserveLoginAttempt(db: Db, key: string): Promise<void> {
  for (let i = 0; i < RESERVE_TRIES; i++) {
    const now = Date.now();
    const t = await db.query.loginThrottle.findFirst({ where: eq(loginThrottle.key, key) });
    const failures = t && now - t.lastFailureAt < THROTTLE_FORGET_MS ? t.failures : 0;
    if (t && failures >= FREE_FAILURES) {
      const waitMs = t.lastFailureAt + throttleDelayMs(failures) - now;
      if (waitMs > 0) {
        throw tooMany(`Too many failed logins for this email. Try again in ${Math.ceil(waitMs / 1000)} s.`);
      }
    }
    const won = t
      ? await db
          .update(loginThrottle)
          .set({ failures: failures + 1, lastFailureAt: now })
          .where(
            and(
              eq(loginThrottle.key, key),
              eq(loginThrottle.failures, t.failures),
              eq(loginThrottle.lastFailureAt, t.lastFailureAt),
            ),
          )
          .returning({ key: loginThrottle.key })
      : await db
          .insert(loginThrottle)
          .values({ key, failures: 1, lastFailureAt: now })
          .onConflictDoNothing()
          .returning({ key: loginThrottle.key });
    if (won.length > 0) return;
  }
  throw tooMany("Too many logins for this email at once. Try again in a few seconds.");
}

export async function login(db: Db, env: Env, body: LoginBody) {
  const key = `email:${body.email}`;
  await reserveLoginAttempt(db, key);
  const user = await db.query.users.findFirst({ where: eq(users.email, body.email) });
  const ok = await verifyPassword(body.password, user?.passwordHash ?? (await dummyPasswordHash()));
  if (!user?.passwordHash || !ok) {
    // The wait runs from the failure, not from the start of the slow password check.
    await db.update(loginThrottle).set({ lastFailureAt: Date.now() }).where(eq(loginThrottle.key, key));
    throw unauthorized("Wrong email or password.", "invalid_credentials");
  }
  // A success forgets the count: the attempt already reserved is not a failure.
  await db.delete(loginThrottle).where(eq(loginThrottle.key, key));
  return issueSession(db, env, user.id, newId());
}

async function issueSession(db: Db, env: Env, uid: string, familyId: string) {
  const refreshToken = randomToken("trl_rt_");
  const [user] = await db.batch([
    db.select().from(users).where(eq(users.id, uid)),
    db.insert(refreshTokens).values({
      id: newId(),
      userId: uid,
      familyId,
      tokenHash: await sha256(refreshToken),
      expiresAt: Date.now() + REFRESH_TTL_MS,
    }),
  ]);
  if (!user[0]) throw unauthorized();
  return {
    user: toUser(user[0]),
    accessToken: await signAccessToken(env.JWT_SECRET, uid),
    expiresIn: ACCESS_TTL_S,
    refreshToken,
  };
}

/**
 * Rotate: the presented token is spent and a new one issued in the same family. Presenting a spent
 * token again means it was stolen (or replayed): the whole family is revoked.
 */
export async function refresh(db: Db, env: Env, token: string) {
  const hash = await sha256(token);
  const now = Date.now();
  // Claim the token in one statement so two concurrent refreshes cannot both succeed.
  const [claimed] = await db
    .update(refreshTokens)
    .set({ usedAt: now })
    .where(and(eq(refreshTokens.tokenHash, hash), isNull(refreshTokens.usedAt), isNull(refreshTokens.revokedAt)))
    .returning();
  if (!claimed) {
    const row = await db.query.refreshTokens.findFirst({ where: eq(refreshTokens.tokenHash, hash) });
    if (row?.usedAt) {
      await db.update(refreshTokens).set({ revokedAt: now }).where(eq(refreshTokens.familyId, row.familyId));
      throw unauthorized(
        "This session was signed out because its refresh token was reused. Log in again.",
        "token_reused",
      );
    }
    throw unauthorized("Your session has ended. Log in again.", "invalid_refresh_token");
  }
  if (claimed.expiresAt < now) throw unauthorized("Your session has expired. Log in again.", "invalid_refresh_token");
  return issueSession(db, env, claimed.userId, claimed.familyId);
}

export async function logout(db: Db, token: string): Promise<void> {
  const row = await db.query.refreshTokens.findFirst({ where: eq(refreshTokens.tokenHash, await sha256(token)) });
  if (row)
    await db.update(refreshTokens).set({ revokedAt: Date.now() }).where(eq(refreshTokens.familyId, row.familyId));
}

/** Single-user local mode: one owner account with no password, created on first use. */
export async function localSession(db: Db, env: Env) {
  if (env.SINGLE_USER !== "1") throw new AppError(403, "single_user_off", "Single-user mode is off: log in.");
  let owner = await db.query.users.findFirst({ where: eq(users.email, LOCAL_OWNER_EMAIL) });
  if (!owner) {
    await db
      .insert(users)
      .values({ id: newId(), email: LOCAL_OWNER_EMAIL, name: "You", color: colorFor(LOCAL_OWNER_EMAIL) })
      .onConflictDoNothing();
    owner = await db.query.users.findFirst({ where: eq(users.email, LOCAL_OWNER_EMAIL) });
  }
  return issueSession(db, env, owner!.id, newId());
}
