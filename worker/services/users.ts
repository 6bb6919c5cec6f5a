import { and, eq, inArray, isNull } from "drizzle-orm";
import type { ChangePasswordBody, LoginBody, RegisterBody, User } from "../../protocol/index.ts";
import type { Db } from "../db/client.ts";
import { schema } from "../db/client.ts";
import { dummyPasswordHash, hashPassword, randomToken, sha256, verifyPassword } from "../lib/crypto.ts";
import { AppError, conflict, forbidden, tooMany, unauthorized } from "../lib/errors.ts";
import { newId } from "../lib/ids.ts";
import { ACCESS_TTL_S, signAccessToken } from "../lib/jwt.ts";
import type { Ctx, Deps } from "./context.ts";
import { endSockets, familyCredential } from "./sockets.ts";

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

export async function register(deps: Deps, body: RegisterBody) {
  const { db } = deps;
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
  return issueSession(deps, id, newId());
}

// Failed logins are counted per email *and source* (so an attacker slows only themselves, never
// locks the owner of the email out), and per source alone, with a higher ceiling (so one source
// cannot try many emails). The first few are free, then each further try must wait longer.
const LIMITS = {
  pair: { free: 5, noun: "for this email" },
  source: { free: 30, noun: "from your network" },
} as const;
const throttleDelayMs = (failures: number, free: number) => Math.min(2 ** (failures - free) * 1000, 15 * 60 * 1000);
const THROTTLE_FORGET_MS = 60 * 60 * 1000;
const RESERVE_TRIES = 5;

/**
 * Where a login comes from: Cloudflare's client address, IPv6 cut to its /64 (one host holds a
 * whole /64, so counting single addresses would give it 2^64 budgets).
 */
export function loginSource(ip: string | undefined): string {
  if (!ip) return "unknown";
  if (!ip.includes(":")) return ip;
  const groups = ip.split("::")[0]!.split(":");
  return `${groups.slice(0, 4).join(":")}::/64`;
}

const throttleKeys = (email: string, source: string) => ({
  pair: `email:${email} src:${source}`,
  source: `src:${source}`,
});

/**
 * Count this attempt before the password is checked, or refuse it with 429. The count is a
 * compare-and-swap on the row, so a burst of concurrent guesses is counted one by one instead of
 * every request reading the same count and all of them getting a free try.
 */
async function reserveLoginAttempt(db: Db, key: string, limit: (typeof LIMITS)[keyof typeof LIMITS]): Promise<void> {
  for (let i = 0; i < RESERVE_TRIES; i++) {
    const now = Date.now();
    const t = await db.query.loginThrottle.findFirst({ where: eq(loginThrottle.key, key) });
    const failures = t && now - t.lastFailureAt < THROTTLE_FORGET_MS ? t.failures : 0;
    if (t && failures >= limit.free) {
      const waitMs = t.lastFailureAt + throttleDelayMs(failures, limit.free) - now;
      if (waitMs > 0) {
        throw tooMany(`Too many failed logins ${limit.noun}. Try again in ${Math.ceil(waitMs / 1000)} s.`);
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
  throw tooMany(`Too many logins ${limit.noun} at once. Try again in a few seconds.`);
}

/** Check a password under the throttle: an attempt is counted before the slow check and forgotten on success. */
async function checkPassword(db: Db, email: string, password: string, source: string) {
  const keys = throttleKeys(email, source);
  await reserveLoginAttempt(db, keys.source, LIMITS.source);
  await reserveLoginAttempt(db, keys.pair, LIMITS.pair);
  const user = await db.query.users.findFirst({ where: eq(users.email, email) });
  const ok = await verifyPassword(password, user?.passwordHash ?? (await dummyPasswordHash()));
  if (!user?.passwordHash || !ok) {
    // The wait runs from the failure, not from the start of the slow password check.
    await db
      .update(loginThrottle)
      .set({ lastFailureAt: Date.now() })
      .where(inArray(loginThrottle.key, [keys.pair, keys.source]));
    return null;
  }
  // A success forgets this email's count from here; the source's count stays, or logging in to
  // one's own account between guesses would reset the ceiling.
  await db.delete(loginThrottle).where(eq(loginThrottle.key, keys.pair));
  return user;
}

export async function login(deps: Deps, body: LoginBody, source: string) {
  const user = await checkPassword(deps.db, body.email, body.password, source);
  if (!user) throw unauthorized("Wrong email or password.", "invalid_credentials");
  return issueSession(deps, user.id, newId());
}

/**
 * A new password ends every sign-in of the account, and the sockets they opened, on every board;
 * the person changing it stays signed in with a new session. API tokens are not sign-ins: they
 * stay until revoked.
 */
export async function changePassword(ctx: Ctx, body: ChangePasswordBody, source: string) {
  if (ctx.actor.kind !== "user" || ctx.actor.via !== "jwt") {
    throw forbidden("Change your password signed in, not with an API token.", "wrong_credential");
  }
  const uid = ctx.actor.userId;
  const me = await ctx.db.query.users.findFirst({ where: eq(users.id, uid) });
  if (!me) throw unauthorized();
  if (!me.passwordHash) {
    throw conflict("The local owner has no password: single-user mode does not sign in.", "no_password");
  }
  if (!(await checkPassword(ctx.db, me.email, body.currentPassword, source))) {
    throw forbidden("Your current password is not right.", "invalid_credentials");
  }
  const passwordHash = await hashPassword(body.newPassword);
  const now = Date.now();
  await ctx.db.batch([
    ctx.db.update(users).set({ passwordHash }).where(eq(users.id, uid)),
    ctx.db
      .update(refreshTokens)
      .set({ revokedAt: now })
      .where(and(eq(refreshTokens.userId, uid), isNull(refreshTokens.revokedAt))),
  ]);
  await endSockets(ctx, { userId: uid, credential: "fam:*" });
  return issueSession(ctx, uid, newId());
}

async function issueSession({ db, config }: Deps, uid: string, familyId: string) {
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
    accessToken: await signAccessToken(config.jwtSecret, uid, familyId),
    expiresIn: ACCESS_TTL_S,
    refreshToken,
  };
}

/**
 * Rotate: the presented token is spent and a new one issued in the same family. Presenting a spent
 * token again means it was stolen (or replayed): the whole family is revoked.
 */
export async function refresh(deps: Deps, token: string) {
  const { db } = deps;
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
      await endFamily(deps, row);
      throw unauthorized(
        "This session was signed out because its refresh token was reused. Log in again.",
        "token_reused",
      );
    }
    throw unauthorized("Your session has ended. Log in again.", "invalid_refresh_token");
  }
  if (claimed.expiresAt < now) throw unauthorized("Your session has expired. Log in again.", "invalid_refresh_token");
  return issueSession(deps, claimed.userId, claimed.familyId);
}

/** Ending a sign-in ends its access tokens (they name their family) and its sockets on every board. */
async function endFamily(deps: Deps, row: { userId: string; familyId: string }) {
  await deps.db.update(refreshTokens).set({ revokedAt: Date.now() }).where(eq(refreshTokens.familyId, row.familyId));
  await endSockets(deps, { userId: row.userId, credential: familyCredential(row.familyId) });
}

export async function logout(deps: Deps, token: string): Promise<void> {
  const row = await deps.db.query.refreshTokens.findFirst({ where: eq(refreshTokens.tokenHash, await sha256(token)) });
  if (row) await endFamily(deps, row);
}

/** Single-user local mode: one owner account with no password, created on first use. */
export async function localSession(deps: Deps) {
  const { db } = deps;
  if (!deps.config.singleUser) throw new AppError(403, "single_user_off", "Single-user mode is off: log in.");
  let owner = await db.query.users.findFirst({ where: eq(users.email, LOCAL_OWNER_EMAIL) });
  if (!owner) {
    await db
      .insert(users)
      .values({ id: newId(), email: LOCAL_OWNER_EMAIL, name: "You", color: colorFor(LOCAL_OWNER_EMAIL) })
      .onConflictDoNothing();
    owner = await db.query.users.findFirst({ where: eq(users.email, LOCAL_OWNER_EMAIL) });
  }
  return issueSession(deps, owner!.id, newId());
}
