import { Hono } from "hono";
import { ChangePasswordBody, NotificationQuery, UserSettingsPatch } from "../../protocol/index.ts";
import { notFound } from "../lib/errors.ts";
import { valid } from "../lib/validate.ts";
import type { AppEnv } from "../middleware.ts";
import { userId } from "../services/context.ts";
import { listNotifications, markAllRead, markRead } from "../services/notifications.ts";
import { getSettings, updateSettings } from "../services/settings.ts";
import { createInboxTicket } from "../services/tickets.ts";
import { changePassword, getUser, loginSource } from "../services/users.ts";
import { checkOrigin, withCookie } from "./auth.ts";
import { userSecrets } from "./user-secrets.ts";

/** `/api/me`: the signed-in person. */
export const me = new Hono<AppEnv>()
  .get("/", async (c) => {
    const user = await getUser(c.var.ctx.db, userId(c.var.ctx));
    if (!user) throw notFound("User");
    return c.json(user);
  })
  /** Ends every other sign-in; answers with a new session for this one (and its cookie). */
  .post("/password", valid("json", ChangePasswordBody), async (c) => {
    checkOrigin(c);
    const session = await changePassword(c.var.ctx, c.req.valid("json"), loginSource(c.req.header("cf-connecting-ip")));
    return c.json(withCookie(c, session));
  })
  .get("/notifications", valid("query", NotificationQuery), async (c) =>
    c.json(await listNotifications(c.var.ctx, c.req.valid("query"))),
  )
  .get("/settings", async (c) => c.json(await getSettings(c.var.ctx)))
  .patch("/settings", valid("json", UserSettingsPatch), async (c) =>
    c.json(await updateSettings(c.var.ctx, c.req.valid("json"))),
  )
  /** A browser's single-use pass onto its person's inbox socket (`protocol/inbox.ts`). */
  .post("/inbox/ticket", async (c) => c.json(await createInboxTicket(c.var.ctx), 201))
  .route("/secrets", userSecrets)
  .post("/notifications/read", async (c) => c.json(await markAllRead(c.var.ctx)))
  .post("/notifications/:notificationId/read", async (c) =>
    c.json(await markRead(c.var.ctx, c.req.param("notificationId"))),
  );
