import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import pkg from "../package.json" with { type: "json" };
import { AppError } from "./lib/errors.ts";
import { oauthRoute } from "./mcp/consent.ts";
import { oauthFor } from "./mcp/oauth.ts";
import { mcpRoute } from "./mcp/route.ts";
import type { AppEnv } from "./middleware.ts";
import { requireOurHost, requireUser } from "./middleware.ts";
import { attention } from "./routes/attention.ts";
import { auth } from "./routes/auth.ts";
import { boards } from "./routes/boards.ts";
import { comments } from "./routes/comments.ts";
import { jobs } from "./routes/jobs.ts";
import { mcpServers } from "./routes/mcp-servers.ts";
import { me } from "./routes/me.ts";
import { runnerApi } from "./routes/runner-api.ts";
import { boardRunners, runners } from "./routes/runners.ts";
import { sessions } from "./routes/sessions.ts";
import { boardTerminals, runnerTerminals, terminals } from "./routes/terminals.ts";
import { tokens } from "./routes/tokens.ts";
import { worktrees } from "./routes/worktrees.ts";

/** JSON bodies are small: a zone, a prompt. Anything bigger is refused before it is read. */
const MAX_BODY_BYTES = 256 * 1024;

const api = new Hono<AppEnv>()
  .get("/health", (c) => c.json({ ok: true, version: pkg.version }))
  .get("/config", (c) => c.json({ singleUser: c.env.SINGLE_USER === "1", version: pkg.version }))
  .route("/auth", auth)
  .use("*", requireUser)
  .route("/me", me)
  .route("/boards", boards)
  .route("/boards", boardRunners)
  .route("/boards", worktrees)
  .route("/boards", sessions)
  .route("/boards", comments)
  .route("/boards", attention)
  .route("/boards", mcpServers)
  .route("/runners", runners)
  .route("/jobs", jobs)
  .route("/tokens", tokens)
  .route("/boards", boardTerminals)
  .route("/runners", runnerTerminals)
  .route("/terminals", terminals);

export const app = new Hono<AppEnv>()
  .use(
    "*",
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) =>
        c.json({ error: { code: "too_large", message: `Body is larger than ${MAX_BODY_BYTES / 1024} KiB.` } }, 413),
    }),
  )
  .use("/api/*", requireOurHost)
  .use("/oauth/*", requireOurHost)
  .use("/.well-known/*", requireOurHost)
  .route("/api", api)
  .route("/runner", runnerApi)
  .all("/mcp", (c) => mcpRoute(c.req.raw, c.env, c.executionCtx as unknown as ExecutionContext))
  .all("/oauth/*", (c) =>
    oauthRoute(c.req.raw, c.env, c.executionCtx as unknown as ExecutionContext, oauthFor(new URL(c.req.url).origin)),
  )
  .all("/.well-known/*", (c) =>
    oauthRoute(c.req.raw, c.env, c.executionCtx as unknown as ExecutionContext, oauthFor(new URL(c.req.url).origin)),
  )
  .notFound((c) =>
    c.json({ error: { code: "not_found", message: `No route for ${c.req.method} ${c.req.path}.` } }, 404),
  )
  .onError((err, c) => {
    if (err instanceof AppError) return c.json({ error: { code: err.code, message: err.message } }, err.status);
    // Hono's validator reports unparsable JSON as a bare HTTPException; give it our code.
    if (err instanceof SyntaxError || (err instanceof HTTPException && /malformed json/i.test(err.message)))
      return c.json({ error: { code: "bad_json", message: "Body is not valid JSON." } }, 400);
    if (err instanceof HTTPException) {
      return c.json({ error: { code: "http_error", message: err.message || "Request refused." } }, err.status);
    }
    console.error("unhandled", err);
    return c.json({ error: { code: "internal", message: "Something went wrong on our side." } }, 500);
  });

export type AppType = typeof app;
