import { createHash } from "node:crypto";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { CallToolResult, Tool as ListedTool } from "@modelcontextprotocol/sdk/types.js";
import type { McpServerRefused, McpServerRuntime } from "../../../protocol/index.ts";
import pkg from "../../package.json" with { type: "json" };
import { mcpValidator } from "./mcp-validator.ts";
import { oneLine, type Tool, type ToolInput, type ToolOutcome } from "./tools/tool.ts";

/**
 * The agent's MCP servers for one task: Trellis's own `/mcp` (the session's token as a Bearer
 * header) and the servers the session picked. Each is reached with the MCP SDK's client; its
 * tools join the agent's as `<server>__<tool>`. A server that does not start or answer is left
 * out with a reason the transcript shows; the task goes on without it.
 */

/** How long a server has to start, initialize and list its tools. */
export const MCP_CONNECT_MS = 30_000;
/** The longest one tool call may take (a progress notification restarts the clock). */
const CALL_MS = 600_000;
/** Both providers take tool names of `^[a-zA-Z0-9_-]{1,64}$`. */
const NAME_MAX = 64;
const UNSAFE = /[^a-zA-Z0-9_-]/g;
const DESCRIPTION_CHARS = 4000;
/** What a permission request can carry as `command`: the arguments a person approves. */
const ARGS_CHARS = 20_000;

export interface McpSetup {
  servers: McpServerRuntime[];
  refused?: McpServerRefused[];
  /** How long each server has to start, initialize and list its tools (default MCP_CONNECT_MS). */
  connectTimeoutMs?: number;
}

export interface McpProblem {
  server: string;
  why: string;
}

/**
 * The tool name a model sees for `tool` of `server`: both sanitised to what the providers
 * accept; too long or already taken, it is cut and ends in a hash of the full pair, so the same
 * server and tool always get the same name.
 */
export function mcpToolName(server: string, tool: string, taken: ReadonlySet<string> = new Set()): string {
  const name = `${server.replace(UNSAFE, "_")}__${tool.replace(UNSAFE, "_")}`;
  if (name.length <= NAME_MAX && !taken.has(name)) return name;
  const hash = createHash("sha256").update(`${server}\0${tool}`).digest("hex").slice(0, 8);
  return `${name.slice(0, NAME_MAX - hash.length - 1)}_${hash}`;
}

/** A tool result's content as the text the model reads. */
export function resultText(r: CallToolResult): string {
  const parts: string[] = [];
  for (const c of r.content ?? []) {
    if (c.type === "text") parts.push(c.text);
    else if (c.type === "image" || c.type === "audio") {
      parts.push(`[${c.type} ${c.mimeType}, ${Math.round((c.data.length * 3) / 4)} bytes: not shown]`);
    } else if (c.type === "resource") {
      parts.push("text" in c.resource ? c.resource.text : `[resource ${c.resource.uri}]`);
    } else if (c.type === "resource_link") parts.push(`[resource ${c.uri}${c.name ? ` (${c.name})` : ""}]`);
  }
  if (!parts.length && r.structuredContent) parts.push(JSON.stringify(r.structuredContent));
  return parts.join("\n") || "(no output)";
}

const why = (err: unknown, spec: McpServerRuntime): string => {
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  if (spec.transport === "http" && err instanceof TypeError) {
    const u = new URL(spec.url);
    return `${u.origin}${u.pathname} could not be reached${e.cause?.code ? ` (${e.cause.code})` : ""}`;
  }
  if (e?.code === "ENOENT" && e.path) return `the command ${e.path} was not found on this runner`;
  if (e?.code === "EACCES" && e.path) return `the command ${e.path} may not be run (permission denied)`;
  return oneLine(err instanceof Error ? err.message : String(err), 400);
};

/** A connected server: its client and the tools it offered. */
interface Connected {
  spec: McpServerRuntime;
  client: Client;
  tools: ListedTool[];
}

async function connect(spec: McpServerRuntime, cwd: string, timeoutMs: number): Promise<Connected> {
  // Loaded on the first task with MCP servers: an idle runner never pays for the SDK.
  const [{ Client }, transports, jsonSchemaValidator] = await Promise.all([
    import("@modelcontextprotocol/sdk/client/index.js"),
    spec.transport === "stdio"
      ? import("@modelcontextprotocol/sdk/client/stdio.js")
      : import("@modelcontextprotocol/sdk/client/streamableHttp.js"),
    mcpValidator(),
  ]);
  const client = new Client({ name: "trellis-runner", version: pkg.version }, { jsonSchemaValidator });
  const transport =
    spec.transport === "stdio"
      ? new (transports as typeof import("@modelcontextprotocol/sdk/client/stdio.js")).StdioClientTransport({
          command: spec.command,
          args: spec.args,
          // The SDK adds only HOME, PATH, SHELL and the like: the runner's provider keys stay out.
          env: spec.env,
          cwd,
          stderr: "pipe",
        })
      : new (
          transports as typeof import("@modelcontextprotocol/sdk/client/streamableHttp.js")
        ).StreamableHTTPClientTransport(new URL(spec.url), {
          // Tokens go in headers, never in the URL.
          requestInit: { headers: spec.headers },
        });
  let stderr = "";
  if ("stderr" in transport && transport.stderr) {
    transport.stderr.on("data", (b: Buffer) => {
      stderr = (stderr + b.toString()).slice(-2000);
    });
  }
  try {
    const tools = await withDeadline(
      (async () => {
        await client.connect(transport, { timeout: timeoutMs });
        const listed: ListedTool[] = [];
        let cursor: string | undefined;
        do {
          const page = await client.listTools(cursor ? { cursor } : {}, { timeout: timeoutMs });
          listed.push(...page.tools);
          cursor = page.nextCursor;
        } while (cursor && listed.length < 1000);
        return listed;
      })(),
      timeoutMs,
      `it did not answer within ${Math.round(timeoutMs / 1000)} s`,
    );
    return { spec, client, tools };
  } catch (err) {
    await client.close().catch(() => {});
    const tail = stderr.trim().split("\n").at(-1);
    const words = why(err, spec);
    throw new Error(tail ? `${words} (it said: ${oneLine(tail, 300)})` : words);
  }
}

function withDeadline<T>(work: Promise<T>, ms: number, words: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(words)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

function asTool(c: Connected, listed: ListedTool, name: string): Tool {
  const server = c.spec.name;
  const { $schema: _drop, ...schema } = listed.inputSchema as ListedTool["inputSchema"] & { $schema?: string };
  const about = (listed.description ?? listed.title ?? listed.annotations?.title ?? "").trim();
  const description = `${about ? `${about}\n\n` : ""}(Tool ${listed.name} of the MCP server "${server}".)`;
  const readOnly = listed.annotations?.readOnlyHint === true;
  return {
    name,
    description:
      description.length > DESCRIPTION_CHARS ? `${description.slice(0, DESCRIPTION_CHARS - 1)}…` : description,
    inputSchema: {
      ...schema,
      type: "object",
      properties: (schema.properties ?? {}) as Record<string, unknown>,
    },
    // A tool its server does not promise is read-only may change something: it waits like shell.
    kind: readOnly ? "read" : "mcp",
    nowDoing: () => oneLine(`${server}: ${listed.name}`),
    async preview(input: ToolInput) {
      const args = JSON.stringify(input, null, 2);
      return {
        summary: `call ${listed.name} on the MCP server "${server}"`,
        command: args.length > ARGS_CHARS ? `${args.slice(0, ARGS_CHARS - 20)}\n[cut]` : args,
      };
    },
    async run(input: ToolInput, ctx): Promise<ToolOutcome> {
      const r = (await c.client.callTool({ name: listed.name, arguments: input }, undefined, {
        signal: ctx.signal,
        timeout: CALL_MS,
        resetTimeoutOnProgress: true,
      })) as CallToolResult;
      return { output: resultText(r), isError: r.isError === true };
    },
  };
}

/** The task's MCP servers, connected; `close` ends every client (and every stdio process). */
export class McpTools {
  readonly tools: Tool[];
  readonly problems: McpProblem[];
  private readonly clients: Client[];

  private constructor(tools: Tool[], problems: McpProblem[], clients: Client[]) {
    this.tools = tools;
    this.problems = problems;
    this.clients = clients;
  }

  static readonly none = new McpTools([], [], []);

  /** Connect to every server at once; the ones that fail are problems, not errors. */
  static async open(setup: McpSetup, opts: { cwd: string; reserved: ReadonlySet<string> }): Promise<McpTools> {
    const problems: McpProblem[] = (setup.refused ?? []).map((r) => ({ server: r.name, why: r.reason }));
    const settled = await Promise.allSettled(
      setup.servers.map((s) => connect(s, opts.cwd, setup.connectTimeoutMs ?? MCP_CONNECT_MS)),
    );
    const taken = new Set(opts.reserved);
    const tools: Tool[] = [];
    const clients: Client[] = [];
    settled.forEach((r, i) => {
      const spec = setup.servers[i]!;
      if (r.status === "rejected") {
        problems.push({ server: spec.name, why: (r.reason as Error).message });
        return;
      }
      clients.push(r.value.client);
      for (const listed of r.value.tools) {
        const name = mcpToolName(spec.name, listed.name, taken);
        if (taken.has(name)) continue;
        taken.add(name);
        tools.push(asTool(r.value, listed, name));
      }
    });
    return new McpTools(tools, problems, clients);
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.clients.map((c) => c.close()));
  }
}
