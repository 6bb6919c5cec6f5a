import { and, desc, eq, gt, inArray, ne, or } from "drizzle-orm";
import type { z } from "zod";
import type { RegisterRunnerBody, Runner, RunnerInfo, RunnerRegistration } from "../../protocol/index.ts";
import { LINK_CLOSE, RUNNER_CLI } from "../../protocol/index.ts";
import type { Db } from "../db/client.ts";
import { schema } from "../db/client.ts";
import { randomToken, sha256 } from "../lib/crypto.ts";
import { notFound, unauthorized } from "../lib/errors.ts";
import { newId } from "../lib/ids.ts";
import { requireBoardRole } from "./access.ts";
import type { Actor, Ctx, Deps } from "./context.ts";
import { boundBoard, entity, removed, userId } from "./context.ts";
import { failOpenJobs } from "./jobs.ts";
import type { RunnerRow } from "./runner-access.ts";
import {
  actingRunnerId,
  publishToRunnerBoards,
  requireNotSessionToken,
  requireRunnerOwner,
  runnerBoardIds,
} from "./runner-access.ts";

const { runners, runnerBoards, boardMembers } = schema;

export const RUNNER_PREFIX = "trl_run_";
export const REGISTRATION_PREFIX = "trl_reg_";
const REGISTRATION_TTL_MS = 60 * 60 * 1000;

export const toRunner = (r: RunnerRow, boardIds: string[]): Runner => ({
  id: r.id,
  ownerId: r.ownerId,
  name: r.name,
  status: r.status,
  lastSeenAt: r.lastSeenAt,
  info: r.data as Partial<RunnerInfo>,
  boardIds,
  createdAt: r.createdAt,
  terminalAccess: r.terminalAccess,
  boardMcpStdio: r.boardMcpStdio,
});

/** Boards see a runner without the owner's list of where else it is shared. */
const publishRunner = (ctx: Ctx, r: RunnerRow) =>
  publishToRunnerBoards(ctx, r.id, entity("runner", "patched", toRunner(r, [])));

/** Quote for a POSIX shell only when needed, so the pasted command works for "Ann's laptop" too. */
const shellQuote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

export async function createRunner(ctx: Ctx, name: string, origin: string): Promise<RunnerRegistration> {
  requireNotSessionToken(ctx);
  const token = randomToken(REGISTRATION_PREFIX);
  const expiresAt = Date.now() + REGISTRATION_TTL_MS;
  const [row] = await ctx.db
    .insert(runners)
    .values({
      id: newId(),
      ownerId: userId(ctx),
      name,
      registrationHash: await sha256(token),
      registrationExpiresAt: expiresAt,
    })
    .returning();
  return {
    runner: toRunner(row!, []),
    registrationToken: token,
    expiresAt,
    command: `${RUNNER_CLI} register --url ${shellQuote(origin)} --token ${token} --name ${shellQuote(name)}`,
  };
}

/** Runners I own (with where I shared them) and runners shared with boards I belong to. */
export async function listRunners(ctx: Ctx): Promise<Runner[]> {
  // A session token sees the runners of its own board, as any member of that board does.
  const bound = boundBoard(ctx);
  if (bound !== null) return listBoardRunners(ctx, bound);
  const uid = userId(ctx);
  const sharedWithMe = ctx.db
    .select({ id: runnerBoards.runnerId })
    .from(runnerBoards)
    .innerJoin(boardMembers, eq(boardMembers.boardId, runnerBoards.boardId))
    .where(eq(boardMembers.userId, uid));
  const rows = await ctx.db
    .select()
    .from(runners)
    .where(or(eq(runners.ownerId, uid), and(inArray(runners.id, sharedWithMe), ne(runners.status, "revoked"))))
    .orderBy(desc(runners.id));
  const owned = rows.filter((r) => r.ownerId === uid).map((r) => r.id);
  const boards = await runnerBoardIds(ctx, owned);
  return rows.map((r) => toRunner(r, r.ownerId === uid ? (boards.get(r.id) ?? []) : []));
}

export async function listBoardRunners(ctx: Ctx, boardId: string): Promise<Runner[]> {
  await requireBoardRole(ctx, boardId, "viewer");
  const rows = await ctx.db
    .select({ runner: runners })
    .from(runnerBoards)
    .innerJoin(runners, eq(runners.id, runnerBoards.runnerId))
    .where(and(eq(runnerBoards.boardId, boardId), ne(runners.status, "revoked")))
    .orderBy(desc(runners.id));
  return rows.map((r) => toRunner(r.runner, []));
}

/**
 * Revocation is immediate: the credential hash is cleared (so every later request fails auth), the
 * link socket is closed, and jobs still waiting on this runner fail instead of waiting forever.
 */
export async function revokeRunner(ctx: Ctx, runnerId: string): Promise<void> {
  await requireRunnerOwner(ctx, runnerId);
  const [row] = await ctx.db
    .update(runners)
    .set({ status: "revoked", credentialHash: null, registrationHash: null, registrationExpiresAt: null })
    .where(eq(runners.id, runnerId))
    .returning();
  if (!row) throw notFound("Runner");
  // Best effort: the credential is already dead, so a socket that stays open can no longer claim
  // or write anything, and the link's own sweep hangs up on a revoked runner.
  await ctx.links.hangUp(runnerId, LINK_CLOSE.revoked, "runner revoked");
  await failOpenJobs(ctx, runnerId, "The runner was revoked.");
  await publishRunner(ctx, row);
}

/** The owner shares a runner with a board they can change; its members may then target it. */
export async function shareRunner(ctx: Ctx, runnerId: string, boardId: string): Promise<Runner> {
  const runner = await requireRunnerOwner(ctx, runnerId);
  await requireBoardRole(ctx, boardId, "member");
  const inserted = await ctx.db.insert(runnerBoards).values({ runnerId, boardId }).onConflictDoNothing().returning();
  if (inserted.length) await ctx.publish(boardId, entity("runner", "created", toRunner(runner, [])));
  const boards = await runnerBoardIds(ctx, [runnerId]);
  return toRunner(runner, boards.get(runnerId) ?? []);
}

/**
 * The owner's switch: may this runner run the stdio MCP servers that any writer on the boards it
 * is shared with added (a command on this machine, as the owner's OS user)? Read by every task's
 * context (`serversForTask`), so it applies from the next task on.
 */
export async function setBoardMcpStdio(ctx: Ctx, runnerId: string, on: boolean): Promise<Runner> {
  await requireRunnerOwner(ctx, runnerId);
  const [row] = await ctx.db.update(runners).set({ boardMcpStdio: on }).where(eq(runners.id, runnerId)).returning();
  await publishRunner(ctx, row!);
  return toRunner(row!, (await runnerBoardIds(ctx, [runnerId])).get(runnerId) ?? []);
}

export async function unshareRunner(ctx: Ctx, runnerId: string, boardId: string): Promise<void> {
  await requireRunnerOwner(ctx, runnerId);
  const [row] = await ctx.db
    .delete(runnerBoards)
    .where(and(eq(runnerBoards.runnerId, runnerId), eq(runnerBoards.boardId, boardId)))
    .returning({ boardId: runnerBoards.boardId });
  if (!row) throw notFound("Sharing of this runner with that board");
  await ctx.publish(boardId, removed("runner", runnerId));
}

// ---- the runner's side ----

/**
 * Trade the one-time registration token for a long-lived credential. One conditional UPDATE, so a
 * token can be used once even when two registrations race.
 */
export async function registerRunner(
  ctx: Deps,
  body: z.infer<typeof RegisterRunnerBody>,
): Promise<{ runnerId: string; credential: string; name: string }> {
  const credential = randomToken(RUNNER_PREFIX);
  const now = Date.now();
  const [row] = await ctx.db
    .update(runners)
    .set({
      credentialHash: await sha256(credential),
      registrationHash: null,
      registrationExpiresAt: null,
      status: "offline",
      lastSeenAt: now,
      data: body.info,
      ...(body.name ? { name: body.name } : {}),
    })
    .where(
      and(
        eq(runners.registrationHash, await sha256(body.token)),
        gt(runners.registrationExpiresAt, now),
        eq(runners.status, "pending"),
      ),
    )
    .returning();
  if (!row) {
    throw unauthorized(
      "This registration token is invalid, expired or already used. Add the runner again in the app for a new one.",
      "invalid_registration",
    );
  }
  await publishRunner({ ...ctx, actor: { kind: "runner", runnerId: row.id, ownerId: row.ownerId } }, row);
  return { runnerId: row.id, credential, name: row.name };
}

export async function authenticateRunner(
  db: Db,
  credential: string,
): Promise<Extract<Actor, { kind: "runner" }> | null> {
  if (!credential.startsWith(RUNNER_PREFIX)) return null;
  const row = await db.query.runners.findFirst({
    where: eq(runners.credentialHash, await sha256(credential)),
    columns: { id: true, ownerId: true, status: true },
  });
  if (!row || row.status === "revoked") return null;
  return { kind: "runner", runnerId: row.id, ownerId: row.ownerId };
}

export async function getActingRunner(ctx: Ctx): Promise<Runner> {
  const row = await ctx.db.query.runners.findFirst({ where: eq(runners.id, actingRunnerId(ctx)) });
  if (!row) throw notFound("Runner");
  return toRunner(row, []);
}

/** The link connected. False when the runner was revoked meanwhile (the link then hangs up). */
export async function setRunnerOnline(ctx: Ctx, info: RunnerInfo | null): Promise<boolean> {
  const [row] = await ctx.db
    .update(runners)
    .set({ status: "online", lastSeenAt: Date.now(), ...(info ? { data: info } : {}) })
    .where(and(eq(runners.id, actingRunnerId(ctx)), ne(runners.status, "revoked"), ne(runners.status, "pending")))
    .returning();
  if (!row) return false;
  await publishRunner(ctx, row);
  return true;
}

export async function setRunnerOffline(ctx: Ctx): Promise<void> {
  const [row] = await ctx.db
    .update(runners)
    .set({ status: "offline", lastSeenAt: Date.now() })
    .where(and(eq(runners.id, actingRunnerId(ctx)), eq(runners.status, "online")))
    .returning();
  if (row) await publishRunner(ctx, row);
}
