import { Hono } from "hono";
import { CreateTokenBody } from "../../protocol/index.ts";
import { valid } from "../lib/validate.ts";
import type { AppEnv } from "../middleware.ts";
import { createApiToken, listApiTokens, revokeApiToken } from "../services/tokens.ts";

export const tokens = new Hono<AppEnv>()
  .get("/", async (c) => c.json({ items: await listApiTokens(c.var.ctx) }))
  .post("/", valid("json", CreateTokenBody), async (c) =>
    c.json(await createApiToken(c.var.ctx, c.req.valid("json").name), 201),
  )
  .delete("/:tokenId", async (c) => {
    await revokeApiToken(c.var.ctx, c.req.param("tokenId"));
    return c.body(null, 204);
  });
