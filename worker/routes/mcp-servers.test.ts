import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { McpServer, Runner, Session, TaskContext } from "../../protocol/index.ts";
import { addMember, call, expectError, joinRoom, json, registerUsers, type TestUser } from "../../test/helpers.ts";
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

const sessions = () => `/api/boards/${stage.boardId}/sessions`;
const startWith = (mcpServerIds: string[], prompt: string) =>
  json<Session>(
    call(sessions(), {
      method: "POST",
      token: stage.member.token,
      json: { worktreeId: stage.worktree.id, provider: "anthropic", model: "claude-sonnet-4-5", mcpServerIds, prompt },
    }),
  );
const promptAgain = (sessionId: string) =>
  call(`${sessions()}/${sessionId}/prompts`, { method: "POST", token: stage.member.token, json: { text: "Again." } });
/** "The runner" takes the next task, reads what it gets of the MCP servers, and finishes it. */
async function nextTask() {
  const t = await takeSessionTask(stage.runner.credential);
  await t.complete({ status: "succeeded", result: { finalText: "done" } });
  return t.ctx;
}
const edit = (token: string, serverId: string, body: unknown) =>
  call(`${servers(stage.boardId)}/${serverId}`, { method: "PATCH", token, json: body });
const setSwitch = (token: string, on: boolean) =>
  call(`/api/runners/${stage.runner.id}/board-mcp-stdio`, { method: "PUT", token, json: { boardMcpStdio: on } });

describe("editing a server, and the runner owner's switch for members' stdio servers", () => {
  let link: Awaited<ReturnType<typeof openLink>>;
  beforeAll(async () => {
    // The runner as started without TRELLIS_MCP_BOARD_STDIO (the test above reported it on).
    link = await openLink(stage.runner.credential, INFO);
    await eventually(async () => (await runnerRow(stage.owner.token, stage.runner.id))?.info.mcpBoardStdio !== true);
  });
  afterAll(() => link.ws.close());

  it("keeps its id and the sessions' picks; changed secrets are sealed anew, omitted ones kept, none ever returned", async () => {
    const OLD = "Bearer old-wiki-secret-1111";
    const TEAM = "team-secret-value-2222";
    const NEW = "Bearer new-wiki-secret-3333";
    const wiki = await json<McpServer>(
      add(stage.member.token, {
        transport: "http",
        name: "wiki",
        url: "https://wiki.example.com/mcp",
        headers: { Authorization: OLD, "X-Team": TEAM, "X-Gone": "soon-removed-value-5555" },
      }),
    );
    const s = await startWith([wiki.id], "Read the wiki.");
    expect((await nextTask()).mcpServers).toMatchObject([
      { id: wiki.id, name: "wiki", headers: { Authorization: OLD, "X-Team": TEAM } },
    ]);

    const room = await joinRoom(stage.boardId, { token: viewer.token });
    const res = await edit(stage.member.token, wiki.id, {
      name: "wiki2",
      url: "https://wiki2.example.com/mcp",
      headers: { Authorization: NEW, "X-Gone": null },
    });
    const text = await res.text();
    expect(res.status, text).toBe(200);
    for (const secret of [OLD, TEAM, NEW]) expect(text).not.toContain(secret);
    const edited = JSON.parse(text) as McpServer;
    expect(edited).toMatchObject({
      id: wiki.id,
      name: "wiki2",
      url: "https://wiki2.example.com/mcp",
      headers: [
        { name: "Authorization", last4: "3333" },
        { name: "X-Team", last4: "2222" },
      ],
      createdBy: stage.member.user.id,
      editedBy: stage.member.user.id,
      editedByName: "Member",
    });
    const seen = await room.inbox.next("entity", (e) => e.entity === "mcp_server" && e.id === wiki.id);
    expect(seen).toMatchObject({ op: "patched", row: { name: "wiki2" } });
    expect(JSON.stringify(seen)).not.toContain(NEW);
    room.ws.close();

    // A rename alone touches no secret.
    const renamed = await json<McpServer>(edit(stage.member.token, wiki.id, { name: "wiki3" }));
    expect(renamed.headers.map((h) => h.name)).toEqual(["Authorization", "X-Team"]);
    const listed = await call(servers(stage.boardId), { token: viewer.token });
    const listedText = await listed.text();
    for (const secret of [OLD, TEAM, NEW]) expect(listedText).not.toContain(secret);

    // The session still has it, by the same id, with the new settings from its next task.
    const detail = await json<{ session: Session }>(call(`${sessions()}/${s.id}`, { token: stage.member.token }));
    expect(detail.session.mcpServerIds).toEqual([wiki.id]);
    await promptAgain(s.id);
    expect((await nextTask()).mcpServers).toEqual([
      {
        id: wiki.id,
        name: "wiki3",
        transport: "http",
        url: "https://wiki2.example.com/mcp",
        headers: { Authorization: NEW, "X-Team": TEAM },
        byRunnerOwner: false,
      },
    ]);
  });

  it("viewers, agents and strangers may not edit; bad edits are refused naming the field, changing nothing", async () => {
    const target = await json<McpServer>(
      add(stage.member.token, {
        transport: "stdio",
        name: "lint",
        command: "lint-mcp",
        env: { KEY: "lint-secret-6666" },
      }),
    );
    await expectError(edit(viewer.token, target.id, { name: "x" }), 403, "insufficient_role");
    await expectError(edit(stranger.token, target.id, { name: "x" }), 404, "not_found");
    await expectError(edit(stage.member.token, "no-such-server", { name: "x" }), 404, "not_found");
    await expectError(edit(stage.member.token, target.id, {}), 400);
    const url = await expectError(edit(stage.member.token, target.id, { url: "https://x.example/mcp" }), 400);
    expect(url.message).toMatch(/^url: "lint" is a stdio server/);
    await expectError(edit(stage.member.token, target.id, { name: "notes" }), 409, "mcp_server_exists");
    const own = await expectError(edit(stage.member.token, target.id, { name: "Trellis" }), 400);
    expect(own.message).toMatch(/^name:/);
    const empty = await expectError(edit(stage.member.token, target.id, { command: " " }), 400);
    expect(empty.message).toMatch(/command/);
    const s = await startWith([target.id], "Lint.");
    const t = await takeSessionTask(stage.runner.credential);
    expect(t.ctx.session.id).toBe(s.id);
    await expectError(edit(t.ctx.mcp.token, target.id, { command: "sh" }), 403, "agents_cannot_add_servers");
    await t.complete({ status: "succeeded", result: { finalText: "done" } });
    const after = (await json<{ items: McpServer[] }>(call(servers(stage.boardId), { token: viewer.token }))).items;
    expect(after.find((x) => x.id === target.id)).toEqual(target);
  });

  it("releases members' stdio servers only while the owner's switch is on; a member's edit to the owner's own needs it too", async () => {
    const helper = await json<McpServer>(
      add(stage.member.token, { transport: "stdio", name: "helper", command: "helper-mcp" }),
    );
    const s = await startWith([helper.id, ownersStdio.id], "Help.");
    const off = await nextTask();
    expect(off.mcpServers.map((x) => x.name)).toEqual(["notes"]);
    expect(off.mcpRefused).toEqual([
      { id: helper.id, name: "helper", reason: expect.stringContaining("Member added it") },
    ]);
    expect(off.mcpRefused[0]!.reason).toContain(`turn on "Run board members' stdio MCP servers" on that runner`);

    await expectError(setSwitch(stage.member.token, true), 403, "not_runner_owner");
    await expectError(setSwitch(viewer.token, true), 403, "not_runner_owner");
    await expectError(setSwitch(stranger.token, true), 404, "not_found");
    const room = await joinRoom(stage.boardId, { token: stage.member.token });
    const on = await json<Runner>(setSwitch(stage.owner.token, true));
    expect(on).toMatchObject({ id: stage.runner.id, boardMcpStdio: true });
    await room.inbox.next("entity", (e) => e.entity === "runner" && (e.row as Runner | null)?.boardMcpStdio === true);
    room.ws.close();
    await promptAgain(s.id);
    const released = await nextTask();
    expect(released.mcpServers.map((x) => x.name)).toEqual(["helper", "notes"]);
    expect(released.mcpRefused).toEqual([]);

    await json<Runner>(setSwitch(stage.owner.token, false));
    // The owner's own server, changed by a member, is the member's now: not run on the owner's machine.
    await json<McpServer>(edit(stage.member.token, ownersStdio.id, { args: ["notes.js", "--all"] }));
    await promptAgain(s.id);
    const refusedAgain = await nextTask();
    expect(refusedAgain.mcpServers).toEqual([]);
    expect(refusedAgain.mcpRefused.map((r) => r.name)).toEqual(["helper", "notes"]);
    expect(refusedAgain.mcpRefused[1]!.reason).toMatch(/Member changed it last, not Owner/);
    // Until the owner saves it again: theirs once more, secrets kept.
    await json<McpServer>(edit(stage.owner.token, ownersStdio.id, { args: ["notes.js"] }));
    await promptAgain(s.id);
    const back = await nextTask();
    expect(back.mcpServers).toEqual([
      expect.objectContaining({ name: "notes", args: ["notes.js"], env: { NOTES_TOKEN: ENV_SECRET, SHORT: "abc" } }),
    ]);
  });
});
