import { Hono } from "hono";
import { z } from "zod";
import { EnvName, KeyProvider, PutEnvBody, PutKeyBody } from "../../protocol/index.ts";
import { valid } from "../lib/validate.ts";
import type { AppEnv } from "../middleware.ts";
import { deleteSecret, listSecrets, putEnv, putKey } from "../services/user-secrets.ts";

const KeyParam = z.object({ provider: KeyProvider });
const EnvParam = z.object({ name: EnvName });

/** `/api/me/secrets`: the signed-in person's keys and environment variables. No route returns a value. */
export const userSecrets = new Hono<AppEnv>()
  .get("/", async (c) => c.json({ items: await listSecrets(c.var.ctx) }))
  .put("/keys/:provider", valid("param", KeyParam), valid("json", PutKeyBody), async (c) =>
    c.json(await putKey(c.var.ctx, c.req.valid("param").provider, c.req.valid("json"))),
  )
  .delete("/keys/:provider", valid("param", KeyParam), async (c) => {
    await deleteSecret(c.var.ctx, "key", c.req.valid("param").provider);
    return c.body(null, 204);
  })
  .put("/env/:name", valid("param", EnvParam), valid("json", PutEnvBody), async (c) =>
    c.json(await putEnv(c.var.ctx, c.req.valid("param").name, c.req.valid("json").value)),
  )
  .delete("/env/:name", valid("param", EnvParam), async (c) => {
    await deleteSecret(c.var.ctx, "env", c.req.valid("param").name);
    return c.body(null, 204);
  });
