import { and, count, desc, eq, exists, isNull, lt, type SQL, sql } from "drizzle-orm";
import type { z } from "zod";
import type { Notification, NotificationKind, NotificationPage, NotificationQuery } from "../../protocol/index.ts";
import { schema } from "../db/client.ts";
import { notFound } from "../lib/errors.ts";
import { newId } from "../lib/ids.ts";
import { requirePerson } from "./access.ts";
import type { Ctx } from "./context.ts";
import { userId } from "./context.ts";

/**
 * The bell. A notification is stored for one person and, once stored, sent to their inbox: every
 * tab of theirs hears it, whatever page it shows, and nobody else's. Reading is only
 * ever of one's own, and only of boards one still belongs to: leaving a board takes its
 * notifications out of sight with it.
 */

const { notifications, boardMembers } = schema;
type NotificationRow = typeof notifications.$inferSelect;

interface NotificationData {
  title?: string;
  body?: string;
  href?: string;
  sessionId?: string | null;
  commentId?: string | null;
  actorName?: string | null;
}

export interface NewNotification extends NotificationData {
  kind: NotificationKind;
  title: string;
  href: string;
}

export const toNotification = (r: NotificationRow): Notification => {
  const d = r.data as NotificationData;
  return {
    id: r.id,
    boardId: r.boardId,
    kind: r.kind,
    title: d.title ?? "",
    body: d.body ?? "",
    href: d.href ?? `/b/${r.boardId}`,
    sessionId: d.sessionId ?? null,
    commentId: d.commentId ?? null,
    actorName: d.actorName ?? null,
    readAt: r.readAt,
    createdAt: r.createdAt,
  };
};

/** Store one notification per person and deliver each to its person's open tabs. Never fails the write behind it. */
export async function notifyUsers(ctx: Ctx, boardId: string, userIds: readonly string[], n: NewNotification) {
  if (userIds.length === 0) return;
  const data: NotificationData = {
    title: n.title.slice(0, 200),
    body: (n.body ?? "").slice(0, 2000),
    href: n.href,
    sessionId: n.sessionId ?? null,
    commentId: n.commentId ?? null,
    actorName: n.actorName ?? null,
  };
  // D1 binds at most 100 values per statement: a few rows per insert, in one batch.
  const rows = userIds.map((uid) => ({
    id: newId(),
    userId: uid,
    boardId,
    kind: n.kind,
    data: data as Record<string, unknown>,
  }));
  const chunks: (typeof rows)[] = [];
  for (let i = 0; i < rows.length; i += 15) chunks.push(rows.slice(i, i + 15));
  const [first, ...rest] = chunks.map((c) => ctx.db.insert(notifications).values(c).returning());
  const inserted = (await ctx.db.batch([first!, ...rest])).flat();
  await deliver(ctx, inserted);
}

export async function deliver(ctx: Ctx, rows: readonly NotificationRow[]) {
  await Promise.all(
    rows.map((r) => ctx.inboxes.send(r.userId, { type: "notification", notification: toNotification(r) })),
  );
}

/** Still a member of the notification's board. */
const stillMember = (uid: string): SQL =>
  exists(
    sql`(select 1 from ${boardMembers} where ${boardMembers.boardId} = ${notifications.boardId} and ${boardMembers.userId} = ${uid})`,
  );

export async function listNotifications(ctx: Ctx, q: z.infer<typeof NotificationQuery>): Promise<NotificationPage> {
  requirePerson(ctx, "read or mark notifications");
  const uid = userId(ctx);
  const mine = and(eq(notifications.userId, uid), stillMember(uid));
  const [rows, [unread]] = await Promise.all([
    ctx.db
      .select()
      .from(notifications)
      .where(
        and(
          mine,
          q.unread === "true" ? isNull(notifications.readAt) : undefined,
          q.cursor ? lt(notifications.id, q.cursor) : undefined,
        ),
      )
      .orderBy(desc(notifications.id))
      .limit(q.limit + 1),
    ctx.db
      .select({ n: count() })
      .from(notifications)
      .where(and(mine, isNull(notifications.readAt))),
  ]);
  const more = rows.length > q.limit;
  const items = rows.slice(0, q.limit).map(toNotification);
  return { items, nextCursor: more ? items.at(-1)!.id : null, unread: unread?.n ?? 0 };
}

export async function markRead(ctx: Ctx, notificationId: string): Promise<Notification> {
  requirePerson(ctx, "read or mark notifications");
  const uid = userId(ctx);
  const [row] = await ctx.db
    .update(notifications)
    .set({ readAt: sql`coalesce(${notifications.readAt}, ${Date.now()})` })
    .where(and(eq(notifications.id, notificationId), eq(notifications.userId, uid), stillMember(uid)))
    .returning();
  // Someone else's notification is as missing as one that never was.
  if (!row) throw notFound("Notification");
  // Their other tabs count it read too.
  await ctx.inboxes.send(uid, { type: "read" });
  return toNotification(row);
}

export async function markAllRead(ctx: Ctx): Promise<{ read: number }> {
  requirePerson(ctx, "read or mark notifications");
  const uid = userId(ctx);
  const rows = await ctx.db
    .update(notifications)
    .set({ readAt: Date.now() })
    .where(and(eq(notifications.userId, uid), isNull(notifications.readAt)))
    .returning({ id: notifications.id });
  if (rows.length) await ctx.inboxes.send(uid, { type: "read" });
  return { read: rows.length };
}
