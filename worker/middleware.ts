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

/** Loopback names, any port: `npm start` prints localhost, the tests and benches use 127.0.0.1. */
const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]);

function publicHost(env: Env): string | null | undefined {
  if (!env.PUBLIC_URL) return undefined;
  try {
    return new URL(env.PUBLIC_URL).host;
  } catch {
    return null;
  }
}

/**
 * Why this request's host is not one Trellis answers to, or null when it is. A page on
 * evil.example whose name the attacker re-points at 127.0.0.1 (DNS rebinding) reaches a local
 * Trellis with `Host: evil.example` and a matching Origin, so the Origin check alone lets it in
 * (and in single-user mode `POST /api/auth/local` would hand it a token). So the host itself must
 * be ours: loopback on any port, or PUBLIC_URL's. Without PUBLIC_URL any https host is ours
 * too: a re-pointed name cannot pass TLS (the server's certificate is not for it), and a deployed
 * Worker only receives the names routed to it. `wrangler dev` puts the client's Host in
 * `request.url`, as the deployed edge does; both it and the header are checked.
 */
export function hostProblem(env: Env, request: Request): string | null {
  const url = new URL(request.url);
  const pub = publicHost(env);
  const stranger = [url.host, request.headers.get("host")].find((h) => h !== null && !isOurHost(h, url.protocol, pub));
  if (!stranger) return null;
  const loopback = [...LOOPBACK].join(", ");
  if (pub === null) {
    return `PUBLIC_URL (${env.PUBLIC_URL}) is not a URL, so this Trellis answers only on ${loopback}: set it to the origin Trellis is served at, like https://trellis.example.com.`;
  }
  const where = pub ? `${pub} (its PUBLIC_URL) and ${loopback}` : `https hosts and ${loopback}`;
  return `This Trellis answers only on ${where}, not on ${stranger}: a page under another name may not drive it (DNS rebinding). Open Trellis at its own address${pub ? "" : ", or set PUBLIC_URL to the origin it is served at"}.`;
}

function isOurHost(host: string, protocol: string, pub: string | null | undefined): boolean {
  let asked: URL;
  try {
    asked = new URL(`${protocol}//${host}`);
  } catch {
    return false;
  }
  if (LOOPBACK.has(asked.hostname)) return true;
  if (pub !== undefined) return asked.host === pub;
  return protocol === "https:";
}

/** `/api`, OAuth and its metadata answer only on our own hosts (`hostProblem`); `/mcp` checks in its route. */
export const requireOurHost = createMiddleware<AppEnv>(async (c, next) => {
  const problem = hostProblem(c.env, c.req.raw);
  if (problem) return c.json({ error: { code: "bad_host", message: problem } }, 421);
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
