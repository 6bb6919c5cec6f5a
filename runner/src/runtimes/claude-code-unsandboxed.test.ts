import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { UNSANDBOXED_TOOL } from "../../../protocol/index.ts";
import { type AgentFixture, agentFixture, allow, deny } from "../../test/agent-kit.ts";
import { ShellSandbox } from "../agent/sandbox.ts";
import { runClaudeCode } from "./claude-code.ts";
import type { RuntimeTask } from "./common.ts";

/**
 * Claude Code in full mode on a machine with no sandbox asks once, as the built-in loop does, before
 * its commands run with the runner's own access; refused, the task runs as auto-edit, where each
 * command waits for a person. Driven through the real SDK against the scripted Messages server.
 */

const none = new ShellSandbox({ state: "unavailable", detail: "bubblewrap (bwrap) not installed" });
let fx: AgentFixture | undefined;
let home: string | undefined;
afterEach(() => {
  fx?.cleanup();
  if (home) rmSync(home, { recursive: true, force: true });
});

async function task(allowedTools = new Set<string>()): Promise<RuntimeTask> {
  fx = await agentFixture("anthropic");
  home = mkdtempSync(join(tmpdir(), "trellis-cc-nosandbox-"));
  const input = fx.input({ mode: "full", sandbox: none, allowedTools });
  return {
    ...input,
    env: { ...input.env, HOME: home, ANTHROPIC_API_KEY: "sk-ant-test" },
    runtimeSessionId: null,
    runtimeTotals: null,
    onRuntimeSession: async () => {},
  };
}

describe("Claude Code where the runner has no sandbox", () => {
  it("full mode asks once; accepted, its commands run and it is not asked again this session", async () => {
    const input = await task();
    fx!.sink.answer = allow();
    fx!.server.script("anthropic", [
      { toolCalls: [{ name: "Bash", input: { command: "echo one > one.txt" } }] },
      { text: "Done." },
    ]);
    await runClaudeCode(input);
    expect(fx!.sink.notices("error")[0]).toMatch(/^No sandbox on this machine: bubblewrap \(bwrap\) not installed/);
    expect(fx!.sink.asks.map((a) => a.tool)).toEqual([UNSANDBOXED_TOOL]);
    expect(fx!.sink.asks[0]!.summary).toMatch(/^let Claude Code run shell commands without a sandbox/);
    expect(input.allowedTools.has(UNSANDBOXED_TOOL)).toBe(true);
    expect(existsSync(join(fx!.repo, "one.txt"))).toBe(true);
  }, 60_000);

  it("refused: the task runs as auto-edit, and the command waits for a person, who may refuse it too", async () => {
    const input = await task();
    fx!.sink.answer = deny("not on my laptop");
    fx!.server.script("anthropic", [
      // A plain `echo > file` too (Claude Code's own acceptEdits would let it through as an edit).
      { toolCalls: [{ name: "Bash", input: { command: "echo one > one.txt" } }] },
      { text: "I could not run it." },
    ]);
    await runClaudeCode(input);
    expect(fx!.sink.notices("info")).toContain(
      "Denied by Alice: not on my laptop This task runs as auto-edit instead: each shell command waits for approval.",
    );
    // The command itself was asked about (auto-edit), and refused: nothing ran.
    expect(fx!.sink.asks.map((a) => a.tool)).toEqual([UNSANDBOXED_TOOL, "Bash"]);
    expect(input.allowedTools.has(UNSANDBOXED_TOOL)).toBe(false);
    expect(existsSync(join(fx!.repo, "one.txt"))).toBe(false);
  }, 60_000);

  it("a session that accepted before is not asked again", async () => {
    const input = await task(new Set([UNSANDBOXED_TOOL]));
    fx!.server.script("anthropic", [{ text: "Nothing to run." }]);
    await runClaudeCode(input);
    expect(fx!.sink.asks).toEqual([]);
  }, 60_000);
});
