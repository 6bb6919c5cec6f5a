import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { costMicros } from "../../../protocol/index.ts";
import { type AgentFixture, agentFixture, PROVIDERS } from "../../test/agent-kit.ts";
import { providerReadiness, runTask } from "./index.ts";

let fx: AgentFixture;
afterEach(() => fx?.cleanup());

describe.each(PROVIDERS)("%s: a task with tools", (provider) => {
  it("reads a file, edits it and checks the edit with shell; the file really changed", async () => {
    fx = await agentFixture(provider, { "src/app.ts": 'export const greeting = "hello";\n' });
    fx.server.script(provider, [
      { text: "Let me read the file first.", toolCalls: [{ name: "read_file", input: { path: "src/app.ts" } }] },
      (body) => {
        // The read's result (numbered lines) reached the model.
        expect(JSON.stringify(body.messages)).toContain('1\\texport const greeting = \\"hello\\";');
        return {
          thinking: "The greeting should be friendlier.",
          toolCalls: [
            {
              name: "edit_file",
              input: { path: "src/app.ts", old_string: '"hello"', new_string: '"hello, world"' },
            },
          ],
        };
      },
      { toolCalls: [{ name: "shell", input: { command: "grep -c 'hello, world' src/app.ts" } }] },
      (body) => {
        expect(JSON.stringify(body.messages)).toContain("[exit code 0]");
        return { text: "Changed the greeting.\nThe check passed." };
      },
    ]);

    const { finalText } = await runTask(fx.input({ prompt: "Make the greeting friendlier." }));

    expect(finalText).toBe("Changed the greeting.\nThe check passed.");
    expect(readFileSync(join(fx.repo, "src/app.ts"), "utf8")).toBe('export const greeting = "hello, world";\n');
    expect(fx.server.requests).toHaveLength(4);

    const roles = fx.sink.messages.map((m) => m.role);
    expect(roles).toEqual(["assistant", "tool", "assistant", "tool", "assistant", "tool", "assistant"]);
    const [read, edit, shell] = fx.sink.toolResults;
    expect(read).toMatchObject({ name: "read_file", isError: false });
    expect(edit).toMatchObject({ name: "edit_file", isError: false });
    expect(edit!.meta?.diff).toContain('-export const greeting = "hello";');
    expect(edit!.meta?.diff).toContain('+export const greeting = "hello, world";');
    expect(shell).toMatchObject({ name: "shell", isError: false, meta: { exitCode: 0 } });
    expect(shell!.output).toContain("1");
    for (const r of [read, edit, shell]) expect(r!.meta?.decision).toMatchObject({ decision: "mode", byUserId: null });

    // Every assistant message carries the id its deltas streamed under, and that stream was ended.
    const assistants = fx.sink.byRole("assistant");
    expect(fx.sink.textOf(assistants[0]!.id)).toBe("Let me read the file first.");
    expect(fx.sink.textOf(assistants[1]!.id, "thinking")).toBe("The greeting should be friendlier.");
    expect(fx.sink.textOf(assistants[1]!.id, "tool_input")).toContain('"old_string"');
    for (const a of assistants) expect(fx.sink.ended).toContain(a.id);
    expect(assistants[1]!.content.find((b) => b.type === "tool_call")).toMatchObject({
      name: "edit_file",
      input: { path: "src/app.ts", old_string: '"hello"', new_string: '"hello, world"' },
    });

    expect(fx.sink.nowDoing).toEqual([
      "Let me read the file first.",
      "read src/app.ts",
      "edit src/app.ts",
      "shell: grep -c 'hello, world' src/app.ts",
      "The check passed.",
    ]);
  });

  it("reports each call's usage and prompt size; cost follows the price table, and no price is null", async () => {
    fx = await agentFixture(provider);
    const usage = { input: 1200, output: 300, cacheRead: 5000, cacheWrite: provider === "anthropic" ? 800 : 0 };
    fx.server.script(provider, [{ text: "Done.", usage }]);
    await runTask(fx.input());
    const [m] = fx.sink.byRole("assistant");
    expect(m!.usage).toEqual(usage);
    expect(m!.contextTokens).toBe(usage.input + usage.cacheRead + usage.cacheWrite);

    if (provider === "anthropic") {
      // Sonnet 4.5: $3 in, $15 out, $0.30 cache read, $3.75 cache write per million tokens.
      expect(costMicros("anthropic", "claude-sonnet-4-5", m!.usage!)).toBe(
        1200 * 3 + 300 * 15 + 5000 * 0.3 + 800 * 3.75,
      );
    } else {
      // GPT-5: $1.25 in, $10 out, $0.125 cached per million tokens.
      expect(costMicros("openai", "gpt-5", m!.usage!)).toBe(1200 * 1.25 + 300 * 10 + 5000 * 0.125);
    }
    expect(costMicros(provider, "some-local-model", m!.usage!)).toBeNull();
  });

  it("sends the tools, and the prompt-cache breakpoints (Anthropic) or usage request (OpenAI)", async () => {
    fx = await agentFixture(provider);
    await runTask(fx.input({ prompt: "Hi" }));
    const [req] = fx.server.requests;
    const names = (req!.body.tools ?? []).map((t) =>
      provider === "anthropic" ? t.name : (t.function as { name: string }).name,
    );
    expect(names).toEqual([
      "read_file",
      "list_files",
      "grep",
      "edit_file",
      "write_file",
      "shell",
      "todo_write",
      "spawn_session",
    ]);
    if (provider === "anthropic") {
      expect(req!.path).toBe("/v1/messages");
      expect(req!.headers.authorization ?? req!.headers["x-api-key"]).toContain("sk-ant-test-key");
      const system = req!.body.system as { cache_control?: unknown; text: string }[];
      expect(system[0]!.cache_control).toEqual({ type: "ephemeral" });
      expect(system[0]!.text).toContain("git worktree");
      expect(req!.body.tools!.at(-1)!.cache_control).toEqual({ type: "ephemeral" });
      expect(req!.body.tools![0]!.cache_control).toBeUndefined();
      const last = req!.body.messages!.at(-1)!.content as { cache_control?: unknown }[];
      expect(last.at(-1)!.cache_control).toEqual({ type: "ephemeral" });
      expect(req!.body.max_tokens).toBeGreaterThan(0);
    } else {
      expect(req!.path).toBe("/v1/chat/completions");
      expect(req!.headers.authorization).toBe("Bearer sk-openai-test-key");
      expect(req!.body.stream_options).toEqual({ include_usage: true });
      expect(req!.body.messages![0]).toMatchObject({ role: "system" });
    }
  });

  it("stops at maxTurns with a notice", async () => {
    fx = await agentFixture(provider);
    const loop = { toolCalls: [{ name: "list_files", input: {} }] };
    fx.server.script(provider, [loop, loop, loop]);
    const { finalText } = await runTask(fx.input({ maxTurns: 2 }));
    expect(finalText).toBe("");
    expect(fx.server.requests).toHaveLength(2);
    expect(fx.sink.notices("info")[0]).toMatch(/after 2 model calls/);
  });
});

describe("OpenAI-compatible servers", () => {
  it("assembles parallel tool calls by index, and reads reasoning_content as thinking", async () => {
    fx = await agentFixture("openai", { "a.txt": "A\n", "b.txt": "B\n" });
    fx.server.script("openai", [
      {
        thinking: "Both files, at once.",
        toolCalls: [
          { name: "read_file", input: { path: "a.txt" } },
          { name: "read_file", input: { path: "b.txt" } },
        ],
        chunkSize: 3,
      },
      { text: "A and B." },
    ]);
    await runTask(fx.input());
    const first = fx.sink.byRole("assistant")[0]!;
    expect(first.content[0]).toEqual({ type: "thinking", thinking: "Both files, at once." });
    expect(fx.sink.toolResults.map((r) => r.output)).toEqual(["     1\tA", "     1\tB"]);
    // One tool message with both results, each answering its own call.
    expect(fx.sink.byRole("tool")).toHaveLength(1);
    const sent = fx.server.requests[1]!.body.messages!;
    const calls = (sent.at(-3)!.tool_calls as { id: string }[]).map((c) => c.id);
    expect(sent.slice(-2).map((m) => m.tool_call_id)).toEqual(calls);
  });

  it("uses the session's base URL, and needs no key for it", async () => {
    fx = await agentFixture("openai");
    const input = fx.input({ baseUrl: fx.server.openaiUrl });
    input.env = { PATH: process.env.PATH };
    fx.server.script("openai", [{ text: "Local model here." }]);
    expect((await runTask(input)).finalText).toBe("Local model here.");
    expect(fx.server.requests[0]!.headers.authorization).toMatch(/^Bearer \S+/);
  });
});

describe("providerReadiness", () => {
  it("says what to set when a provider cannot be served", () => {
    expect(providerReadiness({})).toEqual([
      { provider: "anthropic", ready: false, reason: "no ANTHROPIC_API_KEY: set it and restart the runner" },
      { provider: "openai", ready: false, reason: expect.stringMatching(/no OPENAI_API_KEY or OPENAI_BASE_URL/) },
    ]);
    expect(providerReadiness({ ANTHROPIC_API_KEY: "k", OPENAI_BASE_URL: "http://localhost:11434/v1" })).toEqual([
      { provider: "anthropic", ready: true },
      { provider: "openai", ready: true, baseUrl: "http://localhost:11434/v1" },
    ]);
    expect(providerReadiness({ OPENAI_API_KEY: "k" })[1]).toEqual({ provider: "openai", ready: true });
  });

  it("a task for a provider without credentials fails in plain words", async () => {
    fx = await agentFixture("anthropic");
    const input = fx.input();
    input.env = { PATH: process.env.PATH };
    await expect(runTask(input)).rejects.toMatchObject({
      name: "AgentError",
      code: "no_credentials",
      message: "no ANTHROPIC_API_KEY: set it and restart the runner",
    });
  });
});
