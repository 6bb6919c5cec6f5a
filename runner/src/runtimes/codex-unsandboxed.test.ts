import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { UNSANDBOXED_TOOL } from "../../../protocol/index.ts";
import { type ResponsesServer, startResponsesServer } from "../../../test/responses-server.ts";
import { type AgentFixture, agentFixture, allow, deny } from "../../test/agent-kit.ts";
import { ShellSandbox } from "../agent/sandbox.ts";
import { runCodex } from "./codex.ts";
import type { RuntimeTask } from "./common.ts";

/**
 * Codex in full mode on a machine with no sandbox asks once, as the built-in loop and Claude Code
 * do, before it runs with the runner's own access; refused, the task runs as auto-edit, in Codex's
 * own sandbox. Driven through the real SDK against the scripted Responses server.
 */

const none = new ShellSandbox({ state: "unavailable", detail: "bubblewrap (bwrap) not installed" });
let rs: ResponsesServer;
let fx: AgentFixture | undefined;
// Outside the temp folder: Codex will not keep its Linux sandbox's helper under it (see codex.ts).
const home = mkdtempSync(join("/var/tmp", "trellis-codex-nosandbox-"));
beforeAll(async () => {
  rs = await startResponsesServer();
});
afterAll(async () => {
  await rs.close();
  rmSync(home, { recursive: true, force: true });
});
afterEach(async () => {
  await fx?.cleanup();
});

async function task(allowedTools = new Set<string>()): Promise<RuntimeTask> {
  fx = await agentFixture("openai");
  const input = fx.input({ mode: "full", sandbox: none, allowedTools });
  return {
    ...input,
    baseUrl: rs.url,
    env: { ...input.env, HOME: home },
    runtimeSessionId: null,
    runtimeTotals: null,
    onRuntimeSession: async () => {},
  };
}

const exec = (cmd: string) => ({ calls: [{ name: "exec_command", arguments: { cmd } }] });

describe("Codex where the runner has no sandbox", () => {
  it("full mode asks once; accepted, its commands run and it is not asked again this session", async () => {
    const input = await task();
    fx!.sink.answer = allow();
    rs.script([exec("echo one > one.txt"), { text: "Done." }]);
    await runCodex(input);
    expect(rs.failures).toEqual([]);
    expect(fx!.sink.notices("error")[0]).toMatch(/^No sandbox on this machine: bubblewrap \(bwrap\) not installed/);
    expect(fx!.sink.asks.map((a) => a.tool)).toEqual([UNSANDBOXED_TOOL]);
    expect(fx!.sink.asks[0]!.summary).toMatch(/^let Codex run shell commands without a sandbox/);
    expect(input.allowedTools.has(UNSANDBOXED_TOOL)).toBe(true);
    expect(existsSync(join(fx!.repo, "one.txt"))).toBe(true);
  }, 60_000);

  it("refused: the task runs as auto-edit, in Codex's own sandbox, which keeps writes in the worktree", async () => {
    const input = await task();
    fx!.sink.answer = deny("not on my laptop");
    const outside = join(home, "outside.txt");
    rs.script([exec(`echo one > one.txt; echo x > ${outside} || echo refused`), { text: "Tried." }]);
    await runCodex(input);
    expect(rs.failures).toEqual([]);
    expect(fx!.sink.notices("info")).toContain(
      "Denied by Alice: not on my laptop This task runs as auto-edit instead: Codex's own sandbox lets commands write only in the worktree.",
    );
    expect(fx!.sink.asks.map((a) => a.tool)).toEqual([UNSANDBOXED_TOOL]);
    expect(input.allowedTools.has(UNSANDBOXED_TOOL)).toBe(false);
    expect(existsSync(join(fx!.repo, "one.txt"))).toBe(true);
    expect(existsSync(outside)).toBe(false);
    expect(fx!.sink.toolResults[0]!.output).toContain("refused");
  }, 60_000);

  it("a session that accepted before is not asked again", async () => {
    const input = await task(new Set([UNSANDBOXED_TOOL]));
    rs.script([{ text: "Nothing to run." }]);
    await runCodex(input);
    expect(fx!.sink.asks).toEqual([]);
  }, 60_000);
});
