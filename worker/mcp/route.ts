import type { Env } from "../env.ts";
import { hostProblem, originAllowed } from "../middleware.ts";
import { mcpActor } from "./auth.ts";
import { oauthFor } from "./oauth.ts";
import { jsonRpcError, serveMcp } from "./server.ts";

/**
 * `/mcp`: MCP over Streamable HTTP. A page on another site must not drive a signed-in browser's
 * local Trellis (DNS rebinding), so a host that is not ours and a foreign Origin are refused;
 * clients that are not browsers send no Origin. Then the protected resource checks the Bearer token (OAuth's or one of Trellis's
 * own) and answers a 401 that starts OAuth; without OAuth on this origin, only our own tokens.
 */
export async function mcpRoute(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
  const badHost = hostProblem(env, request);
  if (badHost) return jsonRpcError(421, -32000, badHost);
  if (!originAllowed(env, request)) {
    return jsonRpcError(403, -32000, `Origin ${request.headers.get("origin")} may not call this MCP server.`);
  }
  const oauth = oauthFor(new URL(request.url).origin);
  if (oauth) return oauth.resourceServer.fetch(request, env, ctx);
  const actor = await mcpActor(request, env);
  if (actor instanceof Response) return actor;
  return serveMcp(request, env, actor);
}
