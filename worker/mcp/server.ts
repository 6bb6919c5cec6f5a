import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import type { CallToolResult, Tool as ListedTool } from "@modelcontextprotocol/sdk/types.js";
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, McpError } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import pkg from "../../package.json" with { type: "json" };
import { contextFor } from "../context.ts";
import type { Env } from "../env.ts";
import { describeIssues } from "../lib/validate.ts";
import type { Actor } from "../services/context.ts";
import { fromServiceError, toolError } from "./errors.ts";
import type { Tool } from "./tools/define.ts";
import { TOOLS } from "./tools/index.ts";

const INSTRUCTIONS =
  "Trellis is a shared canvas of boards. A board holds zones and worktree cards (git worktrees on runners); agent sessions run in worktrees. Find ids with the list tools (trellis_boards_list first), then act. An agent running inside Trellis finds its own session, board and worktree with trellis_sessions_get_current.";

export const jsonRpcError = (status: number, code: number, message: string, headers: Record<string, string> = {}) =>
  Response.json({ jsonrpc: "2.0", error: { code, message }, id: null }, { status, headers });

/** A long call keeps its stream alive with an SSE comment this often (proxies drop idle streams). */
const KEEP_ALIVE_MS = 25_000;

const schemaOf = (s: z.ZodType, io: "input" | "output") =>
  z.toJSONSchema(s, { io, unrepresentable: "any" }) as ListedTool["inputSchema"];

interface Catalog {
  listed: ListedTool[];
  byName: Map<string, Tool>;
}

const catalogOf = (tools: readonly Tool[]): Catalog => ({
  listed: tools.map((t) => ({
    name: t.name,
    title: t.title,
    description: t.description,
    inputSchema: schemaOf(t.input, "input"),
    outputSchema: schemaOf(t.output, "output"),
    annotations: { title: t.title, ...t.annotations },
  })),
  byName: new Map(tools.map((t) => [t.name as string, t])),
});

/** `tools/list` is the same for everyone: built once per isolate, not per request. */
const CATALOG = catalogOf(TOOLS);

/**
 * What a test may set: a short keep-alive interval, and a tool of its own that it holds open (no
 * Trellis tool waits on anything a test could hold).
 */
export interface ServeOptions {
  keepAliveMs?: number;
  tools?: readonly Tool[];
}

/** Elicitation is never used here; this keeps the SDK from compiling schemas with Ajv, which Workers forbid. */
const noSchemaValidator = {
  getValidator: () => () => ({ valid: false as const, data: undefined, errorMessage: "not supported" }),
};

async function callTool(catalog: Catalog, env: Env, actor: Actor, name: string, raw: unknown): Promise<CallToolResult> {
  const tool = catalog.byName.get(name);
  if (!tool)
    throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${name}. Call tools/list for the tools there are.`);
  const parsed = tool.input.safeParse(raw ?? {});
  if (!parsed.success) return toolError("bad_request", `Invalid arguments: ${describeIssues(parsed.error)}`);
  const args = parsed.data as Record<string, unknown>;
  try {
    const out = await tool.run(contextFor(env, actor), args);
    return { content: [{ type: "text", text: JSON.stringify(out) }], structuredContent: out };
  } catch (err) {
    return fromServiceError(err, args);
  }
}

/**
 * Answer one MCP request for a known actor. Stateless: a new server and transport for every
 * request, so nothing one client sent can reach another (the SDK's shared-transport leak,
 * CVE-2026-25536). Tool calls run the same service functions as REST, with the same actor.
 */
export async function serveMcp(request: Request, env: Env, actor: Actor, opts: ServeOptions = {}): Promise<Response> {
  if (request.method !== "POST") {
    return jsonRpcError(405, -32000, "This MCP server is stateless: send requests with POST.", { Allow: "POST" });
  }
  const server = new Server(
    { name: "trellis", title: "Trellis", version: pkg.version },
    { capabilities: { tools: {} }, instructions: INSTRUCTIONS, jsonSchemaValidator: noSchemaValidator },
  );
  const catalog = opts.tools ? catalogOf(opts.tools) : CATALOG;
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: catalog.listed }));
  server.setRequestHandler(CallToolRequestSchema, (req) =>
    callTool(catalog, env, actor, req.params.name, req.params.arguments),
  );
  const transport = new WebStandardStreamableHTTPServerTransport({
    sessionIdGenerator: undefined,
    keepAliveMs: opts.keepAliveMs ?? KEEP_ALIVE_MS,
  });
  await server.connect(transport);
  return transport.handleRequest(request);
}

export const TOOL_NAMES = TOOLS.map((t) => t.name);
