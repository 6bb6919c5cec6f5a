import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { PermissionMode } from "../../../protocol/index.ts";
import type { ScriptStep } from "../../../test/model-server.ts";
import { type AgentFixture, agentFixture, allow, allowAlways, deny, PROVIDERS } from "../../test/agent-kit.ts";
import { runTask } from "./index.ts";
import { gate } from "./permissions.ts";

let fx: AgentFixture;
afterEach(() => fx?.cleanup());

/** One edit, one write and one shell command, then a last word. */
const EDIT_WRITE_SHELL: ScriptStep[] = [
  { toolCalls: [{ name: "edit_file", input: { path: "README.md", old_string: "hello", new_string: "hi" } }] },
  { toolCalls: [{ name: "write_file", input: { path: "notes/new.md", content: "new\n" } }] },
  { toolCalls: [{ name: "shell", input: { command: "echo ran > ran.txt" } }] },
  { toolCalls: [{ name: "read_file", input: { path: "README.md" } }] },
  { text: "Done." },
];

async function runWith(mode: PermissionMode) {
  fx = await agentFixture("anthropic");
  fx.server.script("anthropic", EDIT_WRITE_SHELL);
  await runTask(fx.input({ mode }));
  return fx.sink.asks.map((a) => a.tool);
}

describe("permission modes", () => {
  it("ask: edits and shell ask, reads do not; each request shows exactly what would happen", async () => {
    expect(await runWith("ask")).toEqual(["edit_file", "write_file", "shell"]);
    const [edit, write, shell] = fx.sink.asks;
    expect(edit).toMatchObject({ summary: "edit README.md", tool: "edit_file" });
    expect(edit!.diff).toContain("-hello");
    expect(edit!.diff).toContain("+hi");
    const call = fx.sink.byRole("assistant")[0]!.content.find((b) => b.type === "tool_call");
    expect(edit!.callId).toBe(call?.type === "tool_call" ? call.id : "none");
    expect(write).toMatchObject({ summary: "create notes/new.md" });
    expect(write!.diff).toContain("--- /dev/null");
    expect(write!.diff).toContain("+new");
    expect(shell).toMatchObject({ summary: "run `echo ran > ran.txt`", command: "echo ran > ran.txt" });
    expect(shell!.requestId).toMatch(/^[0-9a-f-]{36}$/);
    // Approved, so done; and who approved is on each result.
    expect(readFileSync(join(fx.repo, "README.md"), "utf8")).toBe("hi\n");
    expect(readFileSync(join(fx.repo, "ran.txt"), "utf8")).toBe("ran\n");
    const decisions = fx.sink.toolResults.map((r) => r.meta?.decision?.decision);
    expect(decisions).toEqual(["allow", "allow", "allow", "mode"]);
    expect(fx.sink.toolResults[0]!.meta?.decision).toMatchObject({ byUserId: "u-alice", byName: "Alice" });
  });

  it("auto-edit: only shell asks", async () => {
    expect(await runWith("auto-edit")).toEqual(["shell"]);
    expect(existsSync(join(fx.repo, "notes/new.md"))).toBe(true);
  });

  it("full: nothing asks", async () => {
    expect(await runWith("full")).toEqual([]);
    expect(existsSync(join(fx.repo, "ran.txt"))).toBe(true);
  });

  it("read-only: edits and shell are refused with a result the model reads; reads still run", async () => {
    expect(await runWith("read-only")).toEqual([]);
    const [edit, write, shell, read] = fx.sink.toolResults;
    for (const r of [edit, write, shell]) {
      expect(r).toMatchObject({ isError: true });
      expect(r!.output).toMatch(/read-only/);
      expect(r!.meta?.decision).toMatchObject({ decision: "deny", byUserId: null });
    }
    expect(read).toMatchObject({ isError: false });
    expect(readFileSync(join(fx.repo, "README.md"), "utf8")).toBe("hello\n");
    expect(existsSync(join(fx.repo, "ran.txt"))).toBe(false);
    expect(JSON.stringify(fx.server.requests[1]!.body.messages)).toContain("read-only");
  });

  it("the gate, mode by mode", () => {
    const table = (["ask", "auto-edit", "full", "read-only"] as const).map((m) => [
      m,
      gate("read", m, false),
      gate("edit", m, false),
      gate("shell", m, false),
      gate("shell", m, true),
    ]);
    expect(table).toEqual([
      ["ask", "run", "ask", "ask", "run"],
      ["auto-edit", "run", "run", "ask", "run"],
      ["full", "run", "run", "run", "run"],
      ["read-only", "run", "refuse", "refuse", "refuse"],
    ]);
  });
});

describe.each(PROVIDERS)("%s: decisions", (provider) => {
  it("a denial's reason reaches the model in the next request, and nothing ran", async () => {
    fx = await agentFixture(provider);
    fx.sink.answer = deny("use pnpm, not npm");
    fx.server.script(provider, [
      { toolCalls: [{ name: "shell", input: { command: "npm install > installed.txt" } }] },
      (body) => {
        expect(JSON.stringify(body.messages)).toContain("Denied by Alice: use pnpm, not npm");
        return { text: "I will use pnpm." };
      },
    ]);
    const { finalText } = await runTask(fx.input({ mode: "ask" }));
    expect(finalText).toBe("I will use pnpm.");
    expect(existsSync(join(fx.repo, "installed.txt"))).toBe(false);
    const [r] = fx.sink.toolResults;
    expect(r).toMatchObject({ isError: true, output: "Denied by Alice: use pnpm, not npm" });
    expect(r!.meta?.decision).toMatchObject({ decision: "deny", byName: "Alice", reason: "use pnpm, not npm" });
    if (provider === "anthropic") {
      const results = fx.server.requests[1]!.body.messages!.at(-1)!.content as { type: string; is_error?: boolean }[];
      expect(results[0]).toMatchObject({ type: "tool_result", is_error: true });
    }
  });
});

describe("allow_always and a changing mode", () => {
  it("allow_always approves the tool for the rest of the session: it does not ask again", async () => {
    fx = await agentFixture("anthropic");
    fx.sink.answer = allowAlways();
    const shell = (command: string): ScriptStep => ({ toolCalls: [{ name: "shell", input: { command } }] });
    fx.server.script("anthropic", [shell("echo 1"), shell("echo 2"), { text: "ok" }]);
    const input = { ...fx.input({ mode: "ask" }), approvers: new Map<string, string>() };
    await runTask(input);
    expect(fx.sink.asks).toHaveLength(1);
    expect(input.allowedTools.has("shell")).toBe(true);
    // The call it was not asked about still says who let it run.
    expect(fx.sink.toolResults.map((r) => [r.meta?.decision?.decision, r.meta?.decision?.byName])).toEqual([
      ["allow_always", "Alice"],
      ["allow_always", "Alice"],
    ]);

    // The next task of the session gets the same set: still no asking.
    fx.server.script("anthropic", [shell("echo 3"), { text: "ok" }]);
    await runTask({ ...input });
    expect(fx.sink.asks).toHaveLength(1);
  });

  it("a mode changed mid-task applies from the next tool call", async () => {
    fx = await agentFixture("anthropic");
    let mode: PermissionMode = "full";
    fx.sink.answer = allow();
    fx.server.script("anthropic", [
      { toolCalls: [{ name: "shell", input: { command: "echo first" } }] },
      () => {
        mode = "ask"; // a person narrows the mode while the model thinks
        return { toolCalls: [{ name: "shell", input: { command: "echo second" } }] };
      },
      () => {
        mode = "read-only";
        return { toolCalls: [{ name: "shell", input: { command: "echo third" } }] };
      },
      { text: "ok" },
    ]);
    await runTask({ ...fx.input(), permissionMode: () => mode });
    expect(fx.sink.asks.map((a) => a.command)).toEqual(["echo second"]);
    const [first, second, third] = fx.sink.toolResults;
    expect(first!.meta?.decision?.decision).toBe("mode");
    expect(second!.meta?.decision?.decision).toBe("allow");
    expect(third).toMatchObject({ isError: true });
    expect(third!.output).toMatch(/read-only/);
  });

  it("an edit that cannot apply is refused without bothering anyone", async () => {
    fx = await agentFixture("anthropic", { "a.txt": "x\nx\n" });
    fx.server.script("anthropic", [
      { toolCalls: [{ name: "edit_file", input: { path: "a.txt", old_string: "x", new_string: "y" } }] },
      { text: "ok" },
    ]);
    await runTask(fx.input({ mode: "ask" }));
    expect(fx.sink.asks).toHaveLength(0);
    expect(fx.sink.toolResults[0]!.output).toMatch(/appears 2 times/);
  });
});
