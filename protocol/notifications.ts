import { z } from "zod";
import { Text } from "./common.ts";

/**
 * A person's notifications: mentions, permission requests on boards they can act on, and sessions
 * they started that finished or failed. Live to every open tab of that person only, on their inbox
 * socket (`inbox.ts`: never broadcast to a board, and heard on any page); listed on their next
 * sign-in otherwise.
 * A notification of a board they have since left is not shown.
 *
 * REST (`/api/me/…`, user credential):
 * - `GET  notifications?unread=true&cursor=&limit=` → `NotificationPage` (newest first)
 * - `POST notifications/:notificationId/read` → `Notification`
 * - `POST notifications/read` → `{ read: number }` (all of them)
 * - `POST inbox/ticket` → `{ ticket, expiresIn }` (a browser's pass onto its inbox socket)
 * - `GET settings`, `PATCH settings` (`UserSettingsPatch`) → `UserSettings`
 */

export const NOTIFICATION_KINDS = ["mention", "permission", "session_finished", "session_failed"] as const;
export const NotificationKind = z.enum(NOTIFICATION_KINDS);
export type NotificationKind = z.infer<typeof NotificationKind>;

export const Notification = z.object({
  id: z.string(),
  boardId: z.string(),
  kind: NotificationKind,
  title: z.string(),
  body: z.string(),
  /** Where clicking it goes: an in-app path (`/b/…`). */
  href: z.string(),
  sessionId: z.string().nullable(),
  commentId: z.string().nullable(),
  /** Who caused it (null: an agent or the system). */
  actorName: z.string().nullable(),
  readAt: z.number().nullable(),
  createdAt: z.number(),
});
export type Notification = z.infer<typeof Notification>;

export const NotificationPage = z.object({
  items: z.array(Notification),
  nextCursor: z.string().nullable(),
  unread: z.number().int().nonnegative(),
});
export type NotificationPage = z.infer<typeof NotificationPage>;

export const NotificationQuery = z.object({
  /** Only the unread ones. */
  unread: z.enum(["true", "false"]).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: Text.max(64).optional(),
});
