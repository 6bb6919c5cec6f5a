import { and, eq, inArray } from "drizzle-orm";
import type { Role } from "../../protocol/index.ts";
import { schema } from "../db/client.ts";
import { AppError, forbidden, notFound } from "../lib/errors.ts";
import { requirePerson } from "./access.ts";
import type { Ctx } from "./context.ts";
import { userId } from "./context.ts";

const { runners, runnerBoards, boardMembers } = schema;

export type RunnerRow = typeof runners.$inferSelect;

const RANK: Record<Role, number> = { viewer: 0, member: 1, owner: 2 };

/**
 * Who may do what with a runner. The owner may do anything; a board member may use a runner its
 * owner shared with that board. Someone with no path to the runner gets the same 404 as for a runner
 * that does not exist, so runner ids cannot be probed.
 */
export async function loadRunner(ctx: Ctx, runnerId: string): Promise<RunnerRow> {
  const row = await ctx.db.query.runners.findFirst({ where: eq(runners.id, runnerId) });
  if (!row) throw notFound("Runner");
  return row;
}

/** Machines are a person's to manage: an agent's session token may use a shared runner, never run it. */
export function requireNotSessionToken(ctx: Ctx) {
  requirePerson(ctx, "manage runners");
}

export async function requireRunnerOwner(ctx: Ctx, runnerId: string): Promise<RunnerRow> {
  requireNotSessionToken(ctx);
  const row = await loadRunner(ctx, runnerId);
  if (row.ownerId === userId(ctx)) return row;
  if (await sharedRoleOf(ctx, runnerId)) throw forbidden("Only the runner's owner can do this.", "not_runner_owner");
  throw notFound("Runner");
}

/** Owner, or at least `min` on some board the runner is shared with. */
export async function requireRunnerUse(ctx: Ctx, runnerId: string, min: Role): Promise<RunnerRow> {
  const row = await loadRunner(ctx, runnerId);
  if (row.ownerId === userId(ctx)) return row;
  const role = await sharedRoleOf(ctx, runnerId);
  if (!role) throw notFound("Runner");
  if (RANK[role] < RANK[min]) throw forbidden("Viewers can look but not use this runner.", "insufficient_role");
  return row;
}

/** The caller's best role on any board the runner is shared with, or null. */
async function sharedRoleOf(ctx: Ctx, runnerId: string): Promise<Role | null> {
  const rows = await ctx.db
    .select({ role: boardMembers.role })
    .from(runnerBoards)
    .innerJoin(boardMembers, eq(boardMembers.boardId, runnerBoards.boardId))
    .where(and(eq(runnerBoards.runnerId, runnerId), eq(boardMembers.userId, userId(ctx))));
  let best: Role | null = null;
  for (const { role } of rows) if (!best || RANK[role] > RANK[best]) best = role;
  return best;
}

export async function isSharedWithBoard(ctx: Ctx, runnerId: string, boardId: string): Promise<boolean> {
  const row = await ctx.db.query.runnerBoards.findFirst({
    where: and(eq(runnerBoards.runnerId, runnerId), eq(runnerBoards.boardId, boardId)),
    columns: { runnerId: true },
  });
  return !!row;
}

export function assertUsable(runner: RunnerRow): void {
  if (runner.status === "revoked") {
    throw new AppError(409, "runner_revoked", "This runner was revoked; register a new one to run jobs.");
  }
}

/** D1 binds at most 100 parameters per query. */
const CHUNK = 90;

export async function runnerBoardIds(ctx: Ctx, runnerIds: string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (let i = 0; i < runnerIds.length; i += CHUNK) {
    const rows = await ctx.db
      .select({ runnerId: runnerBoards.runnerId, boardId: runnerBoards.boardId })
      .from(runnerBoards)
      .where(inArray(runnerBoards.runnerId, runnerIds.slice(i, i + CHUNK)));
    for (const r of rows) out.set(r.runnerId, [...(out.get(r.runnerId) ?? []), r.boardId]);
  }
  return out;
}

/** Runner-level changes (status, repos) concern every board the runner is shared with. */
export async function publishToRunnerBoards(
  ctx: Ctx,
  runnerId: string,
  event: Parameters<Ctx["publish"]>[1],
): Promise<void> {
  const boardIds = (await runnerBoardIds(ctx, [runnerId])).get(runnerId) ?? [];
  await Promise.all(boardIds.map((b) => ctx.publish(b, event)));
}

/** The runner behind a runner credential; a user credential never reaches runner services. */
export function actingRunnerId(ctx: Ctx): string {
  if (ctx.actor.kind !== "runner") throw new Error("a user credential reached a runner service");
  return ctx.actor.runnerId;
}
