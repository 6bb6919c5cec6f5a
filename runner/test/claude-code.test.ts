/**
 * Claude Code as a session runtime, for real: the runner loads @anthropic-ai/claude-agent-sdk,
 * whose Claude Code binary talks to the scripted Messages server (ANTHROPIC_BASE_URL), edits a
 * file in a real git worktree once a second person approves it over REST, resumes its own session
 * on the next prompt, and stops within 2 s.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Runner, ToolResultBlock } from "../../protocol/index.ts";
import type { RequestBody } from "../../test/model-server.ts";
import {
  as,
  type Client,
  lastTask,
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
  }, 90_000);
});
