import { and, eq } from "drizzle-orm";
import type { Role } from "../../protocol/index.ts";
import type { Db } from "../db/client.ts";
import { schema } from "../db/client.ts";
import { forbidden, notFound } from "../lib/errors.ts";
import type { Ctx } from "./context.ts";
import { boundBoard, userId } from "./context.ts";

const RANK: Record<Role, number> = { viewer: 0, member: 1, owner: 2 };

/**
 * The one gate for board access. A non-member gets the same 404 as for a board that does not
 * exist, so board ids cannot be probed; a member below `min` gets 403 saying what is needed.
 */
/**
 * What only the person may do, never an agent's session token: it is bound to one board and
 * short-lived, and must not reach what spans all of the person's boards or outlives it (their
 * runners, API tokens, notifications from every board, settings).
 */
export function requirePerson(ctx: Ctx, what: string): void {
  if (boundBoard(ctx) !== null)
    throw forbidden(`Session tokens cannot ${what}. Sign in as the user.`, "wrong_credential");
}

export async function requireBoardRole(ctx: Ctx, boardId: string, min: Role): Promise<Role> {
  // An agent's session token reaches its own board only; any other is as if it did not exist.
  const bound = boundBoard(ctx);
  if (bound !== null && bound !== boardId) throw notFound("Board");
  const role = await roleOn(ctx.db, boardId, userId(ctx));
  if (!role) throw notFound("Board");
  if (RANK[role] < RANK[min]) {
    throw forbidden(
      min === "owner" ? "Only a board owner can do this." : "Viewers can look but not change this board.",
      "insufficient_role",
    );
  }
  return role;
}

/** A user's role on a board, or null when they are not a member. */
export async function roleOn(db: Db, boardId: string, uid: string): Promise<Role | null> {
  const m = await db.query.boardMembers.findFirst({
    where: and(eq(schema.boardMembers.boardId, boardId), eq(schema.boardMembers.userId, uid)),
    columns: { role: true },
  });
  return m?.role ?? null;
}
