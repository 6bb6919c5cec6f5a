/**
 * MCP for agents, through a real Worker and a real runner process, with the scripted model server:
 * the agent drives Trellis through Trellis's own /mcp with its session token (and a child it
 * spawns there appears on a board socket), a stdio MCP server written with the SDK is attached to
 * a session and its tools are called under the permission mode, an HTTP one written with the SDK
 * gets the secret header it was saved with, and a server that cannot start is told in the
 * transcript while the session goes on.
 */
import { readFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { McpServer as SdkMcpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import type { McpServer, Session, SessionDetail, ToolResultBlock } from "../../protocol/index.ts";
import type { RequestBody, Scripted } from "../../test/model-server.ts";
import { api, ROOT } from "../../test/server.ts";
import {
  as,
  type Client,
  lastTask,
  noticesOf,
  person,
  Room,
  readyWorktree,
  sessionIs,
  taskEnded,
  textOf,
  until,
  type World,
  world,
} from "./session-kit.ts";

let w: World;
let owner: Client;
let member: Client;

beforeAll(async () => {
  w = await world("Owner");
  owner = as(w, w.s.user.token);
  member = await person(w, "Mia", "member");
});
afterAll(async () => {
  await w?.stop();
});

/** The output of the last tool result in an Anthropic request. */
function lastResult(body: RequestBody): string {
  const last = body.messages?.at(-1) as { content?: { type: string; content?: string }[] } | undefined;
  const block = last?.content?.findLast((b) => b.type === "tool_result");
  return String(block?.content ?? "");
}

const toolNames = (body: RequestBody) => (body.tools ?? []).map((t) => String(t.name));

describe("Trellis's own MCP server", () => {
  it("the agent finds its session, lists the board's sessions and spawns a child; the child appears on the board", async () => {
    const wt = await readyWorktree(w, "mcp-trellis");
    const room = await Room.open(w.edge.url, w.s.boardId, owner.token);
    const boardId = w.s.boardId;
    let mine = "";
    let listed: string[] = [];
    // The child and the parent's last turns share the queue: answer by whose conversation it is.
    const answer = (body: RequestBody): Scripted =>
      JSON.stringify(body.messages?.[0] ?? {}).includes("CHILD:")
        ? { text: "The child is done." }
        : { text: "All done." };
    w.server.script("anthropic", [
      (body) => {
        expect(toolNames(body)).toEqual(
          expect.arrayContaining([
            "trellis__trellis_sessions_get_current",
            "trellis__trellis_sessions_list",
            "trellis__trellis_sessions_spawn",
          ]),
        );
        return { toolCalls: [{ name: "trellis__trellis_sessions_get_current", input: {} }] };
      },
      (body) => {
        const detail = JSON.parse(lastResult(body)) as SessionDetail;
        mine = detail.session.id;
        expect(detail.session.boardId).toBe(boardId);
        return { toolCalls: [{ name: "trellis__trellis_sessions_list", input: { boardId } }] };
      },
      (body) => {
        listed = (JSON.parse(lastResult(body)) as { items: Session[] }).items.map((s) => s.id);
        return {
          toolCalls: [
            {
              name: "trellis__trellis_sessions_spawn",
              input: { boardId, sessionId: mine, prompt: "CHILD: say you are done.", title: "MCP child" },
            },
          ],
        };
      },
      answer,
      answer,
      answer,
    ]);
    const s = await owner.start({
      worktreeId: wt.id,
      provider: "anthropic",
      model: "claude-sonnet-4-5",
      permissionMode: "full",
      prompt: "Find yourself on the board, then spawn a helper.",
    });
    const created = await room.next(
      "entity",
      (e) => e.entity === "session" && e.op === "created" && (e.row as Session | null)?.parentId === s.id,
      30_000,
    );
    const child = created.row as Session;
    expect(child).toMatchObject({ title: "MCP child", origin: "spawn", worktreeId: wt.id });
    const { task } = await taskEnded(owner, s.id, lastTask(await owner.detail(s.id)).id, 30_000);
    expect(w.server.failures).toEqual([]);
    expect(task.status, task.error ?? "").toBe("completed");
    expect(mine).toBe(s.id);
    expect(listed).toContain(s.id);

    const results = (await owner.messages(s.id)).flatMap((m) =>
      m.content.filter((b): b is ToolResultBlock => b.type === "tool_result"),
    );
    expect(results.map((r) => [r.name, r.isError])).toEqual([
      ["trellis__trellis_sessions_get_current", false],
      ["trellis__trellis_sessions_list", false],
      ["trellis__trellis_sessions_spawn", false],
    ]);
    const childEnd = await taskEnded(owner, child.id, lastTask(await owner.detail(child.id)).id, 30_000);
    expect(childEnd.task.status, childEnd.task.error ?? "").toBe("completed");
    // The child's answer comes back to the parent as its next prompt; it ends before the next test scripts.
    const answered = await until("the parent's second task", async () => (await owner.detail(s.id)).tasks[1], 30_000);
    const back = await taskEnded(owner, s.id, answered.id, 30_000);
    expect(back.task.status, back.task.error ?? "").toBe("completed");
    expect(w.server.pending("anthropic")).toBe(0);
    room.close();
  });
});

describe("MCP servers attached to a session", () => {
  it("a stdio server's tools run under the permission mode; a broken one and one the runner's owner did not add are told, and the session goes on", async () => {
    const wt = await readyWorktree(w, "mcp-stdio");
    const boardServers = `/api/boards/${w.s.boardId}/mcp-servers`;
    const addAs = (token: string, body: unknown) => api<McpServer>(w.edge.url, boardServers, { token, json: body });
    const notes = await addAs(owner.token, {
      transport: "stdio",
      name: "notes",
      command: join(ROOT, "node_modules/.bin/node"),
      args: [join(ROOT, "runner/test/fixtures/notes-mcp.ts")],
      env: { NOTES_SECRET: "notes-secret-4321" },
    });
    const broken = await addAs(owner.token, {
      transport: "stdio",
      name: "broken",
      command: "trellis-no-such-mcp-server",
    });
    const theirs = await addAs(member.token, { transport: "stdio", name: "theirs", command: "true" });
    // A writer's URL into the runner's own machine (its loopback here) is not reached.
    const inward = await addAs(member.token, { transport: "http", name: "inward", url: "http://localhost:9/mcp" });

    w.server.script("anthropic", [
      (body) => {
        const names = toolNames(body);
        expect(names).toEqual(expect.arrayContaining(["notes__echo", "notes__add_note"]));
        expect(names.filter((n) => /^(broken|theirs|inward)__/.test(n))).toEqual([]);
        return { toolCalls: [{ name: "notes__echo", input: { text: "hi" } }] };
      },
      (body) => {
        expect(lastResult(body)).toContain("echo: hi; secret ends 4321; provider key visible: no");
        return { toolCalls: [{ name: "notes__add_note", input: { text: "from the agent" } }] };
      },
      (body) => {
        expect(lastResult(body)).toBe("noted: from the agent");
        return { text: "Noted it." };
      },
    ]);
    const s = await member.start({
      worktreeId: wt.id,
      provider: "anthropic",
      model: "claude-sonnet-4-5",
      permissionMode: "ask",
      mcpServerIds: [notes.id, broken.id, theirs.id, inward.id],
      prompt: "Echo, then take a note.",
    });
    expect(s.mcpServerIds).toEqual([notes.id, broken.id, theirs.id, inward.id]);
    // echo is read-only and ran; add_note is not, so it waits for a person.
    const waiting = await sessionIs(
      member,
      s.id,
      (x) => x.status === "awaiting_permission",
      "add_note waits for approval",
      30_000,
    );
    const [req] = waiting.session.pending;
    expect(req).toMatchObject({ tool: "notes__add_note", summary: 'call add_note on the MCP server "notes"' });
    await member.decide(s.id, req!.requestId, "allow");
    const { task } = await taskEnded(member, s.id, lastTask(waiting).id, 30_000);
    expect(w.server.failures).toEqual([]);
    expect(task.status, task.error ?? "").toBe("completed");
    expect(readFileSync(join(wt.path!, "notes.txt"), "utf8")).toBe("from the agent\n");

    const msgs = await member.messages(s.id);
    const notices = noticesOf(msgs);
    expect(notices).toContainEqual(
      'error: MCP server "broken" is not available for this task: the command trellis-no-such-mcp-server was not found on this runner. The task goes on without its tools.',
    );
    expect(notices.find((n) => n.includes('"theirs"'))).toMatch(
      /Mia added it, not Owner, who owns that runner.*TRELLIS_MCP_BOARD_STDIO=1/,
    );
    expect(notices.find((n) => n.includes('"inward"'))).toMatch(
      /^error: MCP server "inward" is not available for this task: it points at localhost \((127\.0\.0\.1|::1)\), on the runner's own machine or network.*TRELLIS_MCP_BOARD_LOCAL=1/,
    );
    expect(textOf(msgs.at(-1)!)).toBe("Noted it.");
  });
});

/**
 * A small Streamable HTTP MCP server written with the SDK (stateless: a server and transport per
 * request), on loopback. It answers only a request with the Authorization it expects, and keeps
 * what each request brought, so the test sees the header arrive and the URL stay free of it.
 */
async function httpMcpServer(expected: string) {
  const seen: { url: string; headers: IncomingHttpHeaders }[] = [];
  const http = createServer(async (req, res) => {
    seen.push({ url: req.url ?? "", headers: req.headers });
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { "content-type": "application/json" }).end('{"error":"unauthorized"}');
      return;
    }
    const server = new SdkMcpServer({ name: "docs", version: "1.0.0" });
    server.registerTool(
      "lookup",
      {
        description: "Look a word up in the team's docs.",
        inputSchema: { word: z.string() },
        annotations: { readOnlyHint: true },
      },
      async ({ word }) => ({ content: [{ type: "text", text: `docs say: ${word} is fine` }] }),
    );
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on("close", () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res);
  });
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`,
    seen,
    close: () => new Promise<void>((r) => http.close(() => r())),
  };
}

describe("an HTTP MCP server attached to a session", () => {
  it("gets the header saved with it, sealed at the edge and opened only for the runner, never in the URL; its tool runs", async () => {
    const SECRET = "Bearer docs-http-secret-value-8642";
    const docs = await httpMcpServer(SECRET);
    try {
      const wt = await readyWorktree(w, "mcp-http");
      // The runner's owner adds it: a URL on the runner's own machine is reached for the owner only.
      const saved = await api<McpServer>(w.edge.url, `/api/boards/${w.s.boardId}/mcp-servers`, {
        token: owner.token,
        json: { transport: "http", name: "docs", url: docs.url, headers: { Authorization: SECRET } },
      });
      expect(JSON.stringify(saved)).not.toContain(SECRET);
      w.server.script("anthropic", [
        (body) => {
          expect(toolNames(body)).toContain("docs__lookup");
          return { toolCalls: [{ name: "docs__lookup", input: { word: "trellis" } }] };
        },
        (body) => {
          expect(lastResult(body)).toBe("docs say: trellis is fine");
          return { text: "The docs agree." };
        },
      ]);
      const s = await owner.start({
        worktreeId: wt.id,
        provider: "anthropic",
        model: "claude-sonnet-4-5",
        permissionMode: "ask",
        mcpServerIds: [saved.id],
        prompt: "Look it up.",
      });
      const { task } = await taskEnded(owner, s.id, lastTask(await owner.detail(s.id)).id, 30_000);
      expect(w.server.failures).toEqual([]);
      expect(task.status, task.error ?? "").toBe("completed");
      expect(noticesOf(await owner.messages(s.id))).toEqual([]);
      expect(docs.seen.length).toBeGreaterThan(0);
      for (const r of docs.seen) {
        expect(r.headers.authorization).toBe(SECRET);
        expect(r.url).not.toContain("secret");
      }
    } finally {
      await docs.close();
    }
  });
});
