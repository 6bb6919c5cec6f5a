import { randomUUID } from "node:crypto";
import type { Todo } from "../../../../protocol/index.ts";
import { oneLine, optStr, str, type Tool, ToolFailure } from "./tool.ts";

const TODO_STATUSES = new Set(["pending", "in_progress", "done"]);

export const spawnSessionTool: Tool = {
  name: "spawn_session",
  description:
    "Start another agent session in this same worktree with its own prompt, to work on a separate part of the job " +
    "in parallel (it appears on the board as a child of this session). Returns at once with the child's id; the " +
    "child's final answer comes back to you later as a new message starting with " +
    "[Answer from spawned session <id>]. Do not wait or poll for it: carry on, or end your turn. Give the child a " +
    "complete, self-contained prompt: it does not see this conversation.",
  inputSchema: {
    type: "object",
    properties: {
      prompt: { type: "string", description: "Everything the child needs to know to do its part" },
      title: { type: "string", description: "A short title for the child's card (at most 200 characters)" },
    },
    required: ["prompt"],
    additionalProperties: false,
  },
  kind: "read",
  nowDoing: (input) => oneLine(`spawn ${String(input.title ?? input.prompt ?? "a session")}`),
  async run(input, ctx) {
    const prompt = str(input, "prompt").trim();
    if (!prompt) throw new ToolFailure("prompt is empty");
    if (prompt.length > 100_000) throw new ToolFailure("prompt is longer than 100,000 characters");
    const title = optStr(input, "title")?.trim().slice(0, 200) || undefined;
    const sessionId = randomUUID();
    await ctx.sink.spawn({ sessionId, prompt, ...(title ? { title } : {}) });
    return {
      output:
        `Spawned session ${sessionId}${title ? ` (${title})` : ""}. It runs on its own; its answer will come back to ` +
        `you as a message starting with [Answer from spawned session ${sessionId}].`,
    };
  },
};

export const todoWriteTool: Tool = {
  name: "todo_write",
  description:
    "Replace the task's todo list, which the people watching see on the session's card. Send the whole list every " +
    "time (it replaces the previous one), each item with a status: pending, in_progress or done. Use it for work " +
    "with several steps: write the plan first, then mark items as you go, one in_progress at a time.",
  inputSchema: {
    type: "object",
    properties: {
      todos: {
        type: "array",
        maxItems: 100,
        items: {
          type: "object",
          properties: {
            text: { type: "string", description: "What is to be done, in one line (at most 500 characters)" },
            status: { type: "string", enum: ["pending", "in_progress", "done"] },
          },
          required: ["text", "status"],
          additionalProperties: false,
        },
      },
    },
    required: ["todos"],
    additionalProperties: false,
  },
  kind: "read",
  nowDoing: () => "update the todo list",
  async run(input, ctx) {
    const raw = input.todos;
    if (!Array.isArray(raw)) throw new ToolFailure("`todos` is required and must be a list of {text, status}");
    if (raw.length > 100) throw new ToolFailure("at most 100 todos");
    const todos: Todo[] = raw.map((t, i) => {
      const item = (t ?? {}) as Record<string, unknown>;
      const text = typeof item.text === "string" ? oneLine(item.text, 500) : "";
      if (!text) throw new ToolFailure(`todo ${i + 1} has no text`);
      if (typeof item.status !== "string" || !TODO_STATUSES.has(item.status)) {
        throw new ToolFailure(`todo ${i + 1}'s status must be pending, in_progress or done`);
      }
      return { text, status: item.status as Todo["status"] };
    });
    await ctx.sink.state({ todos });
    const count = (s: Todo["status"]) => todos.filter((t) => t.status === s).length;
    return {
      output: `Todo list updated: ${count("done")} done, ${count("in_progress")} in progress, ${count("pending")} pending.`,
    };
  },
};
