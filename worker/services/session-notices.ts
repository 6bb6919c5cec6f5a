import { and, eq, ne } from "drizzle-orm";
import type { PermissionRequest } from "../../protocol/index.ts";
import { schema } from "../db/client.ts";
import type { Ctx } from "./context.ts";
import { notifyUsers } from "./notifications.ts";
import type { SessionRow } from "./session-rows.ts";

/**
 * What a session tells people through the bell: a permission request goes to everyone who can
 * answer it (the board's members and owners), and a task's end to whoever started the session.
 */

const { boardMembers, worktrees } = schema;

async function describe(ctx: Ctx, session: SessionRow) {
  const wt = await ctx.db.query.worktrees.findFirst({
    where: eq(worktrees.id, session.worktreeId),
    columns: { name: true },
  });
  const name = session.title || session.model;
  return { name, where: wt ? ` on ${wt.name}` : "", href: `/b/${session.boardId}?session=${session.id}` };
}

export async function notifyPermission(ctx: Ctx, session: SessionRow, req: Pick<PermissionRequest, "summary">) {
  const deciders = await ctx.db
    .select({ userId: boardMembers.userId })
    .from(boardMembers)
    .where(and(eq(boardMembers.boardId, session.boardId), ne(boardMembers.role, "viewer")));
  const d = await describe(ctx, session);
  await notifyUsers(
    ctx,
    session.boardId,
    deciders.map((m) => m.userId),
    {
      kind: "permission",
      title: `"${d.name}"${d.where} asks for permission`,
      body: req.summary,
      href: d.href,
      sessionId: session.id,
    },
  );
}

export async function notifySessionEnded(
  ctx: Ctx,
  session: SessionRow,
  status: "completed" | "failed",
  error: string | null,
) {
  const d = await describe(ctx, session);
  await notifyUsers(ctx, session.boardId, [session.createdBy], {
    kind: status === "completed" ? "session_finished" : "session_failed",
    title: status === "completed" ? `"${d.name}"${d.where} finished` : `"${d.name}"${d.where} failed`,
    body: error ?? "",
    href: d.href,
    sessionId: session.id,
  });
}
