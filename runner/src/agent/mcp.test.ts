import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { McpServerRuntime } from "../../../protocol/index.ts";
import { ROOT } from "../../../test/server.ts";
import { type AgentFixture, agentFixture, deny } from "../../test/agent-kit.ts";
import { runTask } from "./index.ts";
import { mcpToolName } from "./mcp.ts";

/**
 * MCP servers as the agent core uses them, with a real stdio server (the SDK's McpServer in
 * runner/test/fixtures/notes-mcp.ts) and the real SDKs against the scripted model server: tools
 * offered by name, the permission mode applied, a broken server told and gone around.
 */

const NODE = join(ROOT, "node_modules/.bin/node");
const notes = (over: Partial<Extract<McpServerRuntime, { transport: "stdio" }>> = {}): McpServerRuntime => ({
  id: "srv-notes",
  name: "notes",
  transport: "stdio",
  command: NODE,
  args: [join(ROOT, "runner/test/fixtures/notes-mcp.ts")],
  env: { NOTES_SECRET: "s3cret-value-9876" },
  ...over,
});
const broken: McpServerRuntime = {
  id: "srv-broken",
  name: "broken",
  transport: "stdio",
  command: "trellis-no-such-mcp-server",
  args: [],
  env: {},
};

let fx: AgentFixture;
beforeEach(async () => {
  fx = await agentFixture("anthropic");
});
afterEach(() => fx.cleanup());

describe("tool names", () => {
  it("keep to what both providers accept, the same every time, cut long ones with a hash", () => {
    expect(mcpToolName("trellis", "trellis_sessions_list")).toBe("trellis__trellis_sessions_list");
    expect(mcpToolName("my.server", "do thing/now")).toBe("my_server__do_thing_now");
    const long = mcpToolName("s", "x".repeat(100));
    expect(long).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
    expect(long).toHaveLength(64);
    expect(mcpToolName("s", "x".repeat(100))).toBe(long);
    expect(mcpToolName("s", `${"x".repeat(100)}y`)).not.toBe(long);
    const taken = new Set(["a__b"]);
    expect(mcpToolName("a", "b", taken)).toMatch(/^a__b_[0-9a-f]{8}$/);
  });
});

describe("a stdio MCP server", () => {
  it("its tools are offered as notes__*; a read-only one runs in ask mode, the other waits; a broken server is told and skipped", async () => {
    fx.server.script("anthropic", [
      (body) => {
        const names = (body.tools ?? []).map((t) => t.name);
        expect(names).toContain("notes__echo");
        expect(names).toContain("notes__add_note");
        expect(names.some((n) => String(n).startsWith("broken__"))).toBe(false);
        return { toolCalls: [{ name: "notes__echo", input: { text: "hi" } }] };
      },
      (body) => {
        const sent = JSON.stringify(body.messages);
        expect(sent).toContain("echo: hi; secret ends 9876; provider key visible: no");
        return { toolCalls: [{ name: "notes__add_note", input: { text: "from the agent" } }] };
      },
      { text: "Noted." },
    ]);
    const { finalText } = await runTask(fx.input({ mode: "ask", mcp: { servers: [notes(), broken] } }));
    expect(fx.server.failures).toEqual([]);
    expect(finalText).toBe("Noted.");
    expect(fx.sink.notices("error")).toEqual([
      'MCP server "broken" is not available for this task: the command trellis-no-such-mcp-server was not found on this runner. The task goes on without its tools.',
    ]);
    expect(fx.sink.asks.map((a) => a.tool)).toEqual(["notes__add_note"]);
    expect(fx.sink.asks[0]!.summary).toBe('call add_note on the MCP server "notes"');
    expect(JSON.parse(fx.sink.asks[0]!.command!)).toEqual({ text: "from the agent" });
    expect(fx.sink.toolResults.map((r) => [r.name, r.isError, r.output.split(";")[0]])).toEqual([
      ["notes__echo", false, "echo: hi"],
      ["notes__add_note", false, "noted: from the agent"],
    ]);
    // It ran in the worktree.
    expect(readFileSync(join(fx.repo, "notes.txt"), "utf8")).toBe("from the agent\n");
  });

  it("read-only refuses its non-read-only tools; a denial is the result; auto-edit still asks", async () => {
    fx.server.script("anthropic", [
      { toolCalls: [{ name: "notes__add_note", input: { text: "no" } }] },
      { text: "ok" },
    ]);
    await runTask(fx.input({ mode: "read-only", mcp: { servers: [notes()] } }));
    expect(fx.sink.asks).toEqual([]);
    expect(fx.sink.toolResults[0]).toMatchObject({ name: "notes__add_note", isError: true });
    expect(fx.sink.toolResults[0]!.output).toContain("This session is read-only");
    expect(existsSync(join(fx.repo, "notes.txt"))).toBe(false);

    fx.sink.answer = deny("not now");
    fx.server.script("anthropic", [
      { toolCalls: [{ name: "notes__add_note", input: { text: "no" } }] },
      { text: "ok" },
    ]);
    await runTask(fx.input({ mode: "auto-edit", mcp: { servers: [notes()] } }));
    expect(fx.sink.asks.map((a) => a.tool)).toEqual(["notes__add_note"]);
    expect(fx.sink.toolResults[1]!.output).toBe("Denied by Alice: not now");
    expect(existsSync(join(fx.repo, "notes.txt"))).toBe(false);
  });

  it("a server that starts but never answers is given up on after the connect timeout, told, and the task goes on", async () => {
    const silent: McpServerRuntime = {
      id: "srv-silent",
      name: "silent",
      transport: "stdio",
      command: NODE,
      args: [join(ROOT, "runner/test/fixtures/silent-mcp.ts")],
      env: {},
    };
    fx.server.script("anthropic", [
      (body) => {
        expect((body.tools ?? []).map((t) => String(t.name)).some((n) => n.startsWith("silent__"))).toBe(false);
        return { text: "Went on without it." };
      },
    ]);
    const { finalText } = await runTask(fx.input({ mcp: { servers: [silent], connectTimeoutMs: 1000 } }));
    expect(fx.server.failures).toEqual([]);
    expect(finalText).toBe("Went on without it.");
    const [notice, ...more] = fx.sink.notices("error");
    expect(more).toEqual([]);
    // What it printed before going quiet is quoted when it arrived in time (a busy machine may start it later).
    expect(notice).toMatch(
      /^MCP server "silent" is not available for this task: it did not answer within 1 s( \(it said: silent-mcp: started, waiting for nothing\))?\. The task goes on without its tools\.$/,
    );
  });

  it("a refused server is told in the transcript; the task goes on", async () => {
    fx.server.script("anthropic", [{ text: "fine" }]);
    const { finalText } = await runTask(
      fx.input({ mcp: { servers: [], refused: [{ id: "x", name: "theirs", reason: "not yours to run" }] } }),
    );
    expect(finalText).toBe("fine");
    expect(fx.sink.notices("error")[0]).toBe(
      'MCP server "theirs" is not available for this task: not yours to run. The task goes on without its tools.',
    );
  });
});
