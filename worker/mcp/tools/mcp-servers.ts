import { z } from "zod";
import { McpServer } from "../../../protocol/index.ts";
import { listMcpServers } from "../../services/mcp-servers.ts";
import { boardId, cursor, limit, pageArray, pageOf, READ, tool } from "./define.ts";

/**
 * Reading the board's MCP server configs, so a client can find the ids trellis_sessions_create
 * takes. Adding and editing them stays with people on the board (REST): a config can run a
 * command on a runner's machine.
 */
export const mcpServerTools = [
  tool({
    name: "trellis_mcp_servers_list",
    title: "List a board's MCP servers",
    description:
      "The MCP servers people attached to a board, by name: each is a stdio command or a Streamable HTTP URL whose tools a session's agent gets as <name>__<tool> when the session picks its id (mcpServerIds of trellis_sessions_create). Secrets never come back: env variables and headers show their names and at most their last four characters.",
    input: z.object({ boardId, cursor, limit: limit(200, 50) }),
    output: pageOf(McpServer),
    annotations: READ,
    run: async (ctx, a) => pageArray((await listMcpServers(ctx, a.boardId)).items, a.cursor, a.limit),
  }),
];
