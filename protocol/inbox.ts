import { z } from "zod";
import { Notification } from "./notifications.ts";

/**
 * A person's own live channel (`/parties/user-inbox/:userId?ticket=…&v=INBOX_PROTOCOL`): what is
 * for them alone, whichever page each of their tabs shows (a board, another board, the boards
 * list). Only its owner opens it: a browser with a single-use ticket from `POST /api/me/inbox/ticket`
 * (its Origin checked), any other client with `Authorization: Bearer`. Like a board socket, it
 * ends with the credential it was opened with. It carries no state of its own: a (re)connect is
 * told `hello` and re-reads over REST, so nothing depends on the socket having stayed up.
 */
export const INBOX_PROTOCOL = 1;
export const INBOX_VERSION_PARAM = "v";
export const INBOX_TICKET_PARAM = "ticket";

/**
 * Close codes, the board room's numbers for the same reasons. `signedOut`: the credential ended
 * (reconnect with a fresh ticket if still signed in); `outdated` is final (reload the page).
 */
export const INBOX_CLOSE = { signedOut: 4401, stale: 4408, outdated: 4426, full: 4429 } as const;

/** What a person chose for themselves, kept on the edge so every browser they sign in on agrees. */
export const UserSettings = z.object({
  /** A short tone when something needs them (an agent waits for their approval, a zone asks them). Off by default. */
  chime: z.boolean(),
});
export type UserSettings = z.infer<typeof UserSettings>;
export const DEFAULT_SETTINGS: UserSettings = { chime: false };

/** `PATCH /api/me/settings`: only the fields to change; an unknown field is refused by name. */
export const UserSettingsPatch = z.strictObject({ chime: z.boolean().optional() });
export type UserSettingsPatch = z.infer<typeof UserSettingsPatch>;

const v = z.literal(INBOX_PROTOCOL);

/** Inbox → client. The client sends nothing but `ping` (answered `pong` by the platform). */
export const InboxMessage = z.discriminatedUnion("type", [
  /** Accepted: whatever came while this tab was not listening is only in D1, so it re-reads. */
  z.object({ type: z.literal("hello"), v }),
  /** A new notification, stored already: the bell adds it and counts it unread. */
  z.object({ type: z.literal("notification"), v, notification: Notification }),
  /** Some were marked read (in this tab or another): the bell re-reads its count. */
  z.object({ type: z.literal("read"), v }),
  /** Their settings changed (in another tab or browser). */
  z.object({ type: z.literal("settings"), v, settings: UserSettings }),
]);
export type InboxMessage = z.infer<typeof InboxMessage>;
/** A frame as a service hands it to the inbox, before the port stamps the version. */
export type InboxFrame = InboxMessage extends infer M ? (M extends InboxMessage ? Omit<M, "v"> : never) : never;
