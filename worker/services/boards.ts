import { and, desc, eq, lt, ne, sql } from "drizzle-orm";
import type { Board, Page, PageQuery, Role } from "../../protocol/index.ts";
import { schema } from "../db/client.ts";
import { forbidden, notFound } from "../lib/errors.ts";
import { newId } from "../lib/ids.ts";
import { requireBoardRole } from "./access.ts";
import type { Ctx } from "./context.ts";
import { boundBoard, entity, removed, userId } from "./context.ts";

const { boards, boardMembers, runners, runnerBoards } = schema;

const toBoard = (r: typeof boards.$inferSelect, role: Role): Board => ({
  id: r.id,
  name: r.name,
  ownerId: r.ownerId,
  role,
  createdAt: r.createdAt,
  updatedAt: r.updatedAt,
});

export async function createBoard(ctx: Ctx, name: string): Promise<Board> {
  if (boundBoard(ctx) !== null) {
    throw forbidden(
      "A session token works on its own session's board only; ask a person to create boards.",
      "wrong_credential",
    );
  }
  const uid = userId(ctx);
  const id = newId();
  const [rows] = await ctx.db.batch([
    ctx.db.insert(boards).values({ id, name, ownerId: uid }).returning(),
    ctx.db.insert(boardMembers).values({ boardId: id, userId: uid, role: "owner" }),
    // A local single-user install has one person, so sharing a runner with a board is a step with
    // no meaning there: every new board can use that person's runners (this machine's) at once.
    ...(ctx.config.singleUser
      ? [
          ctx.db.insert(runnerBoards).select(
            ctx.db
              .select({
                runnerId: runners.id,
                boardId: sql<string>`${id}`.as("board_id"),
                createdAt: sql<number>`${Date.now()}`.as("created_at"),
              })
              .from(runners)
              .where(and(eq(runners.ownerId, uid), ne(runners.status, "revoked"))),
          ),
        ]
      : []),
  ]);
  return toBoard(rows[0]!, "owner");
}

/** Boards the caller belongs to, newest first (a session token: its own board). */
export async function listBoards(ctx: Ctx, q: PageQuery): Promise<Page<Board>> {
  const uid = userId(ctx);
  const rows = await ctx.db
    .select({ board: boards, role: boardMembers.role })
    .from(boardMembers)
    .innerJoin(boards, eq(boards.id, boardMembers.boardId))
    .where(
      and(
        eq(boardMembers.userId, uid),
        q.cursor ? lt(boards.id, q.cursor) : undefined,
        boundBoard(ctx) !== null ? eq(boards.id, boundBoard(ctx)!) : undefined,
      ),
    )
    .orderBy(desc(boards.id))
    .limit(q.limit + 1);
  const items = rows.slice(0, q.limit).map((r) => toBoard(r.board, r.role));
  return { items, nextCursor: rows.length > q.limit ? items.at(-1)!.id : null };
}

export async function getBoard(ctx: Ctx, boardId: string): Promise<Board> {
  const role = await requireBoardRole(ctx, boardId, "viewer");
  const row = await ctx.db.query.boards.findFirst({ where: eq(boards.id, boardId) });
  if (!row) throw notFound("Board");
  return toBoard(row, role);
}

export async function renameBoard(ctx: Ctx, boardId: string, name: string): Promise<Board> {
  const role = await requireBoardRole(ctx, boardId, "member");
  const [row] = await ctx.db
    .update(boards)
    .set({ name, updatedAt: Date.now() })
    .where(eq(boards.id, boardId))
    .returning();
  if (!row) throw notFound("Board");
  const board = toBoard(row, role);
  const { role: _mine, ...shared } = board;
  await ctx.publish(boardId, entity("board", "patched", shared));
  return board;
}

export async function deleteBoard(ctx: Ctx, boardId: string): Promise<void> {
  await requireBoardRole(ctx, boardId, "owner");
  await ctx.db.delete(boards).where(eq(boards.id, boardId));
  await ctx.publish(boardId, removed("board", boardId));
}
