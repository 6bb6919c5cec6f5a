import { depsFor } from "../context.ts";
import type { Env } from "../env.ts";
import { bearer } from "../middleware.ts";
import type { Actor } from "../services/context.ts";
import { authenticateUser } from "../services/credentials.ts";

/** Where an MCP client learns how to get a token (RFC 9728), named in every 401. */
export const protectedResourceMetadataUrl = (request: Request) =>
  `${new URL(request.url).origin}/.well-known/oauth-protected-resource`;

function challenge(request: Request, code: "unauthorized" | "invalid_token" | "wrong_credential", message: string) {
  const error = code === "unauthorized" ? "" : ', error="invalid_token"';
  return Response.json(
    { error: { code, message } },
    {
      status: 401,
      headers: {
        "WWW-Authenticate": `Bearer resource_metadata="${protectedResourceMetadataUrl(request)}"${error}`,
      },
    },
  );
}

/**
 * Who is calling `/mcp`: a personal API token, an agent's session token or a sign-in's access
 * token, resolved by the same function REST uses. Anything else is a 401 that points the
 * client at the protected-resource metadata, where OAuth starts.
 */
export async function mcpActor(request: Request, env: Env): Promise<Actor | Response> {
  const token = bearer(request.headers.get("authorization") ?? undefined);
  if (!token)
    return challenge(request, "unauthorized", "Send a Bearer token: a Trellis API token, or sign in with OAuth.");
  if (token.startsWith("trl_run_")) {
    return challenge(request, "wrong_credential", "Runner credentials only work on the runner API (/runner/*).");
  }
  const actor = await authenticateUser(depsFor(env), token);
  if (!actor) return challenge(request, "invalid_token", "This token is invalid, expired or revoked.");
  return actor;
}
