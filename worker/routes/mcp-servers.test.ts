import { beforeAll, describe, expect, it } from "vitest";
import type { McpServer, Session, TaskContext } from "../../protocol/index.ts";
import { addMember, call, expectError, json, registerUsers, type TestUser } from "../../test/helpers.ts";
import { boardWithWorktree } from "../mcp/mcp-testkit.ts";
import { eventually, INFO, openLink, post, registerRunner, runnerRow, takeSessionTask } from "./runner-testkit.ts";

/**
 * MCP server configs on a board: secrets sealed and never shown again, who may add them, a
 * session's pick, and what only the runner holding a task's lease gets (the secrets, and only
 * the stdio servers its owner agreed to run).
 */

let stage: Awaited<ReturnType<typeof boardWithWorktree>>;
let viewer: TestUser;
let stranger: TestUser;
const ENV_SECRET = "ghp_env-secret-value-1234";
const HEADER_SECRET = "Bearer header-secret-value-5678";

const servers = (boardId: string) => `/api/boards/${boardId}/mcp-servers`;
const add = (token: string, body: unknown) => call(servers(stage.boardId), { method: "POST", token, json: body });

let ownersStdio: McpServer;
let membersHttp: McpServer;
let membersStdio: McpServer;

beforeAll(async () => {
  stage = await boardWithWorktree();
  [viewer, stranger] = await registerUsers("Viewer", "Stranger");
  await addMember(stage.owner.token, stage.boardId, viewer, "viewer");
  ownersStdio = await json<McpServer>(
    add(stage.owner.token, {
      transport: "stdio",
      name: "notes",
      command: "node",
      args: ["notes.js"],
      env: { NOTES_TOKEN: ENV_SECRET, SHORT: "abc" },
    }),
  );
  membersHttp = await json<McpServer>(
    add(stage.member.token, {
      transport: "http",
      name: "docs",
      url: "https://mcp.example.com/mcp",
      headers: { Authorization: HEADER_SECRET },
    }),
  );
  membersStdio = await json<McpServer>(
    add(stage.member.token, { transport: "stdio", name: "members-tool", command: "members-tool" }),
  );
});

describe("MCP server configs", () => {
  it("show the names and last four of their secrets, never the values, to anyone", async () => {
    expect(ownersStdio).toMatchObject({
      name: "notes",
      transport: "stdio",
      command: "node",
      args: ["notes.js"],
      url: null,
      env: [
        { name: "NOTES_TOKEN", last4: "1234" },
        { name: "SHORT", last4: null },
      ],
      createdBy: stage.owner.user.id,
      createdByName: "Owner",
    });
    expect(membersHttp).toMatchObject({ transport: "http", headers: [{ name: "Authorization", last4: "5678" }] });
    for (const token of [stage.owner.token, stage.member.token, viewer.token]) {
      const res = await call(servers(stage.boardId), { token });
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).not.toContain(ENV_SECRET);
      expect(text).not.toContain(HEADER_SECRET);
      expect((JSON.parse(text) as { items: McpServer[] }).items.map((s) => s.name)).toEqual([
        "docs",
        "members-tool",
        "notes",
      ]);
    }
    expect(JSON.stringify(ownersStdio)).not.toContain(ENV_SECRET);
  });

  it("viewers may not add or remove; non-members get 404; bad bodies and names are refused in words", async () => {
    const body = { transport: "http", name: "x", url: "https://x.example/mcp" };
    await expectError(add(viewer.token, body), 403, "insufficient_role");
    await expectError(
      call(`${servers(stage.boardId)}/${ownersStdio.id}`, { method: "DELETE", token: viewer.token }),
      403,
      "insufficient_role",
    );
    await expectError(call(servers(stage.boardId), { token: stranger.token }), 404, "not_found");
    await expectError(add(stranger.token, body), 404, "not_found");
    await expectError(add(stage.member.token, { ...body, name: "notes" }), 409, "mcp_server_exists");
    await expectError(add(stage.member.token, { ...body, name: "trellis" }), 400);
    const noCommand = await expectError(add(stage.member.token, { transport: "stdio", name: "y" }), 400);
    expect(noCommand.message).toMatch(/command/);
    await expectError(add(stage.member.token, { ...body, name: "has space" }), 400);
    await expectError(add(stage.member.token, { ...body, url: "file:///etc/passwd" }), 400);
  });

  it("a session picks servers; only the runner holding the task's lease gets them, secrets open, stdio only with its owner's consent", async () => {
    await expectError(
      call(`/api/boards/${stage.boardId}/sessions`, {
        method: "POST",
        token: stage.member.token,
        json: {
          worktreeId: stage.worktree.id,
          provider: "anthropic",
          model: "claude-sonnet-4-5",
          mcpServerIds: ["no-such-server"],
        },
      }),
      400,
    );
    const s = await json<Session>(
      call(`/api/boards/${stage.boardId}/sessions`, {
        method: "POST",
        token: stage.member.token,
        json: {
          worktreeId: stage.worktree.id,
          provider: "anthropic",
          model: "claude-sonnet-4-5",
          mcpServerIds: [ownersStdio.id, membersHttp.id, membersStdio.id],
          prompt: "Use the tools.",
        },
      }),
    );
    expect(s.mcpServerIds).toEqual([ownersStdio.id, membersHttp.id, membersStdio.id]);

    const task = await takeSessionTask(stage.runner.credential);
    const ctx: TaskContext = task.ctx;
    expect(ctx.mcpServers).toEqual([
      {
        id: ownersStdio.id,
        name: "notes",
        transport: "stdio",
        command: "node",
        args: ["notes.js"],
        env: { NOTES_TOKEN: ENV_SECRET, SHORT: "abc" },
      },
      {
        id: membersHttp.id,
        name: "docs",
        transport: "http",
        url: "https://mcp.example.com/mcp",
        headers: { Authorization: HEADER_SECRET },
        // A member added it: the runner will not let it reach into its own machine or networks.
        byRunnerOwner: false,
      },
    ]);
    // The member's stdio server would run a command on the owner's machine: refused, in words.
    expect(ctx.mcpRefused).toEqual([
      { id: membersStdio.id, name: "members-tool", reason: expect.stringContaining("TRELLIS_MCP_BOARD_STDIO=1") },
    ]);
    expect(ctx.mcpRefused[0]!.reason).toMatch(/Member added it, not Owner/);

    // Another runner, or a stale lease, gets nothing.
    const other = await registerRunner(stage.member.token, "member-laptop");
    const jobPath = `/runner/jobs/${task.claim.job.id}/session`;
    await expectError(post(other.credential, jobPath, { leaseToken: task.claim.leaseToken }), 404);
    await expectError(post(stage.runner.credential, jobPath, { leaseToken: "not-the-lease" }), 404);

    // The agent's own session token may read the configs, never add or remove one.
    const agent = ctx.mcp.token;
    expect((await json<{ items: McpServer[] }>(call(servers(stage.boardId), { token: agent }))).items).toHaveLength(3);
    await expectError(
      add(agent, { transport: "stdio", name: "sneaky", command: "sh", args: ["-c", "id"] }),
      403,
      "agents_cannot_add_servers",
    );
    await expectError(
      call(`${servers(stage.boardId)}/${ownersStdio.id}`, { method: "DELETE", token: agent }),
      403,
      "agents_cannot_add_servers",
    );
    await task.complete({ status: "succeeded", result: { finalText: "done" } });

    // The owner lets the runner run the board's stdio servers; a removed server is told as such.
    const link = await openLink(stage.runner.credential, { ...INFO, mcpBoardStdio: true });
    await eventually(async () => (await runnerRow(stage.owner.token, stage.runner.id))?.info.mcpBoardStdio === true);
    const patched = await json<Session>(
      call(`/api/boards/${stage.boardId}/sessions/${s.id}`, {
        method: "PATCH",
        token: stage.member.token,
        json: { mcpServerIds: [membersStdio.id, membersHttp.id] },
      }),
    );
    expect(patched.mcpServerIds).toEqual([membersStdio.id, membersHttp.id]);
    expect(
      (await call(`${servers(stage.boardId)}/${membersHttp.id}`, { method: "DELETE", token: stage.member.token }))
        .status,
    ).toBe(204);
    await call(`/api/boards/${stage.boardId}/sessions/${s.id}/prompts`, {
      method: "POST",
      token: stage.member.token,
      json: { text: "Again." },
    });
    const next = await takeSessionTask(stage.runner.credential);
    expect(next.ctx.mcpServers.map((x) => x.name)).toEqual(["members-tool"]);
    expect(next.ctx.mcpRefused).toEqual([
      { id: membersHttp.id, name: membersHttp.id, reason: "it was removed from the board" },
    ]);
    await next.complete({ status: "succeeded", result: { finalText: "done" } });
    link.ws.close();
  });
});
