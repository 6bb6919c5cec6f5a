import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { PermissionMode } from "../../../protocol/index.ts";
import { type AgentFixture, agentFixture, prompt, stored } from "../../test/agent-kit.ts";
import { runClaudeCode } from "./claude-code.ts";
import { promptOf, type RuntimeTask } from "./common.ts";

/**
 * Claude Code's permission callback answers by the session's mode as it is at each call, in every
 * mode (full included: its own edits run outside the OS sandbox, so one outside the worktree asks).
 * Driven through the real SDK against the scripted Messages server, a change made at a known
 * moment (while the model call after the first command is held).
 */

let fx: AgentFixture | undefined;
let home: string | undefined;
afterEach(async () => {
  await fx?.cleanup();
  if (home) rmSync(home, { recursive: true, force: true });
});

describe("Claude Code's permission mode mid-task", () => {
  it("full, then ask: the next write waits for a person instead of running unasked", async () => {
    fx = await agentFixture("anthropic");
    home = mkdtempSync(join(tmpdir(), "trellis-cc-modes-"));
    let mode: PermissionMode = "full";
    const base = fx.input({ mode: "full" });
    const input: RuntimeTask = {
      ...base,
      permissionMode: () => mode,
      env: { ...base.env, HOME: home, ANTHROPIC_API_KEY: "sk-ant-test" },
      runtimeSessionId: null,
      runtimeTotals: null,
      onRuntimeSession: async () => {},
    };
    const file = join(fx.repo, "later.txt");
    fx.sink.answer = () => ({
      decision: "deny",
      reason: "not now",
      record: { decision: "deny", byUserId: "u-alice", byName: "Alice", reason: "not now", at: Date.now() },
    });
    fx.server.script("anthropic", [
      { toolCalls: [{ name: "Bash", input: { command: "echo one > one.txt" } }] },
      async () => {
        mode = "ask";
        return { toolCalls: [{ name: "Write", input: { file_path: file, content: "later\n" } }] };
      },
      { text: "Left it." },
    ]);
    await runClaudeCode(input);
    expect(fx.server.failures).toEqual([]);
    // The command ran in full mode unasked; the write after the change was asked about and refused.
    expect(existsSync(join(fx.repo, "one.txt"))).toBe(true);
    expect(fx.sink.asks.map((a) => a.tool)).toEqual(["Write"]);
    expect(existsSync(file)).toBe(false);
    // Each model call's usage rides on its own message, and each message knows its place in Claude Code's session.
    const assistant = fx.sink.byRole("assistant");
    expect(assistant.map((m) => m.usage?.input)).toEqual([10, 10, 10]);
    expect(fx.sink.messages.filter((m) => m.role !== "system").every((m) => m.runtimeRef?.uuid)).toBe(true);
  }, 60_000);
});

describe("Claude Code in full mode", () => {
  it("works in the worktree unasked; a read or write outside it, or a fetch from a host not allowed, waits for a person", async () => {
    fx = await agentFixture("anthropic");
    home = mkdtempSync(join(tmpdir(), "trellis-cc-full-"));
    const base = fx.input({ mode: "full" });
    const input: RuntimeTask = {
      ...base,
      env: { ...base.env, HOME: home, ANTHROPIC_API_KEY: "sk-ant-test" },
      runtimeSessionId: null,
      runtimeTotals: null,
      onRuntimeSession: async () => {},
    };
    const inside = join(fx.repo, "inside.txt");
    const outside = join(home, "outside.txt");
    fx.sink.answer = () => ({
      decision: "deny",
      reason: "not there",
      record: { decision: "deny", byUserId: "u-alice", byName: "Alice", reason: "not there", at: Date.now() },
    });
    const secret = join(home, "secret.txt");
    writeFileSync(secret, "the runner's own\n");
    fx.server.script("anthropic", [
      { toolCalls: [{ name: "Write", input: { file_path: inside, content: "in\n" } }] },
      { toolCalls: [{ name: "Read", input: { file_path: join(fx.repo, "inside.txt") } }] },
      { toolCalls: [{ name: "Write", input: { file_path: outside, content: "out\n" } }] },
      { toolCalls: [{ name: "Read", input: { file_path: secret } }] },
      { toolCalls: [{ name: "WebFetch", input: { url: "https://example.com/", prompt: "what is it" } }] },
      { text: "Done." },
    ]);
    await runClaudeCode(input);
    expect(fx.server.failures).toEqual([]);
    expect(existsSync(inside)).toBe(true);
    expect(existsSync(outside)).toBe(false);
    // Claude Code's file and web tools run in its own process, outside the OS sandbox.
    expect(fx.sink.asks.map((a) => [a.tool, a.personOnly])).toEqual([
      ["Write", true],
      ["Read", true],
      ["WebFetch", true],
    ]);
    expect(JSON.stringify(fx.server.requests.at(-1)?.body)).not.toContain("the runner's own");
  }, 60_000);
});

describe("what a fork or another runtime's session gives the SDK", () => {
  const history = [
    prompt("Look at the file."),
    stored("assistant", [
      { type: "text", text: "Reading it." },
      { type: "tool_call", id: "t1", name: "Read", input: { file_path: "/w/app.ts" } },
    ]),
    stored("tool", [{ type: "tool_result", callId: "t1", name: "Read", output: "x".repeat(5000), isError: false }]),
    stored("system", [{ type: "notice", kind: "info", text: "a notice" }]),
    prompt("Now shorten it."),
  ];
  const task = (runtimeSessionId: string | null) => ({ history, runtimeSessionId }) as unknown as RuntimeTask;

  it("replays the conversation with its tool calls and results, cut to size; never the notices", () => {
    const text = promptOf(task(null));
    expect(text).toMatch(/^The conversation so far:\n\nUser: Look at the file\.\n\nAssistant: Reading it\./);
    expect(text).toContain('[called Read with {"file_path":"/w/app.ts"}]');
    expect(text).toContain(`Tool results: [Read returned]\n${"x".repeat(4000)}\n[cut at 4000 characters]`);
    expect(text).not.toContain("a notice");
    expect(text.endsWith("The new request:\n\nNow shorten it.")).toBe(true);
  });

  it("gives only what the SDK's session does not hold: nothing when resuming it, the rest after a fork point", () => {
    expect(promptOf(task("sdk-session"))).toBe("Now shorten it.");
    const afterRead = promptOf(task(null), history[2]!.seq);
    expect(afterRead).toBe("Now shorten it.");
    const afterCall = promptOf(task(null), history[1]!.seq);
    expect(afterCall).toContain("Tool results: [Read returned]");
    expect(afterCall).not.toContain("Look at the file.");
  });
});
