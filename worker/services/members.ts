import { and, asc, eq, ne, or, sql } from "drizzle-orm";
import type { Member, Role } from "../../protocol/index.ts";
import { schema } from "../db/client.ts";
import { AppError, badRequest, conflict, notFound } from "../lib/errors.ts";
import { requireBoardRole } from "./access.ts";
import type { Ctx } from "./context.ts";
import { entity, removed, userId } from "./context.ts";

const { boardMembers, users } = schema;

async function memberRow(ctx: Ctx, boardId: string, uid: string): Promise<Member | null> {
  const [r] = await ctx.db
    .select({ m: boardMembers, u: users })
    .from(boardMembers)
    .innerJoin(users, eq(users.id, boardMembers.userId))
    .where(and(eq(boardMembers.boardId, boardId), eq(boardMembers.userId, uid)));
  return r ? toMember(r) : null;
}

const toMember = (r: { m: typeof boardMembers.$inferSelect; u: typeof users.$inferSelect }): Member => ({
  userId: r.u.id,
  email: r.u.email,
  name: r.u.name,
  color: r.u.color,
  role: r.m.role,
  createdAt: r.m.createdAt,
});

/** Members carry an `id` (the user id) in events so clients key them like any other entity. */
const memberEvent = (op: "created" | "patched", m: Member) => entity("member", op, { id: m.userId, ...m });

export async function listMembers(ctx: Ctx, boardId: string): Promise<Member[]> {
  await requireBoardRole(ctx, boardId, "viewer");
  const rows = await ctx.db
    .select({ m: boardMembers, u: users })
    .from(boardMembers)
    .innerJoin(users, eq(users.id, boardMembers.userId))
    .where(eq(boardMembers.boardId, boardId))
    .orderBy(asc(boardMembers.createdAt), asc(boardMembers.userId));
  return rows.map(toMember);
}

export async function addMember(ctx: Ctx, boardId: string, email: string, role: Role): Promise<Member> {
  await requireBoardRole(ctx, boardId, "owner");
  const user = await ctx.db.query.users.findFirst({ where: eq(users.email, email), columns: { id: true } });
  if (!user) {
    throw new AppError(
      404,
      "not_found",
      "Nobody has signed up with that email yet: ask them to sign up, then invite them.",
    );
  }
  const inserted = await ctx.db
    .insert(boardMembers)
    .values({ boardId, userId: user.id, role })
    .onConflictDoNothing()
    .returning();
  if (inserted.length === 0) throw conflict("That person is already a member of this board.", "already_member");
  const m = (await memberRow(ctx, boardId, user.id))!;
  await ctx.publish(boardId, memberEvent("created", m));
  return m;
}

/**
 * Owners keep at least one owner: the last owner cannot be demoted or removed. The check lives in
 * the write's own WHERE clause, so two owners stepping down at once cannot both pass it.
 */
const keepsAnOwner = (boardId: string, uid: string) =>
  or(
    ne(boardMembers.role, "owner"),
    sql`exists (select 1 from ${boardMembers} where ${boardMembers.boardId} = ${boardId} and ${boardMembers.role} = 'owner' and ${boardMembers.userId} <> ${uid})`,
  );

const lastOwner = () => badRequest("A board needs at least one owner: make someone else owner first.", "last_owner");

export async function changeRole(ctx: Ctx, boardId: string, uid: string, role: Role): Promise<Member> {
  await requireBoardRole(ctx, boardId, "owner");
  const existing = await memberRow(ctx, boardId, uid);
  if (!existing) throw notFound("Member");
  const updated = await ctx.db
    .update(boardMembers)
    .set({ role })
    .where(
      and(
        eq(boardMembers.boardId, boardId),
        eq(boardMembers.userId, uid),
        role === "owner" ? undefined : keepsAnOwner(boardId, uid),
      ),
    )
    .returning({ role: boardMembers.role });
  if (updated.length === 0) throw existing.role === "owner" ? lastOwner() : notFound("Member");
  const m = { ...existing, role };
  await ctx.publish(boardId, memberEvent("patched", m));
  return m;
}

/** Owners remove anyone; anyone may leave a board themselves. */
export async function removeMember(ctx: Ctx, boardId: string, uid: string): Promise<void> {
  await requireBoardRole(ctx, boardId, uid === userId(ctx) ? "viewer" : "owner");
  const existing = await memberRow(ctx, boardId, uid);
  if (!existing) throw notFound("Member");
  const deleted = await ctx.db
    .delete(boardMembers)
    .where(and(eq(boardMembers.boardId, boardId), eq(boardMembers.userId, uid), keepsAnOwner(boardId, uid)))
    .returning({ userId: boardMembers.userId });
  if (deleted.length === 0) throw existing.role === "owner" ? lastOwner() : notFound("Member");
  await ctx.publish(boardId, removed("member", uid));
}
