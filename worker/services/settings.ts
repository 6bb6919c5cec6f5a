import { eq, sql } from "drizzle-orm";
import { DEFAULT_SETTINGS, UserSettings, type UserSettingsPatch } from "../../protocol/index.ts";
import { schema } from "../db/client.ts";
import { notFound } from "../lib/errors.ts";
import { requirePerson } from "./access.ts";
import type { Ctx } from "./context.ts";
import { userId } from "./context.ts";

const { users } = schema;

/**
 * What a person chose for themselves (the chime), kept on the edge so every browser they sign in
 * on agrees. Only ever one's own: there is no way to name anyone else's.
 */

/** A stored value that no longer fits (a key from an older Trellis) falls back to its default. */
function fromRow(stored: Record<string, unknown>): UserSettings {
  const parsed = UserSettings.partial().safeParse(stored);
  return { ...DEFAULT_SETTINGS, ...(parsed.success ? parsed.data : {}) };
}

export async function getSettings(ctx: Ctx): Promise<UserSettings> {
  requirePerson(ctx, "read or change settings");
  const row = await ctx.db.query.users.findFirst({ where: eq(users.id, userId(ctx)), columns: { settings: true } });
  if (!row) throw notFound("User");
  return fromRow(row.settings);
}

/** Change some settings; their other tabs and browsers follow at once. */
export async function updateSettings(ctx: Ctx, patch: UserSettingsPatch): Promise<UserSettings> {
  requirePerson(ctx, "read or change settings");
  const uid = userId(ctx);
  // Merged in SQL, so two tabs changing different settings at once both keep theirs.
  const [row] = await ctx.db
    .update(users)
    .set({ settings: sql`json_patch(${users.settings}, ${JSON.stringify(patch)})` })
    .where(eq(users.id, uid))
    .returning({ settings: users.settings });
  if (!row) throw notFound("User");
  const settings = fromRow(row.settings);
  await ctx.inboxes.send(uid, { type: "settings", settings });
  return settings;
}
