import { and, eq, inArray } from "drizzle-orm";
import type { StreamFrame } from "../../protocol/index.ts";
import { schema } from "../db/client.ts";
import type { Ctx } from "./context.ts";
import { actingRunnerId } from "./runner-access.ts";

const { jobs } = schema;

/**
 * May the acting runner stream to this board now? Only while it holds an active job there: a
 * runner shared with a board cannot write into it at will, and one whose job ended or was taken
 * over stops at once. (Session jobs will narrow this to the job's own session.)
 */
export async function runnerWorksOn(ctx: Ctx, boardId: string): Promise<boolean> {
  const row = await ctx.db.query.jobs.findFirst({
    where: and(
      eq(jobs.runnerId, actingRunnerId(ctx)),
      eq(jobs.boardId, boardId),
      inArray(jobs.status, ["claimed", "running"]),
    ),
    columns: { id: true },
  });
  return !!row;
}

/** A runner's piece of a running message, to the board's sockets watching its session. */
export function relayStream(ctx: Ctx, boardId: string, piece: StreamFrame): Promise<void> {
  return ctx.rooms.stream(boardId, piece);
}
