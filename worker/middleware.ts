import { createMiddleware } from "hono/factory";
import { contextFor, depsFor } from "./context.ts";
import type { Env } from "./env.ts";
import { unauthorized } from "./lib/errors.ts";
import type { Ctx } from "./services/context.ts";
import { authenticateUser } from "./services/credentials.ts";

export type AppEnv = { Bindings: Env; Variables: { ctx: Ctx } };

export function bearer(header: string | undefined): string | null {
  const m = header?.match(/^Bearer\s+(\S+)$/i);
  return m?.[1] ?? null;
}

/** Every `/api` route but auth and health runs behind this: no user, no service context. */
export const requireUser = createMiddleware<AppEnv>(async (c, next) => {
  const token = bearer(c.req.header("authorization"));
  if (!token) throw unauthorized();
  if (token.startsWith("trl_run_")) {
    throw unauthorized("Runner credentials only work on the runner API (/runner/*).", "wrong_credential");
  }
  const actor = await authenticateUser(depsFor(c.env), token);
  if (!actor) throw unauthorized("Your sign-in is invalid or has expired.", "invalid_token");
  c.set("ctx", contextFor(c.env, actor));
  await next();
});

/** Browser requests must come from our own origin (or one listed in ALLOWED_ORIGINS). */
export function originAllowed(env: Env, request: Request): boolean {
  const origin = request.headers.get("origin");
  if (!origin) return true;
  const url = new URL(request.url);
  if (origin === url.origin) return true;
  const extra = (env.ALLOWED_ORIGINS ?? "").split(",").map((s) => s.trim());
  return extra.includes(origin);
}
