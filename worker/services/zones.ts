import { and, asc, eq, sql } from "drizzle-orm";
import type { z } from "zod";
import type { CreateZoneBody, PatchZoneBody, Zone, ZoneTrigger } from "../../protocol/index.ts";
import { runtimeProviderProblem, storedTrigger } from "../../protocol/index.ts";
import { schema } from "../db/client.ts";
import { badRequest, notFound } from "../lib/errors.ts";
import { newId } from "../lib/ids.ts";
import { requireBoardRole } from "./access.ts";
import type { Ctx } from "./context.ts";
import { entity, removed } from "./context.ts";
import { patchData } from "./repos.ts";
import { toWorktree } from "./worktrees.ts";

const { zones, worktrees, comments } = schema;

export interface ZoneData {
  /** Saved before runtimes, it has no `runtime` (`storedTrigger` reads it as builtin). */
  trigger?: Parameters<typeof storedTrigger>[0] | null;
}

const triggerOf = ({ trigger }: ZoneData) => (trigger ? storedTrigger(trigger) : null);

const toZone = (r: typeof zones.$inferSelect): Zone => ({
  id: r.id,
  boardId: r.boardId,
  name: r.name,
  color: r.color,
  x: r.x,
  y: r.y,
  width: r.width,
  height: r.height,
  promptTemplate: r.promptTemplate,
  trigger: triggerOf(r.data as ZoneData),
  createdAt: r.createdAt,
  updatedAt: r.updatedAt,
});

/** Zones are few per board (tens), so the board loads them all at once. */
export async function listZones(ctx: Ctx, boardId: string): Promise<Zone[]> {
  await requireBoardRole(ctx, boardId, "viewer");
  const rows = await ctx.db.query.zones.findMany({ where: eq(zones.boardId, boardId), orderBy: asc(zones.id) });
  return rows.map(toZone);
}

/** Claude Code runs only on Anthropic and Codex only on OpenAI: a trigger that pairs them otherwise is refused when saved. */
function checkTriggerPairing(trigger: ZoneTrigger | null | undefined) {
  const problem = trigger ? runtimeProviderProblem(trigger.runtime, trigger.provider) : null;
  if (problem) throw badRequest(`trigger.${problem}`);
}

export async function createZone(ctx: Ctx, boardId: string, body: z.infer<typeof CreateZoneBody>): Promise<Zone> {
  await requireBoardRole(ctx, boardId, "member");
  const { trigger, ...columns } = body;
  if (trigger && columns.promptTemplate.trim() === "") throw NEEDS_PROMPT();
  checkTriggerPairing(trigger);
  const data: ZoneData = { trigger };
  const [row] = await ctx.db
    .insert(zones)
    .values({ id: newId(), boardId, ...columns, data: data as Record<string, unknown> })
    .returning();
  const zone = toZone(row!);
  await ctx.publish(boardId, entity("zone", "created", zone));
  return zone;
}

export async function patchZone(
  ctx: Ctx,
  boardId: string,
  zoneId: string,
  body: z.infer<typeof PatchZoneBody>,
): Promise<Zone> {
  await requireBoardRole(ctx, boardId, "member");
  const { trigger, ...columns } = body;
  checkTriggerPairing(trigger);
  if (trigger !== undefined || columns.promptTemplate !== undefined)
    await checkTriggerHasPrompt(ctx, boardId, zoneId, body);
  const now = Date.now();
  const updateZone = ctx.db
    .update(zones)
    .set({ ...columns, ...(trigger !== undefined ? { data: patchData(zones.data, { trigger }) } : {}), updatedAt: now })
    .where(and(eq(zones.id, zoneId), eq(zones.boardId, boardId)))
    .returning();
  let row: typeof zones.$inferSelect | undefined;
  let carried: (typeof worktrees.$inferSelect)[] = [];
  if (body.x === undefined && body.y === undefined) [row] = await updateZone;
  else {
    // A zone is a container: its cards move with it by the same amount, in the same write. The
    // amount is taken from the zone's position in that write (not read before it), and the
    // statement binds a fixed handful of values however many cards move (D1 allows 100).
    const by = (axis: "x" | "y", to: number | undefined) =>
      to === undefined
        ? {}
        : {
            [axis]: sql`${worktrees[axis]} + (${to} - (select ${zones[axis]} from ${zones} where ${zones.id} = ${zoneId} and ${zones.boardId} = ${boardId}))`,
          };
    const [moved, zoneRows] = await ctx.db.batch([
      ctx.db
        .update(worktrees)
        .set({ ...by("x", body.x), ...by("y", body.y), updatedAt: now })
        .where(and(eq(worktrees.zoneId, zoneId), eq(worktrees.boardId, boardId)))
        .returning(),
      updateZone,
    ]);
    [row] = zoneRows;
    carried = moved;
  }
  if (!row) throw notFound("Zone");
  const zone = toZone(row);
  // Every open board sees the cards go with the zone (one event per card: a zone holds tens).
  await Promise.all([
    ctx.publish(boardId, entity("zone", "patched", zone)),
    ...carried.map((wt) => ctx.publish(boardId, entity("worktree", "patched", toWorktree(wt)))),
  ]);
  return zone;
}

const NEEDS_PROMPT = () =>
  badRequest("promptTemplate: a trigger needs a prompt template to send; write one or remove the trigger.");

/** A trigger with nothing to send would fire an empty prompt: refuse the change that makes one. */
async function checkTriggerHasPrompt(ctx: Ctx, boardId: string, zoneId: string, body: z.infer<typeof PatchZoneBody>) {
  const row = await ctx.db.query.zones.findFirst({ where: and(eq(zones.id, zoneId), eq(zones.boardId, boardId)) });
  if (!row) throw notFound("Zone");
  const trigger = body.trigger !== undefined ? body.trigger : (row.data as ZoneData).trigger;
  const template = body.promptTemplate ?? row.promptTemplate;
  if (trigger && template.trim() === "") throw NEEDS_PROMPT();
}

export async function deleteZone(ctx: Ctx, boardId: string, zoneId: string): Promise<void> {
  await requireBoardRole(ctx, boardId, "member");
  // One batch, so a zone is never gone while worktrees still point at it. Worktrees in the zone
  // stay on the board, just no longer in a zone; both statements are scoped to this board.
  // The threads pinned to it go with it (foreign key); the rooms hear of each.
  const [pinned, , deleted] = await ctx.db.batch([
    ctx.db
      .select({ id: comments.id })
      .from(comments)
      .where(and(eq(comments.zoneId, zoneId), eq(comments.boardId, boardId))),
    ctx.db
      .update(worktrees)
      .set({ zoneId: null })
      .where(and(eq(worktrees.zoneId, zoneId), eq(worktrees.boardId, boardId))),
    ctx.db
      .delete(zones)
      .where(and(eq(zones.id, zoneId), eq(zones.boardId, boardId)))
      .returning({ id: zones.id }),
  ]);
  if (deleted.length === 0) throw notFound("Zone");
  await ctx.publish(boardId, removed("zone", zoneId));
  await Promise.all(pinned.map((c) => ctx.publish(boardId, removed("comment", c.id))));
}
