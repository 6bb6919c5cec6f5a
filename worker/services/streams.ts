import { and, eq, inArray, sql } from "drizzle-orm";
import type { StreamFrame } from "../../protocol/index.ts";
import { schema } from "../db/client.ts";
import type { Ctx } from "./context.ts";
import { actingRunnerId } from "./runner-access.ts";

const { jobs } = schema;

/**
 * May the acting runner stream into this session now? Only while it holds that session's active
 * task: a runner shared with a board cannot write into it at will, nor into another runner's
 * session, and one whose task ended or was taken over stops at once.
 */
export async function runnerWorksOn(ctx: Ctx, boardId: string, sessionId: string): Promise<boolean> {
  const row = await ctx.db.query.jobs.findFirst({
    where: and(
      eq(jobs.runnerId, actingRunnerId(ctx)),
      eq(jobs.boardId, boardId),
      eq(jobs.type, "session.task"),
      inArray(jobs.status, ["claimed", "running"]),
      sql`json_extract(${jobs.payload}, '$.sessionId') = ${sessionId}`,
    ),
    columns: { id: true },
  });
  return !!row;
}

/** A runner's pieces of running messages (one coalescing window), to the board's sockets watching their sessions. */
export function relayStream(ctx: Ctx, boardId: string, pieces: StreamFrame[]): Promise<void> {
  return ctx.rooms.stream(boardId, pieces);
}
