import { afterEach, describe, expect, it } from "vitest";
import type { Message } from "../../../protocol/index.ts";
import { type AgentFixture, agentFixture, prompt, stored } from "../../test/agent-kit.ts";
import { toAnthropicMessages } from "./anthropic.ts";
import { runTask } from "./index.ts";
import { toOpenAIMessages } from "./openai.ts";

let fx: AgentFixture;
afterEach(() => fx?.cleanup());

/** A previous task that used tools, then a child's answer, then the new prompt. */
function previousTask(): Message[] {
  return [
    prompt("Fix the greeting."),
    stored("assistant", [
      { type: "thinking", thinking: "Signed thought.", signature: "sig-1" },
      { type: "thinking", thinking: "Unsigned thought (from another provider)." },
      { type: "text", text: "Reading it." },
      { type: "tool_call", id: "toolu_01", name: "read_file", input: { path: "src/app.ts" } },
      { type: "tool_call", id: "toolu_02", name: "shell", input: { command: "npm test" } },
    ]),
    stored("tool", [
      { type: "tool_result", callId: "toolu_01", name: "read_file", output: "     1\thello", isError: false },
      { type: "tool_result", callId: "toolu_02", name: "shell", output: "Denied by Alice: use pnpm", isError: true },
    ]),
    stored("system", [{ type: "notice", kind: "retry", text: "Anthropic is overloaded; retrying in 1 s" }]),
    stored("assistant", [{ type: "text", text: "Fixed." }]),
    prompt("Here is what I found.", { fromSessionId: "child-1", authorId: null, authorName: null }),
    prompt("Now add a test."),
  ];
}

describe("history → Anthropic", () => {
  it("tool results in a user turn, thinking only with its signature, system messages left out, a child's answer marked", () => {
    expect(toAnthropicMessages(previousTask())).toEqual([
      { role: "user", content: [{ type: "text", text: "Fix the greeting." }] },
      {
        role: "assistant",
        content: [
          { type: "thinking", thinking: "Signed thought.", signature: "sig-1" },
          { type: "text", text: "Reading it." },
          { type: "tool_use", id: "toolu_01", name: "read_file", input: { path: "src/app.ts" } },
          { type: "tool_use", id: "toolu_02", name: "shell", input: { command: "npm test" } },
        ],
      },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "toolu_01", content: "     1\thello", is_error: false },
          { type: "tool_result", tool_use_id: "toolu_02", content: "Denied by Alice: use pnpm", is_error: true },
        ],
      },
      { role: "assistant", content: [{ type: "text", text: "Fixed." }] },
      {
        role: "user",
        content: [
          { type: "text", text: "[Answer from spawned session child-1]\n\nHere is what I found." },
          { type: "text", text: "Now add a test.", cache_control: { type: "ephemeral" } },
        ],
      },
    ]);
  });
});

describe("history → OpenAI", () => {
  it("assistant tool_calls with JSON arguments, then one tool message per result; no thinking", () => {
    expect(toOpenAIMessages("SYSTEM", previousTask())).toEqual([
      { role: "system", content: "SYSTEM" },
      { role: "user", content: "Fix the greeting." },
      {
        role: "assistant",
        content: "Reading it.",
        tool_calls: [
          { id: "toolu_01", type: "function", function: { name: "read_file", arguments: '{"path":"src/app.ts"}' } },
          { id: "toolu_02", type: "function", function: { name: "shell", arguments: '{"command":"npm test"}' } },
        ],
      },
      { role: "tool", tool_call_id: "toolu_01", content: "     1\thello" },
      { role: "tool", tool_call_id: "toolu_02", content: "Error: Denied by Alice: use pnpm" },
      { role: "assistant", content: "Fixed." },
      { role: "user", content: "[Answer from spawned session child-1]\n\nHere is what I found." },
      { role: "user", content: "Now add a test." },
    ]);
  });
});

describe("a fork's copied history, and a stopped task's", () => {
  /** Forked at an assistant message whose tool calls never got results, then prompted. */
  const forked = (): Message[] => [
    prompt("Start."),
    stored("assistant", [
      { type: "tool_call", id: "call_9f.x", name: "list_files", input: {} },
      { type: "tool_call", id: "call_9g", name: "grep", input: { pattern: "x" } },
    ]),
    // A result for a call the history does not have (its call was cut away): nothing to answer.
    stored("tool", [{ type: "tool_result", callId: "call_9g", name: "grep", output: "a:1:x", isError: false }]),
    stored("tool", [{ type: "tool_result", callId: "elsewhere", name: "grep", output: "orphan", isError: false }]),
    stored("assistant", [{ type: "text", text: "Partial answer that was sto" }]),
    stored("system", [{ type: "notice", kind: "stopped", text: "Stopped by Alice" }]),
    prompt("Go on from here."),
  ];

  it("every tool call gets exactly one result; orphans are dropped; ids suit Anthropic", () => {
    const messages = toAnthropicMessages(forked());
    expect(messages.map((m) => m.role)).toEqual(["user", "assistant", "user", "assistant", "user"]);
    expect(messages[2]!.content).toEqual([
      {
        type: "tool_result",
        tool_use_id: "call_9f_x",
        content: expect.stringMatching(/no result: the task ended/),
        is_error: true,
      },
      { type: "tool_result", tool_use_id: "call_9g", content: "a:1:x", is_error: false },
    ]);
    expect((messages[1]!.content as { id: string }[])[0]!.id).toBe("call_9f_x");
    expect(JSON.stringify(messages)).not.toContain("orphan");

    const openai = toOpenAIMessages("S", forked());
    expect(openai.map((m) => m.role)).toEqual(["system", "user", "assistant", "tool", "tool", "assistant", "user"]);
    expect(openai[3]).toMatchObject({ tool_call_id: "call_9f.x" });
    expect(JSON.stringify(openai)).not.toContain("orphan");
  });

  it.each(["anthropic", "openai"] as const)("%s: the real SDK sends the converted history", async (provider) => {
    fx = await agentFixture(provider);
    fx.server.script(provider, [{ text: "Continuing." }]);
    await runTask(fx.input({ history: forked() }));
    const sent = fx.server.requests[0]!.body.messages!;
    if (provider === "anthropic") {
      expect(sent).toEqual(JSON.parse(JSON.stringify(toAnthropicMessages(forked()))));
    } else {
      expect(sent).toEqual(JSON.parse(JSON.stringify(toOpenAIMessages(sent[0]!.content as string, forked()))));
    }
  });

  it.each(["anthropic", "openai"] as const)(
    "%s: this task's own turns follow the stored history in the next request",
    async (provider) => {
      fx = await agentFixture(provider);
      fx.server.script(provider, [
        { toolCalls: [{ name: "read_file", input: { path: "README.md" } }] },
        (body) => {
          const text = JSON.stringify(body.messages);
          // The previous task's denial, the child's answer, this task's prompt and its tool result, in order.
          // (The previous task read the same file: this task's result is the last one.)
          const order = ["use pnpm", "[Answer from spawned session child-1]", "Now add a test.", "     1\\thello"].map(
            (s) => text.lastIndexOf(s),
          );
          expect(order.every((i) => i >= 0)).toBe(true);
          expect([...order].sort((a, b) => a - b)).toEqual(order);
          expect(text).not.toContain("retrying in 1 s");
          return { text: "ok" };
        },
      ]);
      await runTask(fx.input({ history: previousTask() }));
      expect(fx.server.failures).toEqual([]);
    },
  );
});
