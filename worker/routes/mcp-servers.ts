import { Hono } from "hono";
import { CreateMcpServerBody, PatchMcpServerBody } from "../../protocol/index.ts";
import { valid } from "../lib/validate.ts";
import type { AppEnv } from "../middleware.ts";
import { addMcpServer, editMcpServer, listMcpServers, removeMcpServer } from "../services/mcp-servers.ts";

/** `/api/boards/:boardId/mcp-servers`: MCP server configs sessions can attach (protocol/mcp-servers.ts). */
export const mcpServers = new Hono<AppEnv>()
  .get("/:boardId/mcp-servers", async (c) => c.json(await listMcpServers(c.var.ctx, c.req.param("boardId"))))
  .post("/:boardId/mcp-servers", valid("json", CreateMcpServerBody), async (c) =>
    c.json(await addMcpServer(c.var.ctx, c.req.param("boardId"), c.req.valid("json")), 201),
  )
  .patch("/:boardId/mcp-servers/:serverId", valid("json", PatchMcpServerBody), async (c) =>
    c.json(await editMcpServer(c.var.ctx, c.req.param("boardId"), c.req.param("serverId"), c.req.valid("json"))),
  )
  .delete("/:boardId/mcp-servers/:serverId", async (c) => {
    await removeMcpServer(c.var.ctx, c.req.param("boardId"), c.req.param("serverId"));
    return c.body(null, 204);
  });
