import { OAuthAuthorizationServer, OAuthResourceServer } from "@cloudflare/workers-oauth-provider";
import { eq } from "drizzle-orm";
import { depsFor } from "../context.ts";
import { schema } from "../db/client.ts";
import type { Env } from "../env.ts";
import type { Actor } from "../services/context.ts";
import { authenticateUser } from "../services/credentials.ts";
import { serveMcp } from "./server.ts";

/** What a validated bearer token carries to the MCP handler. */
export type McpProps = { actor: Actor } | { userId: string };

/** The one scope Trellis grants: an MCP client acts as the user who consented, nothing narrower. */
export const MCP_SCOPE = "trellis";

export interface OAuthPair {
  authorizationServer: OAuthAuthorizationServer<Env>;
  resourceServer: OAuthResourceServer<Env, McpProps>;
  resource: string;
}

/**
 * Our own bearer tokens (API tokens, session tokens, sign-in JWTs) never contain `:`; the
 * library's are `user:grant:secret`. Each kind goes to the validator that issued it, so one of
 * ours is never looked up as the library's, nor the other way round.
 */
async function validate(env: Env, pair: OAuthPair, resource: string, token: string) {
  if (token.includes(":")) {
    const v = await pair.authorizationServer.validateToken<McpProps>(resource, token, env);
    return v
      ? {
          props: v.props,
          audience: v.audience,
          expiresAt: v.expiresAt,
          scope: v.scope,
          userId: v.userId,
          clientId: v.clientId,
        }
      : null;
  }
  if (token.startsWith("trl_run_")) return null;
  const actor = await authenticateUser(depsFor(env), token);
  // Our tokens are for this Trellis and all of it: this resource is their audience by policy.
  return actor ? { props: { actor } satisfies McpProps, audience: resource, scope: [MCP_SCOPE] } : null;
}

async function actorFor(env: Env, props: McpProps, clientId: string | undefined): Promise<Actor | null> {
  if ("actor" in props) return props.actor;
  // A grant outlives nothing it was made for: a user deleted since consenting is no one.
  const user = await depsFor(env).db.query.users.findFirst({
    where: eq(schema.users.id, props.userId),
    columns: { id: true },
  });
  if (!user) return null;
  return { kind: "user", userId: user.id, via: "oauth", credential: `tok:oauth-${clientId ?? "client"}` };
}

const pairs = new Map<string, OAuthPair | null>();

/**
 * The authorization server and the protected resource (`/mcp`) for one origin. Issuer and
 * resource are fixed per instance, and Trellis answers on whatever origin it is deployed to (and
 * on loopback in dev), so there is one pair per origin, built on first use. An origin the library
 * refuses (plain http off loopback) gets none: `/mcp` then takes only Trellis's own tokens.
 */
export function oauthFor(origin: string): OAuthPair | null {
  if (pairs.has(origin)) return pairs.get(origin)!;
  const resource = `${origin}/mcp`;
  let pair: OAuthPair | null = null;
  try {
    const authorizationServer = new OAuthAuthorizationServer<Env>({
      issuer: origin,
      resources: [resource],
      defaultResource: resource,
      authorizeEndpoint: `${origin}/oauth/authorize`,
      tokenEndpoint: `${origin}/oauth/token`,
      clientRegistrationEndpoint: `${origin}/oauth/register`,
      scopesSupported: [MCP_SCOPE, "offline_access"],
      accessTokenTTL: 3600,
    });
    const holder: { pair?: OAuthPair } = {};
    const resourceServer = new OAuthResourceServer<Env, McpProps>({
      resourceMetadata: {
        resource,
        authorization_servers: [origin],
        resource_name: "Trellis",
        bearer_methods_supported: ["header"],
      },
      requiredScopes: [MCP_SCOPE],
      validateToken: (env) => (res, token) => validate(env, holder.pair!, res, token),
      handler: {
        async fetch(request, env, ctx) {
          const actor = await actorFor(env, ctx.props, ctx.auth.clientId);
          if (!actor)
            return Response.json(
              { error: { code: "invalid_token", message: "This grant's user is gone." } },
              { status: 401 },
            );
          return serveMcp(request, env, actor);
        },
      },
    });
    pair = { authorizationServer, resourceServer, resource };
    holder.pair = pair;
  } catch (err) {
    console.error("no OAuth for origin", origin, err);
  }
  // A deployment answers on an origin or two; a flood of made-up Host headers must not grow this.
  if (pairs.size < 16) pairs.set(origin, pair);
  return pair;
}
