import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import type {
  Board,
  JobClaim,
  McpServer,
  Message,
  Session,
  SessionDetail,
  Task,
  TaskContext,
  Worktree,
  Zone,
} from "../../protocol/index.ts";
import { addMember, call, joinRoom, json, registerUsers, type TestUser } from "../../test/helpers.ts";
import { depsFor } from "../context.ts";
import { claim, post, testEnv } from "../routes/runner-testkit.ts";
import { authenticateUser } from "../services/credentials.ts";
import {
  boardWithWorktree,
  callTool,
  MCP_URL,
  type McpClient,
  mcpClient,
  ok,
  rawMcp,
  readyWorktree,
  workerFetch,
} from "./mcp-testkit.ts";
import { serveMcp, TOOL_NAMES } from "./server.ts";
import { READ, tool } from "./tools/define.ts";

const ISSUE_TOOLS = [
  "trellis_sessions_list",
  "trellis_sessions_get",
  "trellis_sessions_get_current",
  "trellis_tasks_list",
  "trellis_tasks_get",
  "trellis_messages_list",
  "trellis_worktrees_list",
  "trellis_worktrees_get",
  "trellis_boards_list",
  "trellis_boards_get",
  "trellis_zones_list",
  "trellis_runners_list",
  "trellis_sessions_create",
  "trellis_sessions_prompt",
  "trellis_sessions_spawn",
  "trellis_sessions_fork",
  "trellis_sessions_stop",
  "trellis_worktrees_create",
  "trellis_worktrees_move",
  "trellis_boards_create",
  "trellis_zones_create",
  // Not in the issue's list: how a client finds the ids trellis_sessions_create's mcpServerIds takes.
  "trellis_mcp_servers_list",
];

let stage: Awaited<ReturnType<typeof boardWithWorktree>>;
/** A card for the zone trigger's test, ready before any session queues a task. */
let dropped: Worktree;
let viewer: TestUser;
let stranger: TestUser;

beforeAll(async () => {
  stage = await boardWithWorktree();
  dropped = await readyWorktree(stage, "drop-me");
  [viewer, stranger] = await registerUsers("Viewer", "Stranger");
  await addMember(stage.owner.token, stage.boardId, viewer, "viewer");
});

type Page<T> = { items: T[]; nextCursor: string | null };

/** Every item of a list tool, a page of `limit` at a time: the pages, in order. */
async function allPages<T>(m: McpClient, name: string, args: object, limit: number): Promise<T[][]> {
  const pages: T[][] = [];
  let cursor: string | null = null;
  do {
    const page: Page<T> = await ok<Page<T>>(m, name, { ...args, limit, ...(cursor ? { cursor } : {}) });
    pages.push(page.items);
    cursor = page.nextCursor;
  } while (cursor && pages.length < 50);
  return pages;
}

describe("the MCP endpoint", () => {
  it("initializes with the official client and lists every tool with its schemas and hints", async () => {
    const client = await mcpClient(stage.member.token);
    expect(client.getServerVersion()).toMatchObject({ name: "trellis" });
    expect(client.getInstructions()).toMatch(/trellis_sessions_get_current/);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([...ISSUE_TOOLS].sort());
    expect(TOOL_NAMES).toHaveLength(ISSUE_TOOLS.length);
    for (const t of tools) {
      expect(t.description!.length, t.name).toBeGreaterThan(40);
      expect(t.inputSchema.type, t.name).toBe("object");
      expect(t.outputSchema?.type, t.name).toBe("object");
      expect(typeof t.annotations?.readOnlyHint, t.name).toBe("boolean");
      for (const [key, prop] of Object.entries(t.inputSchema.properties ?? {})) {
        expect(key, t.name).toMatch(/^[a-z][a-zA-Z]*$/);
        // Every argument says what it is for: a model reads nothing else.
        expect((prop as { description?: string }).description, `${t.name}.${key}`).toBeTruthy();
      }
    }
    const byName = new Map(tools.map((t) => [t.name, t]));
    expect(byName.get("trellis_sessions_list")!.annotations).toMatchObject({ readOnlyHint: true });
    expect(byName.get("trellis_sessions_stop")!.annotations).toMatchObject({
      readOnlyHint: false,
      destructiveHint: true,
    });
    expect(byName.get("trellis_sessions_list")!.inputSchema.required).toEqual(["boardId"]);
    // A move can start an agent (a zone's trigger): the description says so, and how often.
    expect(byName.get("trellis_worktrees_move")!.description).toMatch(/trigger.*fires it once/);
    expect(byName.get("trellis_worktrees_move")!.description).not.toMatch(/does not start/);
    // An MCP client is pointed at tools, never at REST routes it may have no token for.
    expect(JSON.stringify(tools)).not.toMatch(/\/api\//);
    expect(Object.keys(byName.get("trellis_sessions_list")!.inputSchema.properties!)).toEqual(
      expect.arrayContaining(["boardId", "worktreeId", "status", "provider", "cursor", "limit"]),
    );
    await client.close();
  });
});

/** Hand the next queued session task to "the runner" (this test) and read its context; other jobs stay claimed. */
async function takeTask(credential: string) {
  let c: JobClaim = await claim(credential);
  while (c.job.type !== "session.task") c = await claim(credential);
  await post(credential, `/runner/jobs/${c.job.id}/start`, { leaseToken: c.leaseToken });
  const ctx = await json<TaskContext>(
    post(credential, `/runner/jobs/${c.job.id}/session`, { leaseToken: c.leaseToken }),
  );
  let seq = 0;
  /** The agent's turns, as the runner reports them. */
  const say = async (...texts: string[]) => {
    const res = await post(credential, `/runner/jobs/${c.job.id}/events`, {
      leaseToken: c.leaseToken,
      events: texts.map((text) => ({
        seq: ++seq,
        kind: "message",
        data: { id: `turn-${seq}`, role: "assistant", content: [{ type: "text", text }] },
      })),
    });
    expect(res.status).toBe(200);
  };
  return { claim: c, ctx, say };
}

const challengeOf = (res: Response) => res.headers.get("www-authenticate") ?? "";
const INIT = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "0" } },
});

describe("tools, each on its happy path", () => {
  it("boards, zones, runners and worktrees", async () => {
    const m = await mcpClient(stage.member.token);
    const boards = await ok<{ items: Board[]; nextCursor: string | null }>(m, "trellis_boards_list");
    expect(boards.items.map((b) => b.id)).toContain(stage.boardId);
    expect(await ok<Board>(m, "trellis_boards_get", { boardId: stage.boardId })).toMatchObject({ role: "member" });
    const made = await ok<Board>(m, "trellis_boards_create", { name: "Made over MCP" });
    expect(made).toMatchObject({ name: "Made over MCP", role: "owner" });
    const firstPage = await ok<{ items: Board[]; nextCursor: string }>(m, "trellis_boards_list", { limit: 1 });
    expect(firstPage.items).toHaveLength(1);
    const second = await ok<{ items: Board[] }>(m, "trellis_boards_list", { limit: 1, cursor: firstPage.nextCursor });
    expect(second.items[0]!.id).not.toBe(firstPage.items[0]!.id);

    const zone = await ok<Zone>(m, "trellis_zones_create", { boardId: stage.boardId, name: "Review", x: 1000, y: 500 });
    expect(zone).toMatchObject({ name: "Review", width: 480, height: 320, color: "#7c3aed" });
    const zones = await ok<{ items: Zone[] }>(m, "trellis_zones_list", { boardId: stage.boardId });
    expect(zones.items.map((z) => z.id)).toContain(zone.id);

    const runners = await ok<{ items: { id: string }[] }>(m, "trellis_runners_list", { boardId: stage.boardId });
    expect(runners.items.map((r) => r.id)).toEqual([stage.runner.id]);
    const mine = await ok<{ items: { id: string }[] }>(m, "trellis_runners_list");
    expect(mine.items.map((r) => r.id)).toContain(stage.runner.id);

    const list = await ok<{ items: { id: string }[] }>(m, "trellis_worktrees_list", {
      boardId: stage.boardId,
      status: "ready",
    });
    expect(list.items.map((w) => w.id)).toEqual([stage.worktree.id, dropped.id]);
    expect(
      await ok(m, "trellis_worktrees_get", { boardId: stage.boardId, worktreeId: stage.worktree.id }),
    ).toMatchObject({ name: "feature", status: "ready" });
    const moved = await ok(m, "trellis_worktrees_move", {
      boardId: stage.boardId,
      worktreeId: stage.worktree.id,
      zoneId: zone.id,
      x: 20,
      y: 40,
    });
    expect(moved).toMatchObject({ zoneId: zone.id, x: 1020, y: 540 });
    const inZone = await ok<{ items: { id: string }[] }>(m, "trellis_worktrees_list", {
      boardId: stage.boardId,
      zoneId: zone.id,
    });
    expect(inZone.items.map((w) => w.id)).toEqual([stage.worktree.id]);
    const created = await ok(m, "trellis_worktrees_create", {
      boardId: stage.boardId,
      repoId: stage.repo.id,
      name: "from-mcp",
      branch: "from-mcp",
    });
    expect(created).toMatchObject({ name: "from-mcp", status: "creating", createdBy: stage.member.id });
    await m.close();
  });

  it("sessions: create, list with filters, get, tasks, messages, prompt, stop, fork, spawn", async () => {
    const m = await mcpClient(stage.member.token);
    const s = await ok<Session>(m, "trellis_sessions_create", {
      boardId: stage.boardId,
      worktreeId: stage.worktree.id,
      provider: "anthropic",
      model: "claude-sonnet-4-5",
      title: "Over MCP",
      prompt: "Say hello",
    });
    expect(s).toMatchObject({ title: "Over MCP", status: "queued", permissionMode: "ask", createdBy: stage.member.id });

    const page = await ok<{ items: Session[] }>(m, "trellis_sessions_list", {
      boardId: stage.boardId,
      worktreeId: stage.worktree.id,
      provider: "anthropic",
      status: "queued",
    });
    expect(page.items.map((x) => x.id)).toContain(s.id);
    const none = await ok<{ items: Session[] }>(m, "trellis_sessions_list", {
      boardId: stage.boardId,
      provider: "openai",
    });
    expect(none.items).toHaveLength(0);

    const detail = await ok<SessionDetail>(m, "trellis_sessions_get", { boardId: stage.boardId, sessionId: s.id });
    expect(detail.session.id).toBe(s.id);
    expect(detail.tasks).toHaveLength(1);
    const tasks = await ok<{ items: Task[] }>(m, "trellis_tasks_list", { boardId: stage.boardId, sessionId: s.id });
    expect(tasks.items.map((t) => t.prompt)).toEqual(["Say hello"]);
    expect(
      await ok<Task>(m, "trellis_tasks_get", { boardId: stage.boardId, taskId: tasks.items[0]!.id }),
    ).toMatchObject({
      prompt: "Say hello",
      authorId: stage.member.id,
    });
    const msgs = await ok<{ items: { id: string; role: string }[]; nextCursor: string | null }>(
      m,
      "trellis_messages_list",
      { boardId: stage.boardId, sessionId: s.id },
    );
    expect(msgs.items.map((x) => x.role)).toEqual(["user"]);
    expect(msgs.nextCursor).toBeNull();

    const queued = await ok<Task>(m, "trellis_sessions_prompt", {
      boardId: stage.boardId,
      sessionId: s.id,
      text: "Next",
    });
    expect(queued).toMatchObject({ prompt: "Next", status: "queued" });
    const stopped = await ok<Session>(m, "trellis_sessions_stop", { boardId: stage.boardId, sessionId: s.id });
    expect(stopped.id).toBe(s.id);

    const fork = await ok<Session>(m, "trellis_sessions_fork", {
      boardId: stage.boardId,
      sessionId: s.id,
      messageId: msgs.items[0]!.id,
    });
    expect(fork).toMatchObject({ parentId: s.id, origin: "fork", messageCount: 1 });
    const child = await ok<Session>(m, "trellis_sessions_spawn", {
      boardId: stage.boardId,
      sessionId: s.id,
      prompt: "Check the tests",
    });
    expect(child).toMatchObject({ parentId: s.id, origin: "spawn" });

    // Beyond the first page: every session once, in order, a page of one at a time.
    const whole = await ok<Page<Session>>(m, "trellis_sessions_list", { boardId: stage.boardId, limit: 200 });
    expect(whole.items.length).toBeGreaterThanOrEqual(3);
    const pages = await allPages<Session>(m, "trellis_sessions_list", { boardId: stage.boardId }, 1);
    expect(pages.every((p) => p.length === 1)).toBe(true);
    expect(pages.flat().map((x) => x.id)).toEqual(whole.items.map((x) => x.id));
    await m.close();
  });

  it("a move into a zone with a new_session trigger starts one session with the rendered prompt; a move within it, none", async () => {
    const m = await mcpClient(stage.member.token);
    const board = await ok<Board>(m, "trellis_boards_get", { boardId: stage.boardId });
    const zone = await ok<Zone>(m, "trellis_zones_create", {
      boardId: stage.boardId,
      name: "Triage",
      x: 5000,
      y: 0,
      promptTemplate: "Triage {{worktree.name}} on {{board.name}} for {{user.name}} in {{zone.name}}",
      trigger: { behaviour: "new_session", provider: "anthropic", model: "claude-sonnet-4-5" },
    });
    expect(zone.trigger).toEqual({
      behaviour: "new_session",
      provider: "anthropic",
      model: "claude-sonnet-4-5",
      permissionMode: "ask",
      runtime: "builtin",
    });
    const sessionsOfCard = async () =>
      (await ok<Page<Session>>(m, "trellis_sessions_list", { boardId: stage.boardId, worktreeId: dropped.id })).items;
    expect(await sessionsOfCard()).toEqual([]);

    const to = { boardId: stage.boardId, worktreeId: dropped.id, zoneId: zone.id };
    expect(await ok<Worktree>(m, "trellis_worktrees_move", { ...to, x: 10, y: 10 })).toMatchObject({
      zoneId: zone.id,
      x: 5010,
      y: 10,
    });
    const started = await sessionsOfCard();
    expect(started).toHaveLength(1);
    expect(started[0]).toMatchObject({
      zoneId: zone.id,
      provider: "anthropic",
      model: "claude-sonnet-4-5",
      createdBy: stage.member.id,
    });
    const prompts = async () =>
      (await ok<Page<Task>>(m, "trellis_tasks_list", { boardId: stage.boardId, sessionId: started[0]!.id })).items.map(
        (t) => t.prompt,
      );
    expect(await prompts()).toEqual([`Triage drop-me on ${board.name} for Member in Triage`]);

    // Within the zone it is in: the card moves, nothing fires (issue 9: once for a move over MCP too).
    expect(await ok<Worktree>(m, "trellis_worktrees_move", { ...to, x: 200, y: 100 })).toMatchObject({ x: 5200 });
    expect((await sessionsOfCard()).map((x) => x.id)).toEqual([started[0]!.id]);
    expect(await prompts()).toHaveLength(1);
    await m.close();
  });

  it("trellis_mcp_servers_list finds the ids sessions take, and never a secret", async () => {
    const secret = "Bearer mcp-list-secret-value-4321";
    const added: McpServer[] = [];
    for (const name of ["alpha", "beta", "gamma"]) {
      added.push(
        await json<McpServer>(
          call(`/api/boards/${stage.boardId}/mcp-servers`, {
            method: "POST",
            token: stage.member.token,
            json: {
              transport: "http",
              name,
              url: `https://${name}.example.com/mcp`,
              headers: { Authorization: secret },
            },
          }),
        ),
      );
    }
    const v = await mcpClient(viewer.token);
    const listed = await callTool<Page<McpServer>>(v, "trellis_mcp_servers_list", { boardId: stage.boardId });
    expect(listed.isError).toBeFalsy();
    expect(listed.data.items.map((x) => x.id)).toEqual(added.map((x) => x.id));
    expect(listed.data.items[0]).toMatchObject({
      name: "alpha",
      transport: "http",
      url: "https://alpha.example.com/mcp",
      headers: [{ name: "Authorization", last4: "4321" }],
    });
    expect(JSON.stringify(listed)).not.toContain(secret);
    const pages = await allPages<McpServer>(v, "trellis_mcp_servers_list", { boardId: stage.boardId }, 2);
    expect(pages.map((p) => p.map((x) => x.name))).toEqual([["alpha", "beta"], ["gamma"]]);
    const s = await mcpClient(stranger.token);
    expect((await callTool(s, "trellis_mcp_servers_list", { boardId: stage.boardId })).text).toMatch(
      /^not_found: boardId: Board not found/,
    );
    await Promise.all([v.close(), s.close()]);
  });
});

describe("refusals come back as tool errors that say what to do", () => {
  it("a viewer reads but cannot write", async () => {
    const v = await mcpClient(viewer.token);
    expect((await callTool(v, "trellis_zones_list", { boardId: stage.boardId })).isError).toBeFalsy();
    const r = await callTool(v, "trellis_zones_create", { boardId: stage.boardId, name: "Nope" });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/^insufficient_role: Viewers can look but not change this board/);
    const s = await callTool(v, "trellis_sessions_create", {
      boardId: stage.boardId,
      worktreeId: stage.worktree.id,
      provider: "anthropic",
      model: "claude-sonnet-4-5",
    });
    expect(s.text).toMatch(/^insufficient_role:/);
    await v.close();
  });

  it("bad arguments are named, with what they must be", async () => {
    const m = await mcpClient(stage.member.token);
    const empty = await callTool(m, "trellis_zones_create", { boardId: stage.boardId, name: "  " });
    expect(empty.isError).toBe(true);
    expect(empty.text).toMatch(/^bad_request: Invalid arguments: name: must not be empty/);
    const color = await callTool(m, "trellis_zones_create", { boardId: stage.boardId, name: "x", color: "red" });
    expect(color.text).toMatch(/color: must be a hex color/);
    const missing = await callTool(m, "trellis_sessions_get", {});
    expect(missing.text).toMatch(/boardId/);
    expect(missing.text).toMatch(/sessionId/);
    const unknown = await callTool(m, "trellis_sessions_get", { boardId: stage.boardId, sessionId: "nope" });
    expect(unknown.text).toMatch(/^not_found: sessionId: Session not found.*trellis_sessions_list/);
    const mode = await callTool(m, "trellis_sessions_create", {
      boardId: stage.boardId,
      worktreeId: stage.worktree.id,
      provider: "anthropic",
      model: "m",
      permissionMode: "yolo",
    });
    expect(mode.text).toMatch(/permissionMode/);
    const outside = await callTool(m, "trellis_worktrees_move", {
      boardId: stage.boardId,
      worktreeId: stage.worktree.id,
      zoneId: (await ok<Zone>(m, "trellis_zones_create", { boardId: stage.boardId, name: "Small", width: 100 })).id,
      x: 500,
      y: 0,
    });
    expect(outside.text).toMatch(/^bad_request: x: must be between 0 and 100/);
    await m.close();
  });

  it("a stranger is told the board does not exist, naming boardId", async () => {
    const s = await mcpClient(stranger.token);
    const r = await callTool(s, "trellis_boards_get", { boardId: stage.boardId });
    expect(r.text).toMatch(/^not_found: boardId: Board not found.*trellis_boards_list/);
    await s.close();
  });

  it("an unknown tool is a JSON-RPC error, not a crash", async () => {
    const m = await mcpClient(stage.member.token);
    await expect(m.callTool({ name: "trellis_nothing", arguments: {} })).rejects.toThrow(/Unknown tool/);
    await m.close();
  });

  it("trellis_sessions_get_current needs a session token", async () => {
    const m = await mcpClient(stage.member.token);
    const r = await callTool(m, "trellis_sessions_get_current");
    expect(r.text).toMatch(/^wrong_credential: .*trellis_sessions_get/);
    await m.close();
  });
});

describe("an agent's session token", () => {
  let session: Session;
  let token: string;
  let task: Awaited<ReturnType<typeof takeTask>>;

  beforeAll(async () => {
    const m = await mcpClient(stage.member.token);
    session = await ok<Session>(m, "trellis_sessions_create", {
      boardId: stage.boardId,
      worktreeId: stage.worktree.id,
      provider: "anthropic",
      model: "claude-sonnet-4-5",
      prompt: "Work",
    });
    await m.close();
    // Sessions above left tasks queued on the runner; take tasks until this session's.
    for (;;) {
      const t = await takeTask(stage.runner.credential);
      if (t.ctx.session.id === session.id) {
        task = t;
        expect(t.ctx.mcp.url).toBe(MCP_URL.href);
        expect(t.ctx.mcp.token).toMatch(/^trl_ses_/);
        expect(t.ctx.mcp.expiresAt).toBeGreaterThan(Date.now() + 23 * 3600_000);
        token = t.ctx.mcp.token;
        break;
      }
    }
  });

  it("is stored only as a hash, for the session's user", async () => {
    const rows = await testEnv.DB.prepare("SELECT * FROM api_tokens WHERE session_id = ?").bind(session.id).all();
    expect(rows.results).toHaveLength(1);
    expect(JSON.stringify(rows.results)).not.toContain(token);
    expect(rows.results[0]).toMatchObject({ scope: "session", user_id: stage.member.id });
  });

  it("knows its own session, sees its board only, and a spawn reaches every open board", async () => {
    const agent = await mcpClient(token);
    const me = await ok<SessionDetail>(agent, "trellis_sessions_get_current");
    expect(me.session).toMatchObject({ id: session.id, boardId: stage.boardId, worktreeId: stage.worktree.id });
    const boards = await ok<{ items: Board[] }>(agent, "trellis_boards_list");
    expect(boards.items.map((b) => b.id)).toEqual([stage.boardId]);
    const other = await json<Board>(
      call("/api/boards", { method: "POST", token: stage.member.token, json: { name: "Elsewhere" } }),
    );
    expect((await callTool(agent, "trellis_boards_get", { boardId: other.id })).text).toMatch(/^not_found: boardId/);
    expect((await callTool(agent, "trellis_boards_create", { name: "Mine" })).text).toMatch(/^wrong_credential:/);
    const listed = await ok<{ items: Session[] }>(agent, "trellis_sessions_list", { boardId: stage.boardId });
    expect(listed.items.map((s) => s.id)).toContain(session.id);

    const room = await joinRoom(stage.boardId, { token: viewer.token });
    const child = await ok<Session>(agent, "trellis_sessions_spawn", {
      boardId: stage.boardId,
      sessionId: session.id,
      prompt: "Write the docs",
    });
    const seen = await room.inbox.next(
      "entity",
      (e) => e.entity === "session" && e.op === "created" && e.id === child.id,
    );
    expect(seen).toMatchObject({ actorId: stage.member.id, row: { parentId: session.id, origin: "spawn" } });
    room.ws.close();
    await agent.close();
  });

  it("reads its conversation beyond the first page, in order, each message once", async () => {
    await task.say("One.", "Two.", "Three.", "Four.");
    const agent = await mcpClient(token);
    const args = { boardId: stage.boardId, sessionId: session.id };
    const pages = await allPages<Message>(agent, "trellis_messages_list", args, 2);
    expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
    const texts = pages.flat().map((msg) => msg.content.map((b) => (b.type === "text" ? b.text : "")).join(""));
    expect(texts).toEqual(["Work", "One.", "Two.", "Three.", "Four."]);
    const bad = await callTool(agent, "trellis_messages_list", { ...args, cursor: "not-a-cursor" });
    expect(bad.text).toMatch(/^bad_request: cursor:/);
    await agent.close();
  });

  it("expires: 401 with the protected-resource metadata named", async () => {
    const { sessionId } = { sessionId: session.id };
    const res = await rawMcp(INIT, { authorization: `Bearer ${token}` });
    expect(res.status).toBe(200);
    await res.body?.cancel();
    await testEnv.DB.prepare("UPDATE api_tokens SET expires_at = ? WHERE session_id = ?")
      .bind(Date.now() - 1, sessionId)
      .run();
    const expired = await rawMcp(INIT, { authorization: `Bearer ${token}` });
    expect(expired.status).toBe(401);
    expect(challengeOf(expired)).toMatch(
      /^Bearer .*resource_metadata="http:\/\/localhost\/\.well-known\/oauth-protected-resource\/mcp"/,
    );
    expect(challengeOf(expired)).toMatch(/error="invalid_token"/);
    await testEnv.DB.prepare("UPDATE api_tokens SET expires_at = ? WHERE session_id = ?")
      .bind(Date.now() + 60_000, sessionId)
      .run();
  });

  it("is revoked when its session is deleted", async () => {
    const before = await rawMcp(INIT, { authorization: `Bearer ${token}` });
    expect(before.status).toBe(200);
    await before.body?.cancel();
    const del = await call(`/api/boards/${stage.boardId}/sessions/${session.id}`, {
      method: "DELETE",
      token: stage.member.token,
    });
    expect(del.status).toBe(204);
    const after = await rawMcp(INIT, { authorization: `Bearer ${token}` });
    expect(after.status).toBe(401);
    const row = await testEnv.DB.prepare("SELECT revoked_at FROM api_tokens WHERE session_id = ?")
      .bind(session.id)
      .first<{ revoked_at: number | null }>();
    expect(row?.revoked_at).toBeGreaterThan(0);
  });
});

describe("a long tool call", () => {
  it("keeps its stream alive with SSE comments while it runs, then answers on the same stream", async () => {
    let release = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    const hold = tool({
      name: "trellis_test_hold",
      title: "Hold",
      description: "A test's tool that answers only when the test lets it.",
      input: z.object({}),
      output: z.object({ done: z.boolean() }),
      annotations: READ,
      run: async () => {
        await held;
        return { done: true };
      },
    });
    const actor = await authenticateUser(depsFor(testEnv), stage.member.token);
    const res = await serveMcp(
      new Request(MCP_URL, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "mcp-protocol-version": "2025-11-25",
        },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 7,
          method: "tools/call",
          params: { name: hold.name, arguments: {} },
        }),
      }),
      testEnv,
      actor!,
      { keepAliveMs: 5, tools: [hold] },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    const readUntil = async (what: string) => {
      while (!seen.includes(what)) {
        const { value, done } = await reader.read();
        if (done) break;
        seen += value;
      }
    };
    await readUntil(": keepalive\n\n");
    expect(seen).toContain(": keepalive\n\n");
    expect(seen).not.toContain('"result"');
    release();
    await readUntil('"id":7');
    expect(seen).toMatch(/"structuredContent":\{"done":true\}/);
    await reader.cancel();
  });
});

describe("credentials and requests at the door", () => {
  it("a personal API token works as a Bearer header, and not once revoked", async () => {
    const made = await json<{ id: string; token: string }>(
      call("/api/tokens", { method: "POST", token: stage.owner.token, json: { name: "script" } }),
    );
    const c = await mcpClient(made.token);
    expect((await c.listTools()).tools.length).toBe(ISSUE_TOOLS.length);
    await c.close();
    await call(`/api/tokens/${made.id}`, { method: "DELETE", token: stage.owner.token });
    const res = await rawMcp(INIT, { authorization: `Bearer ${made.token}` });
    expect(res.status).toBe(401);
    expect(challengeOf(res)).toMatch(/resource_metadata=/);
    await expect(mcpClient(made.token)).rejects.toThrow();
  });

  it("no token: 401 pointing at the metadata; a runner credential is the wrong kind", async () => {
    const none = await rawMcp(INIT, {});
    expect(none.status).toBe(401);
    expect(challengeOf(none)).toMatch(
      /^Bearer .*resource_metadata="http:\/\/localhost\/\.well-known\/oauth-protected-resource\/mcp"/,
    );
    const runner = await rawMcp(INIT, { authorization: `Bearer ${stage.runner.credential}` });
    expect(runner.status).toBe(401);
  });

  it("a foreign Origin is refused; our own origin and none are fine", async () => {
    const auth = { authorization: `Bearer ${stage.member.token}` };
    const foreign = await rawMcp(INIT, { ...auth, origin: "https://evil.example" });
    expect(foreign.status).toBe(403);
    expect(await foreign.json()).toMatchObject({ jsonrpc: "2.0", error: { code: -32000 } });
    const own = await rawMcp(INIT, { ...auth, origin: "http://localhost" });
    expect(own.status).toBe(200);
    await own.body?.cancel();
    await expect(mcpClient(stage.member.token, { origin: "http://attacker.localhost:8787" })).rejects.toThrow();
  });

  it("bad JSON-RPC and a bad protocol version are JSON-RPC errors, never a 500", async () => {
    const auth = { authorization: `Bearer ${stage.member.token}` };
    const garbage = await rawMcp("{not json", auth);
    expect(garbage.status).toBe(400);
    expect(await garbage.json()).toMatchObject({ jsonrpc: "2.0", error: { code: -32700 } });
    const shape = await rawMcp(JSON.stringify({ hello: "world" }), auth);
    expect(shape.status).toBe(400);
    expect(await shape.json()).toMatchObject({ jsonrpc: "2.0", error: {} });
    const version = await rawMcp(JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }), {
      ...auth,
      "mcp-protocol-version": "1999-01-01",
    });
    expect(version.status).toBe(400);
    expect(await version.json()).toMatchObject({
      jsonrpc: "2.0",
      error: { message: expect.stringMatching(/protocol version/i) },
    });
    const get = await workerFetch(MCP_URL, { headers: { ...auth, accept: "text/event-stream" } });
    expect(get.status).toBe(405);
    await get.body?.cancel();
  });
});
