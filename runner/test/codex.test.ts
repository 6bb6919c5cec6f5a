/**
 * Codex as a session runtime, for real: the runner loads @openai/codex-sdk, whose Codex CLI talks
 * to a scripted Responses endpoint (test/responses-server.ts) through a custom provider, runs a
 * command that writes a file in a real worktree, resumes its thread on the next prompt, counts
 * usage once although Codex reports running totals (cached tokens apart, priced from the table),
 * reaches Trellis's own /mcp on the real edge, and gets the session's attached stdio MCP server.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  costMicros,
  type McpServer,
  type Runner,
  type Session,
  type ToolCallBlock,
  type ToolResultBlock,
} from "../../protocol/index.ts";
import { type ResponsesBody, type ResponsesServer, startResponsesServer } from "../../test/responses-server.ts";
import { api, ROOT } from "../../test/server.ts";
import {
  as,
  type Client,
  lastTask,
  noticesOf,
  providerEnv,
  readyWorktree,
  taskEnded,
  textOf,
  until,
  type World,
  world,
} from "./session-kit.ts";

let w: World;
let rs: ResponsesServer;
let owner: Client;
// Outside the temp folder: Codex will not keep its Linux sandbox's helper under it (see codex.ts).
const home = mkdtempSync(join("/var/tmp", "trellis-codex-home-"));

beforeAll(async () => {
  rs = await startResponsesServer();
  w = await world("Owner", { "README.md": "hello\n" }, { HOME: home });
  owner = as(w, w.s.user.token);
}, 60_000);
afterAll(async () => {
  await Promise.allSettled([w?.stop(), rs?.close()]);
  rmSync(home, { recursive: true, force: true });
});

/** The tools of one MCP server as Codex offers them: a namespace `mcp__<server>` of functions. */
const namespaceTools = (body: ResponsesBody, server: string): string[] => {
  const ns = (body.tools ?? []).find((t) => t.type === "namespace" && t.name === `mcp__${server}`);
  return ((ns?.tools ?? []) as { name: string }[]).map((t) => t.name);
};
/** What the last function call returned to the model, as Codex sent it. */
const lastOutput = (body: ResponsesBody): string =>
  JSON.stringify((body.input ?? []).findLast((i) => (i as { type?: string }).type === "function_call_output"));

describe("Codex runtime", () => {
  it("is reported by the runner with its SDK's version", async () => {
    const list = await w.s.api<{ items: Runner[] }>("/api/runners");
    const info = list.items.find((r) => r.id === w.s.runnerId)!.info;
    expect(info.runtimes).toContainEqual({ runtime: "codex", version: expect.stringMatching(/^0\./) });
  });

  it("writes a file in the worktree, resumes its thread, and sums usage over turns without double counting", async () => {
    const wt = await readyWorktree(w, "codex-edit");
    rs.script([
      {
        text: "Writing the notes.",
        calls: [{ name: "exec_command", arguments: { cmd: "printf 'from codex\\n' > notes.txt && env" } }],
        usage: { input: 100, cached: 40, output: 20 },
      },
      { text: "Wrote notes.txt.", usage: { input: 150, cached: 100, output: 30 } },
    ]);
    const s = await owner.start({
      worktreeId: wt.id,
      provider: "openai",
      baseUrl: rs.url,
      model: "gpt-5",
      runtime: "codex",
      permissionMode: "full",
      prompt: "Write notes.txt.",
    });
    const { task: t1 } = await taskEnded(owner, s.id, lastTask(await owner.detail(s.id)).id, 60_000);
    expect(rs.failures).toEqual([]);
    expect(t1.status, t1.error ?? "").toBe("completed");
    expect(readFileSync(join(wt.path!, "notes.txt"), "utf8")).toBe("from codex\n");
    const msgs = await owner.messages(s.id);
    const results = msgs.flatMap((m) => m.content.filter((b): b is ToolResultBlock => b.type === "tool_result"));
    expect(results.map((r) => [r.name, r.isError, r.meta?.exitCode])).toEqual([["exec_command", false, 0]]);
    // Its commands get the environment without the runner's credentials, nor the MCP token's variable.
    expect(results[0]!.output).toContain("HOME=");
    expect(results[0]!.output).not.toMatch(/TRELLIS_|sk-openai-test|sk-ant-test/);
    expect(msgs.filter((m) => m.role === "assistant").map(textOf)).toContain("Wrote notes.txt.");
    // Codex counts cached tokens in its input; ours are apart, and priced at the table's cached rate.
    expect(t1.usage).toEqual({ input: 110, output: 50, cacheRead: 140, cacheWrite: 0 });
    expect(t1.costMicros).toBe(costMicros("openai", "gpt-5", t1.usage));
    expect(t1.costMicros).toBe(Math.round(110 * 1.25 + 50 * 10 + 140 * 0.125));

    // Codex reports the thread's running totals (250 + 120 = 370): this task used only 120 of them.
    rs.script([
      (body) => {
        expect(JSON.stringify(body.input)).toContain("Write notes.txt.");
        return { text: "Still here.", usage: { input: 120, cached: 100, output: 10 } };
      },
    ]);
    const p2 = await owner.prompt(s.id, "Are you there?");
    const { task: t2, detail } = await taskEnded(owner, s.id, p2.id, 60_000);
    expect(rs.failures).toEqual([]);
    expect(t2.status, t2.error ?? "").toBe("completed");
    expect(t2.usage).toEqual({ input: 20, output: 10, cacheRead: 100, cacheWrite: 0 });
    expect(t2.costMicros).toBe(costMicros("openai", "gpt-5", t2.usage));
    expect(detail.session.usage).toEqual({ input: 130, output: 60, cacheRead: 240, cacheWrite: 0 });
    expect(detail.session.costMicros).toBe(t1.costMicros! + t2.costMicros!);
    // Nothing was refused as implausible.
    expect(noticesOf(await owner.messages(s.id)).filter((n) => n.startsWith("error:"))).toEqual([]);
  }, 120_000);

  it("auto-edit: Codex's own sandbox lets a command write in the worktree and nowhere else", async () => {
    const wt = await readyWorktree(w, "codex-sandbox");
    const outside = join(home, "outside.txt");
    rs.script([
      {
        calls: [
          {
            name: "exec_command",
            arguments: { cmd: `printf 'inside\\n' > inside.txt; printf x > ${outside} || echo refused` },
          },
        ],
      },
      { text: "Tried both." },
    ]);
    const s = await owner.start({
      worktreeId: wt.id,
      provider: "openai",
      baseUrl: rs.url,
      model: "gpt-5",
      runtime: "codex",
      permissionMode: "auto-edit",
      prompt: "Write inside and outside.",
    });
    const { task } = await taskEnded(owner, s.id, lastTask(await owner.detail(s.id)).id, 60_000);
    expect(rs.failures).toEqual([]);
    expect(task.status, task.error ?? "").toBe("completed");
    expect(readFileSync(join(wt.path!, "inside.txt"), "utf8")).toBe("inside\n");
    expect(existsSync(outside)).toBe(false);
    const msgs = await owner.messages(s.id);
    const [result] = msgs.flatMap((m) => m.content.filter((b): b is ToolResultBlock => b.type === "tool_result"));
    // Codex gathers stdout and stderr as they come: either may be first.
    expect(result!.output).toContain("Read-only file system");
    expect(result!.output).toContain("refused");
    expect(noticesOf(msgs).join("\n")).not.toContain("sandbox cannot run commands");
  }, 120_000);

  it("calls Trellis's own MCP tools on the edge with the session's token; a tool that writes waits for full mode", async () => {
    const wt = await readyWorktree(w, "codex-mcp");
    const boardId = w.s.boardId;
    let listed = "";
    rs.script([
      (body) => {
        expect(namespaceTools(body, "trellis")).toEqual(
          expect.arrayContaining(["trellis_sessions_get_current", "trellis_sessions_list", "trellis_sessions_spawn"]),
        );
        return { calls: [{ namespace: "mcp__trellis", name: "trellis_sessions_list", arguments: { boardId } }] };
      },
      (body) => {
        listed = lastOutput(body);
        return {
          calls: [
            {
              namespace: "mcp__trellis",
              name: "trellis_sessions_spawn",
              arguments: { boardId, prompt: "A helper.", title: "Codex child" },
            },
          ],
        };
      },
      (body) => {
        expect(lastOutput(body)).toContain("requires approval");
        return { text: "Listed them." };
      },
    ]);
    const s = await owner.start({
      worktreeId: wt.id,
      provider: "openai",
      baseUrl: rs.url,
      model: "gpt-5",
      runtime: "codex",
      permissionMode: "auto-edit",
      prompt: "List the board's sessions, then start a helper.",
    });
    const { task } = await taskEnded(owner, s.id, lastTask(await owner.detail(s.id)).id, 60_000);
    expect(rs.failures).toEqual([]);
    expect(task.status, task.error ?? "").toBe("completed");
    // The real edge answered: the list has this very session in it.
    expect(listed).toContain(s.id);
    const sessions = await owner.list();
    expect(sessions.filter((x: Session) => x.title === "Codex child")).toEqual([]);

    const msgs = await owner.messages(s.id);
    const calls = msgs.flatMap((m) => m.content.filter((b): b is ToolCallBlock => b.type === "tool_call"));
    const results = msgs.flatMap((m) => m.content.filter((b): b is ToolResultBlock => b.type === "tool_result"));
    expect(calls.map((c) => [c.name, c.input])).toEqual([
      ["trellis.trellis_sessions_list", { arguments: { boardId } }],
      ["trellis.trellis_sessions_spawn", { arguments: { boardId, prompt: "A helper.", title: "Codex child" } }],
    ]);
    expect(results.map((r) => [r.name, r.isError])).toEqual([
      ["trellis.trellis_sessions_list", false],
      ["trellis.trellis_sessions_spawn", true],
    ]);
    expect(results[0]!.output).toContain(s.id);
    expect(results[1]!.output).toMatch(/Codex cannot ask before running trellis_sessions_spawn.*full mode/);
    expect(msgs.filter((m) => m.role === "assistant").map(textOf)).toContain("Listed them.");
  }, 120_000);

  it("gets the session's attached stdio MCP server: its read-only tool runs, one that writes waits for full mode", async () => {
    const wt = await readyWorktree(w, "codex-mcp-stdio");
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
    let echoed = "";
    rs.script([
      (body) => {
        // Codex was configured with the server, started it and offered its tools to the model.
        expect(namespaceTools(body, "notes").sort()).toEqual(["add_note", "echo"]);
        return { calls: [{ namespace: "mcp__notes", name: "echo", arguments: { text: "hi" } }] };
      },
      (body) => {
        echoed = lastOutput(body);
        return { calls: [{ namespace: "mcp__notes", name: "add_note", arguments: { text: "from codex" } }] };
      },
      (body) => {
        expect(lastOutput(body)).toContain("requires approval");
        return { text: "Echoed." };
      },
    ]);
    const s = await owner.start({
      worktreeId: wt.id,
      provider: "openai",
      baseUrl: rs.url,
      model: "gpt-5",
      runtime: "codex",
      permissionMode: "auto-edit",
      mcpServerIds: [notes.id],
      prompt: "Echo hi, then take a note.",
    });
    const { task } = await taskEnded(owner, s.id, lastTask(await owner.detail(s.id)).id, 60_000);
    expect(rs.failures).toEqual([]);
    expect(task.status, task.error ?? "").toBe("completed");
    // The server got its own env and none of the runner's credentials.
    expect(echoed).toContain("echo: hi; secret ends 4321; provider key visible: no");
    expect(existsSync(join(wt.path!, "notes.txt"))).toBe(false);
    const msgs = await owner.messages(s.id);
    const results = msgs.flatMap((m) => m.content.filter((b): b is ToolResultBlock => b.type === "tool_result"));
    expect(results.map((r) => [r.name, r.isError])).toEqual([
      ["notes.echo", false],
      ["notes.add_note", true],
    ]);
    expect(results[1]!.output).toMatch(/Codex cannot ask before running add_note.*full mode/);
  }, 120_000);

  it("stops within 2 s while Codex is streaming", async () => {
    const wt = await readyWorktree(w, "codex-stop");
    rs.script([{ text: "word ".repeat(2000), chunkDelayMs: 20 }]);
    const before = rs.requests.length;
    const s = await owner.start({
      worktreeId: wt.id,
      provider: "openai",
      baseUrl: rs.url,
      model: "gpt-5",
      runtime: "codex",
      permissionMode: "auto-edit",
      prompt: "Write a lot.",
    });
    const task = lastTask(await owner.detail(s.id));
    await until("the model is streaming", () => rs.requests.length > before, 60_000);
    await new Promise((r) => setTimeout(r, 500));
    const t0 = Date.now();
    await owner.stop(s.id);
    const { task: ended } = await taskEnded(owner, s.id, task.id, 10_000);
    const took = Date.now() - t0;
    expect(ended.status).toBe("stopped");
    expect(took).toBeLessThan(2000);
    console.log(`codex stop → task stopped in ${took} ms`);
  }, 90_000);
  // Last: it restarts the runner without its runtimes.
  it("a runner without the SDK (TRELLIS_RUNTIMES=none) reports no runtimes; the edge refuses Codex with the install hint", async () => {
    const wt = await readyWorktree(w, "codex-missing");
    const old = w.runner;
    old.kill("SIGTERM");
    expect(await old.exited).toBe(0);
    w.runner = w.s.start([], { ...providerEnv(w.server), HOME: home, TRELLIS_RUNTIMES: "none" });
    await w.runner.waitFor(/connected to /, 30_000);
    const info = await until("the runner reports no runtimes", async () => {
      const r = (await w.s.api<{ items: Runner[] }>("/api/runners")).items.find((x) => x.id === w.s.runnerId)!;
      return r.status === "online" && r.info.runtimes?.length === 0 ? r.info : undefined;
    });
    expect(info.runtimes).toEqual([]);
    const before = (await owner.list()).length;
    const refused = await owner.status("", {
      json: { worktreeId: wt.id, provider: "openai", model: "gpt-5", runtime: "codex", prompt: "Hello." },
    });
    expect(refused.status).toBe(409);
    expect(JSON.parse(refused.body).error).toEqual({
      code: "runtime_unavailable",
      message:
        "Codex: runner 'test-runner' does not have @openai/codex-sdk: run `npm i -g @openai/codex-sdk` on that machine and restart the runner",
    });
    expect(await owner.list()).toHaveLength(before);
  }, 60_000);
});
