/**
 * Test helpers for `/mcp`: the official SDK client, over real HTTP semantics, into the real
 * Worker entry (in-process, as `call` does). Imported only by `*.test.ts`.
 */
import { exports as workerExports } from "cloudflare:workers";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { Worktree } from "../../protocol/index.ts";
import { BASE, call, json } from "../../test/helpers.ts";
import { boardWithRepo, GIT, runNext } from "../routes/runner-testkit.ts";

const worker = (workerExports as unknown as { default: Fetcher }).default;

/** `fetch` for the SDK's transports: every request goes through the Worker's own entry. */
export const workerFetch = (url: string | URL, init?: RequestInit) => worker.fetch(new Request(url, init));

export const MCP_URL = new URL(`${BASE}/mcp`);

/**
 * A connected SDK client acting with `token` (initialize has run). It has listed the tools too,
 * as a real client does first: from then on the SDK checks every structured result against the
 * tool's output schema, so a tool whose answer does not match what it advertises fails its test.
 */
export async function mcpClient(token: string, headers: Record<string, string> = {}) {
  const client = new Client({ name: "trellis-test", version: "0.0.0" });
  const transport = new StreamableHTTPClientTransport(MCP_URL, {
    fetch: workerFetch,
    requestInit: { headers: { authorization: `Bearer ${token}`, ...headers } },
  });
  await client.connect(transport);
  await client.listTools();
  return client;
}

export type McpClient = Awaited<ReturnType<typeof mcpClient>>;

/** Call a tool; the result with its structured content typed as the caller expects. */
export async function callTool<T = Record<string, unknown>>(client: McpClient, name: string, args: object = {}) {
  const r = (await client.callTool({ name, arguments: args as Record<string, unknown> })) as CallToolResult;
  return {
    ...r,
    data: r.structuredContent as T,
    text: r.content.map((c) => (c.type === "text" ? c.text : "")).join(""),
  };
}

/** A tool call that must succeed: its structured content. */
export async function ok<T = Record<string, unknown>>(client: McpClient, name: string, args: object = {}) {
  const r = await callTool<T>(client, name, args);
  if (r.isError) throw new Error(`${name} failed: ${r.text}`);
  return r.data;
}

/** One raw JSON-RPC POST to /mcp, for what the SDK client would never send. */
export function rawMcp(body: string, headers: Record<string, string>) {
  return call("/mcp", {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
    body,
  });
}

/**
 * The usual stage: an owner and a member on a board, the owner's runner shared with it, a repo,
 * and a worktree the runner reported ready.
 */
export async function boardWithWorktree() {
  const stage = await boardWithRepo({ path: "/home/ann/code/app", branches: ["main"] });
  return { ...stage, worktree: await readyWorktree(stage, "feature") };
}

/**
 * Another worktree on the stage's board, made ready by "the runner" (this test). Call it before
 * anything queues other jobs for the runner: its next job must be this worktree's.
 */
export async function readyWorktree(stage: Awaited<ReturnType<typeof boardWithRepo>>, name: string) {
  const made = await json<Worktree>(
    call(`/api/boards/${stage.boardId}/worktrees`, {
      method: "POST",
      token: stage.member.token,
      json: { repoId: stage.repo.id, name, branch: name, mode: "new" },
    }),
  );
  await runNext(stage.runner.credential, {
    status: "succeeded",
    result: { path: `/home/ann/wt/${name}`, git: GIT, createdBranch: true },
  });
  return { ...made, status: "ready" as const };
}
