/**
 * Steering agent sessions through a real Worker and a real runner: permission requests answered
 * by a second person over REST (approve, deny with a reason the model reads), who may act and who
 * may not see, fork at a message, and children spawned by a person and by the agent itself.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Session, ToolResultBlock } from "../../protocol/index.ts";
import type { RequestBody, Scripted } from "../../test/model-server.ts";
import { cardOf } from "./harness.ts";
import {
  as,
  type Client,
  lastTask,
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
let viewer: Client;
let stranger: Client;

beforeAll(async () => {
  w = await world("Owner", { "src/app.ts": 'export const greeting = "hello";\n' });
  owner = as(w, w.s.user.token);
  [member, viewer, stranger] = await Promise.all([
    person(w, "Mia", "member"),
    person(w, "Vic", "viewer"),
    person(w, "Stan", null),
  ]);
});
afterAll(async () => {
  await w?.stop();
});

const bodyText = (b: RequestBody) => JSON.stringify(b.messages);

describe("permissions in ask mode", () => {
  it("waits for a person; a second member approves and denies over REST; a viewer and a stranger cannot", async () => {
    const wt = await readyWorktree(w, "ask");
    w.server.script("anthropic", [
      {
        text: "I will edit the greeting.",
        toolCalls: [{ name: "edit_file", input: { path: "src/app.ts", old_string: '"hello"', new_string: '"hi"' } }],
      },
      { toolCalls: [{ name: "shell", input: { command: "rm -rf build" } }] },
      (body) => {
        // The denial and its reason reach the model as the shell call's result.
        expect(bodyText(body)).toContain("keep the build folder");
        return { text: "Understood: I left the build folder alone." };
      },
    ]);
    const s = await owner.start({
      worktreeId: wt.id,
      provider: "anthropic",
      model: "claude-sonnet-4-5",
      permissionMode: "ask",
      prompt: "Shorten the greeting, then clean up.",
    });
    const task = lastTask(await owner.detail(s.id));

    // The edit waits, with its diff, for everyone to see; nothing is written yet.
    const d1 = await sessionIs(owner, s.id, (x) => x.status === "awaiting_permission", "edit awaiting permission");
    const [edit] = d1.session.pending;
    expect(edit).toMatchObject({ tool: "edit_file", taskId: task.id });
    expect(edit!.diff).toContain('-export const greeting = "hello";');
    expect(edit!.diff).toContain('+export const greeting = "hi";');
    expect(d1.session.nowDoing).toMatch(/^waiting: /);
    expect(readFileSync(join(wt.path!, "src/app.ts"), "utf8")).toContain('"hello"');
    expect((await viewer.detail(s.id)).session.pending).toHaveLength(1);

    // A viewer may look, not act; a stranger sees nothing at all.
    for (const [path, init] of [
      [`/${s.id}/permissions/${edit!.requestId}`, { json: { decision: "allow" } }],
      [`/${s.id}/prompts`, { json: { text: "do it" } }],
      [`/${s.id}/stop`, { method: "POST" }],
    ] as const) {
      const r = await viewer.status(path, init);
      expect(r.status, `${path} ${r.body}`).toBe(403);
    }
    for (const path of [`/${s.id}`, `/${s.id}/messages`]) expect((await stranger.status(path)).status).toBe(404);
    // Nor the board's room, where the stream goes.
    await expect(Room.open(w.edge.url, w.s.boardId, stranger.token)).rejects.toThrow(/refused: 40[34]/);
    expect(
      (await stranger.status(`/${s.id}/permissions/${edit!.requestId}`, { json: { decision: "allow" } })).status,
    ).toBe(404);

    // Mia approves from her own session; the edit lands and the task goes on.
    await member.decide(s.id, edit!.requestId, "allow");
    const d2 = await sessionIs(
      owner,
      s.id,
      (x) => x.status === "awaiting_permission" && x.pending[0]?.tool === "shell",
      "shell awaiting permission",
    );
    expect(readFileSync(join(wt.path!, "src/app.ts"), "utf8")).toBe('export const greeting = "hi";\n');
    const [shell] = d2.session.pending;
    expect(shell!.command).toBe("rm -rf build");
    // Answering twice: the first answer won.
    await member.decide(s.id, shell!.requestId, "deny", "keep the build folder, we need it");
    expect(
      (await owner.status(`/${s.id}/permissions/${shell!.requestId}`, { json: { decision: "allow" } })).status,
    ).toBe(404);

    const { task: ended } = await taskEnded(owner, s.id, task.id);
    expect(w.server.failures).toEqual([]);
    expect(ended.status, ended.error ?? "").toBe("completed");
    const msgs = await owner.messages(s.id);
    const results = msgs.flatMap((m) => m.content.filter((b): b is ToolResultBlock => b.type === "tool_result"));
    expect(results.map((r) => [r.name, r.isError])).toEqual([
      ["edit_file", false],
      ["shell", true],
    ]);
    expect(results[0]!.meta?.decision).toMatchObject({ decision: "allow", byName: "Mia" });
    expect(results[1]!.meta?.decision).toMatchObject({
      decision: "deny",
      byName: "Mia",
      reason: "keep the build folder, we need it",
    });
    expect(textOf(msgs.at(-1)!)).toBe("Understood: I left the build folder alone.");
    expect((await owner.detail(s.id)).session.pending).toEqual([]);
  });
});

describe("permissions in the other modes", () => {
  const resultsOf = async (id: string) =>
    (await owner.messages(id)).flatMap((m) => m.content.filter((b): b is ToolResultBlock => b.type === "tool_result"));

  it("auto-edit: an edit runs without asking, a shell command waits for a person", async () => {
    const wt = await readyWorktree(w, "auto-edit");
    w.server.script("anthropic", [
      { toolCalls: [{ name: "edit_file", input: { path: "src/app.ts", old_string: '"hello"', new_string: '"hey"' } }] },
      { toolCalls: [{ name: "shell", input: { command: "cat src/app.ts" } }] },
      { text: "Edited and checked." },
    ]);
    const s = await owner.start({
      worktreeId: wt.id,
      provider: "anthropic",
      model: "claude-sonnet-4-5",
      permissionMode: "auto-edit",
      prompt: "Change the greeting and show it.",
    });
    const d = await sessionIs(owner, s.id, (x) => x.status === "awaiting_permission", "shell awaiting permission");
    // The edit is done already; only the command waits.
    expect(d.session.pending.map((p) => [p.tool, p.command])).toEqual([["shell", "cat src/app.ts"]]);
    expect(readFileSync(join(wt.path!, "src/app.ts"), "utf8")).toBe('export const greeting = "hey";\n');
    await member.decide(s.id, d.session.pending[0]!.requestId, "allow");
    const { task } = await taskEnded(owner, s.id, lastTask(d).id);
    expect(task.status, task.error ?? "").toBe("completed");
    const results = await resultsOf(s.id);
    expect(results.map((r) => [r.name, r.isError, r.meta?.decision?.decision, r.meta?.decision?.byName])).toEqual([
      ["edit_file", false, "mode", null],
      ["shell", false, "allow", "Mia"],
    ]);
    expect(results[1]!.output).toContain('greeting = "hey"');
  });

  it("read-only: writes and commands are refused without asking anyone, in words the model reads", async () => {
    const wt = await readyWorktree(w, "read-only");
    w.server.script("openai", [
      { toolCalls: [{ name: "write_file", input: { path: "NEW.md", content: "x\n" } }] },
      { toolCalls: [{ name: "shell", input: { command: "touch made-by-shell" } }] },
      (body) => {
        expect(bodyText(body)).toContain("This session is read-only");
        return { text: "I would add NEW.md, but this session is read-only." };
      },
    ]);
    const s = await owner.start({
      worktreeId: wt.id,
      provider: "openai",
      model: "gpt-5",
      permissionMode: "read-only",
      prompt: "Add a file.",
    });
    const { task, detail } = await taskEnded(owner, s.id, lastTask(await owner.detail(s.id)).id);
    expect(w.server.failures).toEqual([]);
    expect(task.status, task.error ?? "").toBe("completed");
    expect(detail.session.pending).toEqual([]);
    const results = await resultsOf(s.id);
    expect(results.map((r) => [r.name, r.isError, r.meta?.decision?.decision])).toEqual([
      ["write_file", true, "deny"],
      ["shell", true, "deny"],
    ]);
    expect(results.every((r) => r.meta?.decision?.reason === "the session is read-only")).toBe(true);
    expect(existsSync(join(wt.path!, "NEW.md"))).toBe(false);
    expect(existsSync(join(wt.path!, "made-by-shell"))).toBe(false);
  });
});

/** Route each model request by what its conversation is about (parent and child share one queue). */
function router(routes: [string, Scripted[]][]): (body: RequestBody) => Scripted {
  return (body) => {
    const text = bodyText(body);
    for (const [marker, turns] of routes) {
      if (text.includes(marker)) {
        const next = turns.shift();
        if (!next) throw new Error(`no turn left for "${marker}"`);
        return next;
      }
    }
    throw new Error(`no route for a request: ${text.slice(0, 300)}`);
  };
}

describe("fork and spawn", () => {
  it("a fork at message k holds exactly the first k messages, and runs on from there", async () => {
    const wt = await readyWorktree(w, "fork");
    w.server.script("openai", [
      { text: "Reading.", toolCalls: [{ name: "read_file", input: { path: "src/app.ts" } }] },
      { text: "It says hello." },
    ]);
    const s = await owner.start({
      worktreeId: wt.id,
      provider: "openai",
      model: "gpt-5",
      permissionMode: "full",
      prompt: "What does the app say?",
    });
    const { task } = await taskEnded(owner, s.id, lastTask(await owner.detail(s.id)).id);
    expect(task.status, task.error ?? "").toBe("completed");
    const source = await owner.messages(s.id);
    expect(source).toHaveLength(4);

    const k = 3;
    const fork = await member.fork(s.id, source[k - 1]!.id);
    expect(fork).toMatchObject({ parentId: s.id, origin: "fork", forkedFromMessageId: source[k - 1]!.id });
    const copied = await member.messages(fork.id);
    const shape = (m: (typeof source)[number]) => [m.seq, m.role, m.content];
    expect(copied.map(shape)).toEqual(source.slice(0, k).map(shape));
    expect(copied.every((m) => m.sessionId === fork.id)).toBe(true);

    w.server.script("openai", [
      (body) => {
        expect(bodyText(body)).toContain("export const greeting");
        expect(bodyText(body)).not.toContain("It says hello.");
        return { text: "Forked answer." };
      },
    ]);
    const next = await member.prompt(fork.id, "And in French?");
    const ended = await taskEnded(member, fork.id, next.id);
    expect(w.server.failures).toEqual([]);
    expect(ended.task.status, ended.task.error ?? "").toBe("completed");
    expect((await member.messages(fork.id)).map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(await owner.messages(s.id)).toHaveLength(4);
  });

  it("a fork into a new worktree gets its own card and branch; its next prompt edits files there only", async () => {
    const wt = await readyWorktree(w, "fork-src");
    w.server.script("anthropic", [{ text: "The app says hello." }]);
    const s = await owner.start({
      worktreeId: wt.id,
      provider: "anthropic",
      model: "claude-sonnet-4-5",
      permissionMode: "full",
      prompt: "What does the app say?",
    });
    await taskEnded(owner, s.id, lastTask(await owner.detail(s.id)).id);
    const source = await owner.messages(s.id);

    const fork = await member.fork(s.id, source.at(-1)!.id, { newWorktree: { name: "fork-new" } });
    expect(fork.worktreeId).not.toBe(wt.id);
    // Prompted at once, while the runner may still be making the worktree: the prompt waits for it.
    w.server.script("anthropic", [
      {
        toolCalls: [
          { name: "edit_file", input: { path: "src/app.ts", old_string: '"hello"', new_string: '"bonjour"' } },
        ],
      },
      { text: "Changed it." },
    ]);
    const next = await member.prompt(fork.id, "Say it in French.");
    const { task } = await taskEnded(member, fork.id, next.id);
    expect(w.server.failures).toEqual([]);
    expect(task.status, task.error ?? "").toBe("completed");

    const card = await until("the fork's card", () => cardOf(w.s, fork.worktreeId));
    expect(card).toMatchObject({ name: "fork-new", branch: "fork-new", baseBranch: "fork-src", status: "ready" });
    expect(card.path).not.toBe(wt.path);
    expect(readFileSync(join(card.path!, "src/app.ts"), "utf8")).toBe('export const greeting = "bonjour";\n');
    expect(readFileSync(join(wt.path!, "src/app.ts"), "utf8")).toBe('export const greeting = "hello";\n');
    expect(execFileSync("git", ["branch", "--show-current"], { cwd: card.path!, encoding: "utf8" }).trim()).toBe(
      "fork-new",
    );
  });

  it("a child spawned over REST runs; its answer comes back to the parent and wakes it", async () => {
    const wt = await readyWorktree(w, "spawn");
    const childAnswer = "CHILD-ANSWER: the tests pass.";
    // First match wins: the answer's text shows only in the parent's conversation once it came back.
    const route = router([
      [childAnswer, [{ text: "Thanks, child." }]],
      ["Parent's own question", [{ text: "Parent answered." }]],
      ["Check the tests (child)", [{ text: childAnswer }]],
    ]);
    w.server.script("anthropic", [route, route, route]);
    const parent = await owner.start({
      worktreeId: wt.id,
      provider: "anthropic",
      model: "claude-sonnet-4-5",
      permissionMode: "full",
      prompt: "Parent's own question",
    });
    await taskEnded(owner, parent.id, lastTask(await owner.detail(parent.id)).id);

    const child = await member.spawn(parent.id, "Check the tests (child)", "tests");
    expect(child).toMatchObject({ parentId: parent.id, origin: "spawn", title: "tests" });
    const childDone = await taskEnded(member, child.id, lastTask(await member.detail(child.id)).id);
    expect(childDone.task.status, childDone.task.error ?? "").toBe("completed");

    // The parent was idle: the answer is its next prompt, and it runs.
    const woke = await until("parent ran the child's answer", async () => {
      const d = await owner.detail(parent.id);
      const t = d.tasks.find((x) => x.fromSessionId === child.id);
      return t?.status === "completed" ? { d, t } : undefined;
    });
    expect(woke.t.prompt).toBe(childAnswer);
    const msgs = await owner.messages(parent.id);
    const answer = msgs.find((m) => m.role === "user" && m.fromSessionId === child.id);
    expect(answer && textOf(answer)).toBe(childAnswer);
    expect(textOf(msgs.at(-1)!)).toBe("Thanks, child.");
    const req = w.server.requests.at(-1)!;
    expect(bodyText(req.body)).toContain(`[Answer from spawned session ${child.id}]`);
    expect(w.server.failures).toEqual([]);
  });

  it("the agent spawns a child with its tool: the child appears on the board and runs", async () => {
    const wt = await readyWorktree(w, "agent-spawn");
    const room = await Room.open(w.edge.url, w.s.boardId, owner.token);
    const route = router([
      ["Lint is clean.", [{ text: "Parent heard back." }]],
      [
        "Delegate the linting",
        [
          {
            toolCalls: [
              { name: "spawn_session", input: { prompt: "Lint the code (spawned by the agent)", title: "lint" } },
            ],
          },
          { text: "I asked a child to lint." },
        ],
      ],
      // Last: the parent's own conversation names the child's prompt too (in its tool call).
      ["Lint the code (spawned by the agent)", [{ text: "Lint is clean." }]],
    ]);
    w.server.script("openai", [route, route, route, route]);
    const parent = await owner.start({
      worktreeId: wt.id,
      provider: "openai",
      model: "gpt-5",
      permissionMode: "full",
      prompt: "Delegate the linting",
    });
    const child = await until("the child is on the board", async () =>
      (await owner.list()).find((x: Session) => x.parentId === parent.id),
    );
    expect(child).toMatchObject({ origin: "spawn", title: "lint", worktreeId: wt.id, provider: "openai" });
    await room.next("entity", (e) => e.entity === "session" && e.id === child.id && e.op === "created");
    const childDone = await until("child completed", async () => {
      const d = await owner.detail(child.id);
      if (d.tasks[0]?.status === "failed") throw new Error(`child failed: ${d.tasks[0].error}`);
      return d.tasks[0]?.status === "completed" ? d : undefined;
    });
    expect(textOf((await owner.messages(child.id)).at(-1)!)).toBe("Lint is clean.");
    expect(childDone.tasks[0]!.prompt).toBe("Lint the code (spawned by the agent)");
    // The spawn tool told the parent the child's id, and the child's answer came back.
    await until("parent heard back", async () => {
      const d = await owner.detail(parent.id);
      return d.tasks.find((t) => t.fromSessionId === child.id)?.status === "completed";
    });
    const results = (await owner.messages(parent.id)).flatMap((m) =>
      m.content.filter((b): b is ToolResultBlock => b.type === "tool_result"),
    );
    expect(results[0]).toMatchObject({ name: "spawn_session", isError: false });
    expect(results[0]!.output).toContain(child.id);
    expect(w.server.failures).toEqual([]);
    room.close();
  });
});
