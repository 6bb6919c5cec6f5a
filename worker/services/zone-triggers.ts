import { and, desc, eq } from "drizzle-orm";
import { renderTemplate, storedTrigger, type TemplateValues, type ZoneTrigger } from "../../protocol/index.ts";
import { schema } from "../db/client.ts";
import { AppError } from "../lib/errors.ts";
import type { Ctx } from "./context.ts";
import { userId } from "./context.ts";
import { createSession, promptSession } from "./sessions.ts";
import type { ZoneData } from "./zones.ts";

/**
 * A worktree dropped into a zone fires the zone's trigger. The caller has already decided, in the
 * same D1 write that moved the card, that this move is the one that entered the zone, so however
 * many people watch, and whether the move came over REST or MCP, a drop fires once.
 *
 * The move itself never fails because of the trigger: a worktree that is not ready, or a runner
 * that cannot serve the provider, is told to the person who dropped it, in words, and the card
 * stays where they put it.
 */

const { zones, boards, users, sessions } = schema;

type WorktreeRow = typeof schema.worktrees.$inferSelect;

export async function fireZoneTrigger(ctx: Ctx, boardId: string, wt: WorktreeRow, zoneId: string): Promise<void> {
  const zone = await ctx.db.query.zones.findFirst({ where: and(eq(zones.id, zoneId), eq(zones.boardId, boardId)) });
  const stored = (zone?.data as ZoneData | undefined)?.trigger;
  if (!zone || !stored) return;
  const trigger = storedTrigger(stored);
  const prompt = renderTemplate(zone.promptTemplate, await valuesFor(ctx, boardId, wt, zone.name));
  try {
    await fire(ctx, boardId, wt, zone.id, trigger, prompt);
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    await ctx.rooms.notify(boardId, userId(ctx), {
      kind: "zone.trigger_failed",
      title: `Zone "${zone.name}" did not send its prompt`,
      body: err.message,
    });
  }
}

async function fire(ctx: Ctx, boardId: string, wt: WorktreeRow, zoneId: string, trigger: ZoneTrigger, prompt: string) {
  const start = () =>
    createSession(ctx, boardId, {
      worktreeId: wt.id,
      provider: trigger.provider,
      model: trigger.model,
      baseUrl: trigger.baseUrl,
      permissionMode: trigger.permissionMode,
      runtime: trigger.runtime,
      prompt,
      zoneId,
    });
  if (trigger.behaviour === "new_session") {
    await start();
    return;
  }
  if (trigger.behaviour === "latest_session") {
    const latest = await ctx.db.query.sessions.findFirst({
      where: and(eq(sessions.worktreeId, wt.id), eq(sessions.boardId, boardId)),
      orderBy: desc(sessions.id),
      columns: { id: true },
    });
    // A worktree with no session yet gets one with the zone's settings: the prompt still goes somewhere.
    if (latest) await promptSession(ctx, boardId, latest.id, { text: prompt });
    else await start();
    return;
  }
  await ctx.rooms.notify(boardId, userId(ctx), {
    kind: "zone.ask",
    title: `Send this to an agent on "${wt.name}"?`,
    ask: { zoneId, worktreeId: wt.id, prompt, trigger },
  });
}

async function valuesFor(ctx: Ctx, boardId: string, wt: WorktreeRow, zoneName: string): Promise<TemplateValues> {
  const [board, user] = await Promise.all([
    ctx.db.query.boards.findFirst({ where: eq(boards.id, boardId), columns: { name: true } }),
    ctx.db.query.users.findFirst({ where: eq(users.id, userId(ctx)), columns: { name: true } }),
  ]);
  const data = wt.data as { notes?: string | null; issueUrl?: string | null };
  return {
    "worktree.name": wt.name,
    "worktree.branch": wt.branch,
    "worktree.issueUrl": data.issueUrl ?? "",
    "worktree.notes": data.notes ?? "",
    "board.name": board?.name ?? "",
    "zone.name": zoneName,
    "user.name": user?.name ?? "",
  };
}
