import type { Outcome, ServiceAdapter, ServiceClient } from "../../test/contract.ts";
import { serviceContract } from "../../test/contract.ts";
import { callTool, type McpClient, mcpClient } from "./mcp-testkit.ts";

/**
 * The service contract through MCP: each operation is the tool an agent or an MCP client calls,
 * over the official SDK client. A tool error reads `code: message`, with REST's codes.
 */
const clients = new Map<string, Promise<McpClient>>();
const clientFor = (token: string) => {
  if (!clients.has(token)) clients.set(token, mcpClient(token));
  return clients.get(token)!;
};

async function outcome<T>(token: string, name: string, args: Record<string, unknown>): Promise<Outcome<T>> {
  const r = await callTool<T>(await clientFor(token), name, args);
  if (!r.isError) return { ok: true, value: r.data };
  const m = /^(\w+): ([\s\S]*)$/.exec(r.text);
  return m ? { ok: false, code: m[1]!, message: m[2]! } : { ok: false, code: "unparsed", message: r.text };
}

const mcp: ServiceAdapter = {
  name: "MCP",
  full: false,
  as(user) {
    const client: ServiceClient = {
      listBoards: () => outcome(user.token, "trellis_boards_list", { limit: 200 }),
      getBoard: (boardId) => outcome(user.token, "trellis_boards_get", { boardId }),
      listZones: (boardId) => outcome(user.token, "trellis_zones_list", { boardId, limit: 200 }),
      createZone: (boardId, body) =>
        outcome(user.token, "trellis_zones_create", { ...(body as Record<string, unknown>), boardId }),
      createWorktree: (boardId, body) =>
        outcome(user.token, "trellis_worktrees_create", { ...(body as Record<string, unknown>), boardId }),
      moveWorktree: (boardId, worktreeId, zone, at) =>
        outcome(user.token, "trellis_worktrees_move", { boardId, worktreeId, zoneId: zone.id, ...at }),
      createSession: (boardId, body) =>
        outcome(user.token, "trellis_sessions_create", { ...(body as Record<string, unknown>), boardId }),
      promptSession: (boardId, sessionId, text) =>
        outcome(user.token, "trellis_sessions_prompt", { boardId, sessionId, text }),
      stopSession: (boardId, sessionId) => outcome(user.token, "trellis_sessions_stop", { boardId, sessionId }),
    };
    return client;
  },
};

serviceContract(mcp);
