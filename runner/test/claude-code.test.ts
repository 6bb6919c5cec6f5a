/**
 * Claude Code as a session runtime, for real: the runner loads @anthropic-ai/claude-agent-sdk,
 * whose Claude Code binary talks to the scripted Messages server (ANTHROPIC_BASE_URL), edits a
 * file in a real git worktree once a second person approves it over REST, resumes its own session
 * on the next prompt, and stops within 2 s.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { McpServer, Message, Runner, ToolResultBlock } from "../../protocol/index.ts";
import { costMicros } from "../../protocol/index.ts";
import type { RequestBody } from "../../test/model-server.ts";
import { api, ROOT } from "../../test/server.ts";
import {
  as,
  type Client,
  lastTask,
  noticesOf,
  person,
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
// A scratch HOME: Claude Code keeps its sessions under ~/.claude, never the machine's own.
const home = mkdtempSync(join(tmpdir(), "trellis-cc-home-"));

beforeAll(async () => {
  w = await world("Owner", { "src/app.ts": 'export const greeting = "hello";\n' }, { HOME: home });
  owner = as(w, w.s.user.token);
  member = await person(w, "Mia", "member");
}, 60_000);
afterAll(async () => {
  await w?.stop();
  rmSync(home, { recursive: true, force: true });
});

const sent = (b: RequestBody) => JSON.stringify(b.messages);
/** The tool calls in what Claude Code sent, by name, in order. */
const toolUses = (b: RequestBody) =>
  (b.messages ?? []).flatMap((m) =>
    Array.isArray(m.content)
      ? (m.content as { type: string; name?: string }[]).filter((c) => c.type === "tool_use").map((c) => c.name)
      : [],
  );
const results = (ms: Message[]) =>
  ms.flatMap((m) => m.content.filter((b): b is ToolResultBlock => b.type === "tool_result"));
const start = (worktreeId: string, permissionMode: "ask" | "auto-edit" | "full" | "read-only", prompt: string) =>
  owner.start({
    worktreeId,
    provider: "anthropic",
    model: "claude-sonnet-4-5",
    runtime: "claude-code",
    permissionMode,
    prompt,
  });
/** The session's newest request waiting for a person. */
const waiting = async (id: string, what: string) => {
  const d = await sessionIs(owner, id, (x) => x.status === "awaiting_permission", what, 60_000);
  return d.session.pending.at(-1)!;
};
/** The session that edited a file (the first test), forked in the next. */
let edited = "";

/** This machine's processes whose command line holds `text`. */
function commandLinesWith(text: string): string[] {
  const hits: string[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const line = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
      if (line.includes(text)) hits.push(`${pid}: ${line.slice(0, 200)}`);
    } catch {}
  }
  return hits;
}

describe("Claude Code runtime", () => {
  it("is reported by the runner with its SDK's version", async () => {
    const list = await w.s.api<{ items: Runner[] }>("/api/runners");
    const info = list.items.find((r) => r.id === w.s.runnerId)!.info;
    expect(info.runtimes).toContainEqual({ runtime: "claude-code", version: expect.stringMatching(/^0\.3\./) });
  });

  it("edits a real file after a second person approves, then resumes its own session", async () => {
    const wt = await readyWorktree(w, "cc-edit");
    const file = join(wt.path!, "src/app.ts");
    let offered: string[] = [];
    w.server.script("anthropic", [
      (body) => {
        offered = JSON.stringify(body).match(/mcp__trellis__\w+/g) ?? [];
        return { text: "Reading the file first.", toolCalls: [{ name: "Read", input: { file_path: file } }] };
      },
      (body) => {
        expect(sent(body)).toContain("greeting");
        return {
          text: "Now the edit.",
          toolCalls: [{ name: "Edit", input: { file_path: file, old_string: '"hello"', new_string: '"hi"' } }],
        };
      },
      { text: "Shortened the greeting." },
    ]);
    const s = await owner.start({
      worktreeId: wt.id,
      provider: "anthropic",
      model: "claude-sonnet-4-5",
      runtime: "claude-code",
      permissionMode: "ask",
      prompt: "Shorten the greeting.",
    });
    expect(s.runtime).toBe("claude-code");
    edited = s.id;
    const task = lastTask(await owner.detail(s.id));

    const d1 = await sessionIs(
      owner,
      s.id,
      (x) => x.status === "awaiting_permission",
      "edit awaiting permission",
      60_000,
    );
    const [edit] = d1.session.pending;
    expect(edit).toMatchObject({ tool: "Edit", taskId: task.id });
    expect(edit!.diff).toContain('+"hi"');
    // Trellis's own MCP endpoint reached Claude Code, and its bearer token is on no command line.
    // (Claude Code defers MCP tools behind its ToolSearch: their names are in what it sends.)
    expect(offered).toContain("mcp__trellis__trellis_sessions_list");
    expect(commandLinesWith("Bearer ")).toEqual([]);
    expect(readFileSync(file, "utf8")).toContain('"hello"');

    await member.decide(s.id, edit!.requestId, "allow");
    const { task: ended, detail } = await taskEnded(owner, s.id, task.id, 60_000);
    expect(w.server.failures).toEqual([]);
    expect(ended.status, ended.error ?? "").toBe("completed");
    expect(readFileSync(file, "utf8")).toBe('export const greeting = "hi";\n');

    const msgs = await owner.messages(s.id);
    const results = msgs.flatMap((m) => m.content.filter((b): b is ToolResultBlock => b.type === "tool_result"));
    expect(results.map((r) => [r.name, r.isError])).toEqual([
      ["Read", false],
      ["Edit", false],
    ]);
    expect(results[1]!.meta?.decision).toMatchObject({ decision: "allow", byName: "Mia" });
    expect(msgs.filter((m) => m.role === "assistant").map(textOf)).toEqual([
      "Reading the file first.",
      "Now the edit.",
      "Shortened the greeting.",
    ]);
    // Usage from Claude Code's result, counted once: three scripted calls of 10 input tokens each.
    expect(detail.session.usage.input).toBe(30);
    expect(ended.usage.input).toBe(30);

    // The next prompt resumes Claude Code's own session: the earlier turns are in what it sends.
    w.server.script("anthropic", [
      (body) => {
        expect(sent(body)).toContain("Shorten the greeting.");
        expect(sent(body)).toContain("Say done.");
        return { text: "Done." };
      },
    ]);
    const t2 = await owner.prompt(s.id, "Say done.");
    const { task: ended2 } = await taskEnded(owner, s.id, t2.id, 60_000);
    expect(w.server.failures).toEqual([]);
    expect(ended2.status, ended2.error ?? "").toBe("completed");
  }, 120_000);

  it("stops within 2 s while Claude Code is streaming", async () => {
    const wt = await readyWorktree(w, "cc-stop");
    w.server.script("anthropic", [{ text: "word ".repeat(2000), chunkSize: 5, chunkDelayMs: 20 }]);
    const before = w.server.requests.length;
    const s = await owner.start({
      worktreeId: wt.id,
      provider: "anthropic",
      model: "claude-sonnet-4-5",
      runtime: "claude-code",
      permissionMode: "ask",
      prompt: "Write a lot.",
    });
    const task = lastTask(await owner.detail(s.id));
    await until("the model is streaming", () => w.server.requests.length > before, 60_000);
    await new Promise((r) => setTimeout(r, 500));
    const t0 = Date.now();
    await owner.stop(s.id);
    const { task: ended } = await taskEnded(owner, s.id, task.id, 10_000);
    const took = Date.now() - t0;
    expect(ended.status).toBe("stopped");
    expect(took).toBeLessThan(2000);
    console.log(`claude-code stop → task stopped in ${took} ms`);
    // The call that was cut off still counts, priced as the table prices it.
    expect(ended.usage.input).toBeGreaterThan(0);
    expect(ended.costMicros).toBe(costMicros("anthropic", "claude-sonnet-4-5", ended.usage));
  }, 90_000);

  it("a fork resumes Claude Code's own session at the fork point: the earlier tool call goes with it, nothing after; the parent is untouched", async () => {
    expect(edited).not.toBe("");
    const at = (await owner.messages(edited)).find((m) => m.role === "tool" && results([m])[0]?.name === "Read")!;
    const fork = await owner.fork(edited, at.id);
    expect(fork).toMatchObject({ origin: "fork", runtime: "claude-code", parentId: edited });
    w.server.script("anthropic", [
      (body) => {
        expect(toolUses(body)).toEqual(["Read"]);
        expect(sent(body)).toContain('export const greeting = \\"hello\\"');
        expect(sent(body)).toContain("Try it another way.");
        for (const later of ["Now the edit.", "Shortened the greeting.", "Say done.", "The conversation so far"]) {
          expect(sent(body)).not.toContain(later);
        }
        return { text: "Forked answer." };
      },
    ]);
    const ft = await owner.prompt(fork.id, "Try it another way.");
    const { task: forked } = await taskEnded(owner, fork.id, ft.id, 60_000);
    expect(w.server.failures).toEqual([]);
    expect(forked.status, forked.error ?? "").toBe("completed");
    expect(noticesOf(await owner.messages(fork.id))).not.toContainEqual(expect.stringMatching(/is not on this runner/));

    // The parent resumes its own session, all of it and nothing of the fork.
    w.server.script("anthropic", [
      (body) => {
        expect(toolUses(body)).toEqual(["Read", "Edit"]);
        expect(sent(body)).toContain("Say done.");
        expect(sent(body)).not.toContain("Try it another way.");
        expect(sent(body)).not.toContain("Forked answer.");
        return { text: "Still here." };
      },
    ]);
    const pt = await owner.prompt(edited, "Still there?");
    const { task: parentTask } = await taskEnded(owner, edited, pt.id, 60_000);
    expect(w.server.failures).toEqual([]);
    expect(parentTask.status, parentTask.error ?? "").toBe("completed");

    // A machine without the parent's Claude Code session (another runner's, or gone): the fork gets
    // the conversation replayed, tool calls and results included, and the transcript says so.
    const projects = join(home, ".claude", "projects");
    for (const dir of readdirSync(projects)) rmSync(join(projects, dir), { recursive: true, force: true });
    const elsewhere = await owner.fork(edited, at.id);
    w.server.script("anthropic", [
      (body) => {
        expect(toolUses(body)).toEqual([]);
        expect(sent(body)).toContain("The conversation so far");
        expect(sent(body)).toContain("[called Read with");
        expect(sent(body)).toContain('export const greeting = \\"hello\\"');
        expect(sent(body)).not.toContain("Now the edit.");
        return { text: "Replayed answer." };
      },
    ]);
    const et = await owner.prompt(elsewhere.id, "Try it another way.");
    const { task: replayed } = await taskEnded(owner, elsewhere.id, et.id, 60_000);
    expect(w.server.failures).toEqual([]);
    expect(replayed.status, replayed.error ?? "").toBe("completed");
    expect(noticesOf(await owner.messages(elsewhere.id))).toContainEqual(
      expect.stringMatching(/^info: The Claude Code session this fork comes from is not on this runner/),
    );
  }, 180_000);

  it("auto-edit: an edit goes through unasked, a shell command asks; allowed always, the next one is not asked", async () => {
    const wt = await readyWorktree(w, "cc-auto-edit");
    const file = join(wt.path!, "src/new.ts");
    w.server.script("anthropic", [
      { toolCalls: [{ name: "Write", input: { file_path: file, content: "export const n = 1;\n" } }] },
      { toolCalls: [{ name: "Bash", input: { command: "echo one > one.txt" } }] },
      { toolCalls: [{ name: "Bash", input: { command: "echo two > two.txt" } }] },
      { text: "Both written." },
    ]);
    const s = await start(wt.id, "auto-edit", "Edit, then write two files.");
    const req = await waiting(s.id, "the first command waits");
    expect(req).toMatchObject({ tool: "Bash", command: "echo one > one.txt" });
    expect(readFileSync(file, "utf8")).toBe("export const n = 1;\n");
    expect(existsSync(join(wt.path!, "one.txt"))).toBe(false);
    await member.decide(s.id, req.requestId, "allow_always");
    const { task } = await taskEnded(owner, s.id, lastTask(await owner.detail(s.id)).id, 60_000);
    expect(w.server.failures).toEqual([]);
    expect(task.status, task.error ?? "").toBe("completed");
    expect(readFileSync(join(wt.path!, "two.txt"), "utf8")).toBe("two\n");
    expect(results(await owner.messages(s.id)).map((r) => [r.name, r.isError, r.meta?.decision?.decision])).toEqual([
      ["Write", false, "mode"],
      ["Bash", false, "allow_always"],
      ["Bash", false, "mode"],
    ]);
    expect((await owner.detail(s.id)).session.allowedTools).toContain("Bash");
  }, 120_000);

  it("a mode change mid-task takes effect: made read-only while a command waits, the command and the next write are refused", async () => {
    const wt = await readyWorktree(w, "cc-mode-change");
    const file = join(wt.path!, "new.txt");
    w.server.script("anthropic", [
      { toolCalls: [{ name: "Bash", input: { command: "echo one > one.txt" } }] },
      { toolCalls: [{ name: "Write", input: { file_path: file, content: "new\n" } }] },
      { text: "I will say what I would change instead." },
    ]);
    const s = await start(wt.id, "auto-edit", "Write two files.");
    await waiting(s.id, "the command waits");
    await owner.mode(s.id, "read-only");
    const { task } = await taskEnded(owner, s.id, lastTask(await owner.detail(s.id)).id, 60_000);
    expect(w.server.failures).toEqual([]);
    expect(task.status, task.error ?? "").toBe("completed");
    expect(existsSync(join(wt.path!, "one.txt"))).toBe(false);
    expect(existsSync(file)).toBe(false);
    const [command, write] = results(await owner.messages(s.id));
    expect(command).toMatchObject({ name: "Bash", isError: true });
    expect(command!.output).toContain("the session was made read-only");
    expect(write).toMatchObject({ name: "Write", isError: true });
    expect(write!.output).toContain("This session is read-only: Write is not allowed");
  }, 120_000);

  it("an attached MCP server's tools are offered to Claude Code and called under the permission mode", async () => {
    const wt = await readyWorktree(w, "cc-mcp");
    const notes = await api<McpServer>(w.edge.url, `/api/boards/${w.s.boardId}/mcp-servers`, {
      token: owner.token,
      json: {
        transport: "stdio",
        name: "notes",
        command: join(ROOT, "node_modules/.bin/node"),
        args: [join(ROOT, "runner/test/fixtures/notes-mcp.ts")],
        env: { NOTES_SECRET: "notes-secret-4321" },
      },
    });
    let offered: string[] = [];
    w.server.script("anthropic", [
      (body) => {
        offered = JSON.stringify(body).match(/mcp__notes__\w+/g) ?? [];
        // Claude Code defers MCP tools: their schemas are loaded through its ToolSearch first.
        return {
          toolCalls: [
            { name: "ToolSearch", input: { query: "select:mcp__notes__echo,mcp__notes__add_note", max_results: 5 } },
          ],
        };
      },
      { toolCalls: [{ name: "mcp__notes__echo", input: { text: "hi" } }] },
      (body) => {
        // The server has its own secret, and none of the runner's keys (Claude Code's environment is under it).
        expect(sent(body)).toContain("echo: hi; secret ends 4321; provider key visible: no");
        return { toolCalls: [{ name: "mcp__notes__add_note", input: { text: "from Claude Code" } }] };
      },
      (body) => {
        expect(sent(body)).toContain("noted: from Claude Code");
        return { text: "Noted it." };
      },
    ]);
    const s = await owner.start({
      worktreeId: wt.id,
      provider: "anthropic",
      model: "claude-sonnet-4-5",
      runtime: "claude-code",
      permissionMode: "ask",
      mcpServerIds: [notes.id],
      prompt: "Take a note.",
    });
    // In ask mode each MCP tool waits for a person.
    const echo = await waiting(s.id, "echo waits");
    expect(echo.tool).toBe("mcp__notes__echo");
    expect(offered).toEqual(expect.arrayContaining(["mcp__notes__echo", "mcp__notes__add_note"]));
    await member.decide(s.id, echo.requestId, "allow");
    const req = await until("add_note waits", async () =>
      (await owner.detail(s.id)).session.pending.find((p) => p.tool === "mcp__notes__add_note"),
    );
    await member.decide(s.id, req.requestId, "allow");
    const { task } = await taskEnded(owner, s.id, lastTask(await owner.detail(s.id)).id, 60_000);
    expect(w.server.failures).toEqual([]);
    expect(task.status, task.error ?? "").toBe("completed");
    expect(readFileSync(join(wt.path!, "notes.txt"), "utf8")).toBe("from Claude Code\n");
    const called = results(await owner.messages(s.id)).find((r) => r.name === "mcp__notes__add_note");
    expect(called).toMatchObject({ isError: false, output: "noted: from Claude Code" });
  }, 120_000);
});
