import type { Env } from "../env.ts";
import { originAllowed } from "../middleware.ts";
import { mcpActor } from "./auth.ts";
import { serveMcp } from "./server.ts";

const jsonRpcError = (status: number, code: number, message: string, headers: Record<string, string> = {}) =>
  Response.json({ jsonrpc: "2.0", error: { code, message }, id: null }, { status, headers });

/**
 * `/mcp`: MCP over Streamable HTTP. A page on another site must not drive a signed-in browser's
 * local Trellis (DNS rebinding), so a foreign Origin is refused; clients that are not browsers
 * send none. Stateless, so there is no server-to-client stream to open with GET.
 */
export async function mcpRoute(request: Request, env: Env): Promise<Response> {
  if (!originAllowed(env, request)) {
    return jsonRpcError(403, -32000, `Origin ${request.headers.get("origin")} may not call this MCP server.`);
  }
  const actor = await mcpActor(request, env);
  if (actor instanceof Response) return actor;
  if (request.method !== "POST") {
    return jsonRpcError(405, -32000, "This MCP server is stateless: send requests with POST.", { Allow: "POST" });
  }
  return serveMcp(request, env, actor);
}
