import { and, asc, count, eq, gt, ne } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import {
  KEY_PROVIDER_LABELS,
  type KeyProvider,
  MAX_ENV_VARS,
  type Provider,
  type PutKeyBody,
  type SecretKind,
  type TaskSecrets,
  type UserSecret,
} from "../../protocol/index.ts";
import { schema } from "../db/client.ts";
import { keyring, reseal, seal, sealedVersion, unseal } from "../lib/crypto.ts";
import { AppError, badRequest, forbidden, notFound } from "../lib/errors.ts";
import { newId } from "../lib/ids.ts";
import type { Ctx, Deps } from "./context.ts";
import { userId } from "./context.ts";

/**
 * A person's provider keys and environment variables: saved sealed, listed by name and last
 * four only, and opened for exactly one reader: the task context of a task that person
 * prompted, which the runner holding that task's lease fetches (`session-tasks.ts`).
 */

const { userSecrets } = schema;
type Row = typeof userSecrets.$inferSelect;

/** Each value is bound to its owner and its name: a ciphertext copied to another row does not open. */
const aadOf = (r: { userId: string; kind: string; name: string }) => `user-secret:${r.userId}:${r.kind}:${r.name}`;

/** Short values would be half revealed by their last four: show none of them. */
const last4Of = (value: string) => (value.length >= 8 ? value.slice(-4) : null);

const toUserSecret = (r: Row): UserSecret => ({
  kind: r.kind as SecretKind,
  name: r.name,
  last4: r.last4,
  baseUrl: r.baseUrl,
  updatedAt: r.updatedAt,
});

/** An agent's session token acts as its user on one board; it must not read or replace their keys. */
function owner(ctx: Ctx): string {
  if (ctx.actor.kind === "user" && ctx.actor.via === "session") {
    throw forbidden(
      "Session tokens cannot manage keys or environment variables. Sign in as the user.",
      "wrong_credential",
    );
  }
  return userId(ctx);
}

export async function listSecrets(ctx: Ctx): Promise<UserSecret[]> {
  const rows = await ctx.db.query.userSecrets.findMany({
    where: eq(userSecrets.userId, owner(ctx)),
    orderBy: [asc(userSecrets.kind), asc(userSecrets.name)],
  });
  return rows.map(toUserSecret);
}

async function upsert(ctx: Ctx, kind: SecretKind, name: string, value: string, baseUrl: string | null) {
  const uid = owner(ctx);
  const ring = await keyring(ctx.config.encryptionKey);
  const sealed = await seal(ring, value, aadOf({ userId: uid, kind, name }));
  const now = Date.now();
  const set = { sealed, keyVersion: ring.current, last4: last4Of(value), baseUrl, updatedAt: now };
  const [row] = await ctx.db
    .insert(userSecrets)
    .values({ id: newId(), userId: uid, kind, name, ...set, createdAt: now })
    .onConflictDoUpdate({ target: [userSecrets.userId, userSecrets.kind, userSecrets.name], set })
    .returning();
  return toUserSecret(row!);
}

/** Add or replace a provider key. Anthropic and OpenAI take a key; an OpenAI-compatible server a base URL and maybe a key. */
export async function putKey(ctx: Ctx, provider: KeyProvider, body: PutKeyBody): Promise<UserSecret> {
  if (provider === "openai-compatible") {
    if (!body.baseUrl) throw badRequest("Invalid body: baseUrl: an OpenAI-compatible server needs its base URL");
    return upsert(ctx, "key", provider, body.apiKey ?? "", body.baseUrl.replace(/\/+$/, ""));
  }
  if (body.baseUrl)
    throw badRequest(
      `Invalid body: baseUrl: only an OpenAI-compatible server takes one, not ${KEY_PROVIDER_LABELS[provider]}`,
    );
  if (!body.apiKey) throw badRequest("Invalid body: apiKey: must not be empty");
  return upsert(ctx, "key", provider, body.apiKey, null);
}

export async function putEnv(ctx: Ctx, name: string, value: string): Promise<UserSecret> {
  const uid = owner(ctx);
  const [existing, [total]] = await Promise.all([
    ctx.db.query.userSecrets.findFirst({
      where: and(eq(userSecrets.userId, uid), eq(userSecrets.kind, "env"), eq(userSecrets.name, name)),
      columns: { id: true },
    }),
    ctx.db
      .select({ n: count() })
      .from(userSecrets)
      .where(and(eq(userSecrets.userId, uid), eq(userSecrets.kind, "env"))),
  ]);
  if (!existing && (total?.n ?? 0) >= MAX_ENV_VARS)
    throw badRequest(`You have ${MAX_ENV_VARS} environment variables, the most one person may keep: delete one first.`);
  return upsert(ctx, "env", name, value, null);
}

export async function deleteSecret(ctx: Ctx, kind: SecretKind, name: string): Promise<void> {
  const gone = await ctx.db
    .delete(userSecrets)
    .where(and(eq(userSecrets.userId, owner(ctx)), eq(userSecrets.kind, kind), eq(userSecrets.name, name)))
    .returning({ id: userSecrets.id });
  if (!gone.length) throw notFound(kind === "env" ? "Environment variable" : "Key");
}

/** Whether this person saved a key that could serve `provider`: then a runner without one can still run their sessions. */
export async function hasProviderKey(ctx: Ctx, uid: string, provider: Provider): Promise<boolean> {
  const names: KeyProvider[] = provider === "anthropic" ? ["anthropic"] : ["openai", "openai-compatible"];
  const rows = await ctx.db.query.userSecrets.findMany({
    where: and(eq(userSecrets.userId, uid), eq(userSecrets.kind, "key")),
    columns: { name: true },
  });
  return rows.some((r) => names.includes(r.name as KeyProvider));
}

/**
 * The key a session of `provider` uses for this person, if they saved one. A key goes only where
 * it was saved for: an OpenAI key to OpenAI itself (never to the runner's OPENAI_BASE_URL), an
 * OpenAI-compatible key to its own base URL (so a session naming some other server never gets it).
 */
function pickKey(keys: Map<string, Row>, session: { provider: Provider; baseUrl: string | null }) {
  if (session.provider === "anthropic") {
    const r = keys.get("anthropic");
    return r ? { row: r, baseUrl: null } : null;
  }
  const compatible = keys.get("openai-compatible");
  if (session.baseUrl) {
    const wanted = session.baseUrl.replace(/\/+$/, "");
    return compatible?.baseUrl === wanted ? { row: compatible, baseUrl: wanted } : null;
  }
  const openai = keys.get("openai");
  if (openai) return { row: openai, baseUrl: null };
  return compatible ? { row: compatible, baseUrl: compatible.baseUrl } : null;
}

/**
 * Open the prompter's secrets for a task. Only `taskContext` calls this, after it has checked
 * that the asking runner holds the task's lease: there is no other way out for a value.
 */
export async function releaseTaskSecrets(
  ctx: Ctx,
  prompterId: string | null,
  session: { provider: Provider; baseUrl: string | null },
  /** The runner's own Claude sign-in serves the task: the prompter's key stays sealed. */
  machineLogin = false,
): Promise<TaskSecrets> {
  const none: TaskSecrets["keySource"] = machineLogin ? "login" : "runner";
  if (!prompterId) return { keySource: none, model: null, env: {} };
  const rows = await ctx.db.query.userSecrets.findMany({ where: eq(userSecrets.userId, prompterId) });
  if (!rows.length) return { keySource: none, model: null, env: {} };
  const ring = await keyring(ctx.config.encryptionKey);
  const open = async (r: Row) => {
    try {
      return await unseal(ring, r.sealed, aadOf(r));
    } catch {
      const what =
        r.kind === "env" ? `environment variable ${r.name}` : `${KEY_PROVIDER_LABELS[r.name as KeyProvider]} key`;
      throw new AppError(
        409,
        "secret_unreadable",
        `The prompter's saved ${what} can no longer be opened (the server's encryption key changed): save it again under Keys & environment.`,
      );
    }
  };
  const keys = new Map(rows.filter((r) => r.kind === "key").map((r) => [r.name, r]));
  const picked = machineLogin ? null : pickKey(keys, session);
  const env: Record<string, string> = {};
  for (const r of rows) if (r.kind === "env") env[r.name] = await open(r);
  if (!picked) return { keySource: none, model: null, env };
  return { keySource: "user", model: { apiKey: await open(picked.row), baseUrl: picked.baseUrl }, env };
}

/** Rows re-sealed per round: one batch of single-row updates, each binding four values. */
const ROTATION_PAGE = 50;

/**
 * Re-seal every secret not on the current key version (ENCRYPTION_KEY's first entry), a page at
 * a time, each update guarded by the ciphertext it replaces so a value saved meanwhile is kept.
 * A row whose key version is no longer in ENCRYPTION_KEY is counted and left alone: its owner
 * has to save it again. Runs from the Worker's cron (`worker/index.ts`); safe to run any time.
 */
export async function rotateSecrets(
  deps: Pick<Deps, "db" | "config">,
  opts: { maxRows?: number } = {},
): Promise<{ resealed: number; unreadable: number; remaining: boolean }> {
  const ring = await keyring(deps.config.encryptionKey);
  const maxRows = opts.maxRows ?? 1000;
  let resealed = 0;
  let unreadable = 0;
  let seen = 0;
  let cursor = "";
  for (;;) {
    const page = await deps.db
      .select()
      .from(userSecrets)
      .where(and(ne(userSecrets.keyVersion, ring.current), gt(userSecrets.id, cursor)))
      .orderBy(asc(userSecrets.id))
      .limit(Math.min(ROTATION_PAGE, maxRows - seen));
    if (!page.length) return { resealed, unreadable, remaining: false };
    const updates: BatchItem<"sqlite">[] = [];
    for (const r of page) {
      const next = await reseal(ring, r.sealed, aadOf(r)).catch(() => undefined);
      if (next === undefined) unreadable++;
      else if (next === null) {
        // Sealed with the current key but the column says otherwise: put the column right.
        updates.push(
          deps.db
            .update(userSecrets)
            .set({ keyVersion: sealedVersion(r.sealed) })
            .where(and(eq(userSecrets.id, r.id), eq(userSecrets.sealed, r.sealed))),
        );
      } else {
        updates.push(
          deps.db
            .update(userSecrets)
            .set({ sealed: next, keyVersion: ring.current })
            .where(and(eq(userSecrets.id, r.id), eq(userSecrets.sealed, r.sealed))),
        );
        resealed++;
      }
    }
    if (updates.length) await deps.db.batch(updates as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]);
    seen += page.length;
    cursor = page[page.length - 1]!.id;
    if (seen >= maxRows) return { resealed, unreadable, remaining: true };
  }
}
