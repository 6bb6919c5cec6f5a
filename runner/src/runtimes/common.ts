import { realpath } from "node:fs/promises";
import type {
  DecisionRecord,
  McpServerRuntime,
  Message,
  NewMessage,
  PermissionMode,
  RuntimeFork,
  Usage,
} from "../../../protocol/index.ts";
import { TRELLIS_MCP_NAME } from "../../../protocol/index.ts";
import { AgentError } from "../agent/errors.ts";
import { newId } from "../agent/ids.ts";
import { oneLine } from "../agent/tools/tool.ts";
import type { PermissionAnswer, TaskInput } from "../agent/types.ts";

/** A task for an SDK runtime: the built-in loop's input, plus the SDK's own session to resume. */
export interface RuntimeTask extends TaskInput {
  /** The SDK session (Claude Code) or thread (Codex) of this session's last task, if any. */
  runtimeSessionId: string | null;
  /** Codex's running usage totals of that thread after the last task. */
  runtimeTotals: Usage | null;
  /** The SDK named its session (with Codex's totals so far): kept by the edge so the next task resumes it. */
  onRuntimeSession(id: string, totals?: Usage): Promise<void>;
  /** A fork with no SDK session of its own yet: where in its parent's SDK session it starts. */
  runtimeFork?: RuntimeFork | null;
}

export async function worktreeRoot(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch {
    throw new AgentError("worktree_missing", `the worktree folder ${path} is missing on this runner`);
  }
}

const textOf = (m: Message) =>
  m.content
    .filter((b) => b.type === "text")
    .map((b) => (b as { text: string }).text)
    .join("\n");

/** A tool's output as replayed: enough to go on, not a whole file again. */
const REPLAY_RESULT_CHARS = 4000;

/** One message of the conversation as text, tool calls and their results included. */
function replayed(m: Message): string {
  const lines: string[] = [];
  for (const b of m.content) {
    if (b.type === "text" && b.text.trim()) lines.push(b.text);
    else if (b.type === "tool_call") lines.push(`[called ${b.name} with ${JSON.stringify(b.input)}]`);
    else if (b.type === "tool_result") {
      const out =
        b.output.length > REPLAY_RESULT_CHARS
          ? `${b.output.slice(0, REPLAY_RESULT_CHARS)}\n[cut at ${REPLAY_RESULT_CHARS} characters]`
          : b.output;
      lines.push(`[${b.name || "tool"} ${b.isError ? "failed" : "returned"}]\n${out}`);
    }
  }
  if (!lines.length) return "";
  return `${m.role === "user" ? "User" : m.role === "tool" ? "Tool results" : "Assistant"}: ${lines.join("\n")}`;
}

/**
 * What the SDK is asked: the new prompt, after the part of the conversation the SDK's own session
 * does not hold (the messages after seq `heldThrough`), replayed as text with its tool calls and
 * results. Resuming its own session, it holds all of it; a session that ran on another runtime or
 * a lost SDK session holds none.
 */
export function promptOf(
  input: RuntimeTask,
  heldThrough = input.runtimeSessionId ? Number.POSITIVE_INFINITY : 0,
): string {
  const history = input.history;
  const last = history.findLast((m) => m.role === "user");
  const prompt = last ? textOf(last) : "";
  const before = history.slice(0, last ? history.lastIndexOf(last) : history.length);
  const lines = before
    .filter((m) => m.seq > heldThrough && m.role !== "system")
    .map(replayed)
    .filter(Boolean);
  if (!lines.length) return prompt;
  return `The conversation so far:\n\n${lines.join("\n\n")}\n\nThe new request:\n\n${prompt}`;
}

/** The runner's environment, the prompter's own variables over it, without holes. */
export function childEnv(input: TaskInput, extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(input.env)) if (v !== undefined) env[k] = v;
  Object.assign(env, input.secrets?.env ?? {}, extra);
  return env;
}

/** The prompter's own key, when they saved one. */
export const ownKey = (input: TaskInput): string | null =>
  input.secrets?.keySource === "user" ? (input.secrets.model?.apiKey ?? null) : null;

export const byMode = (): DecisionRecord => ({ decision: "mode", byUserId: null, byName: null, at: Date.now() });

export function denial(answer: PermissionAnswer): string {
  const who = answer.record.byName ? `Denied by ${answer.record.byName}` : "Denied";
  const reason = (answer.reason ?? answer.record.reason ?? "").trim();
  return reason ? `${who}: ${reason}` : `${who} (no reason given). Do not run the same call again.`;
}

export const readOnlyRefusal = (tool: string) =>
  `This session is read-only: ${tool} is not allowed (no file may be written and no command run). ` +
  "Say what you would change instead; a person can switch the session's permission mode.";

export const notice = (kind: "error" | "info", text: string): NewMessage => ({
  id: newId(),
  role: "system",
  content: [{ type: "notice", kind, text: oneLine(text, 4000) }],
});

/** The task's MCP servers, each under the name its tools go by (Trellis's own is always `trellis`). */
export function mcpServersOf(input: TaskInput): { name: string; spec: McpServerRuntime }[] {
  return (input.mcp?.servers ?? []).map((spec) => ({
    name: spec.id === TRELLIS_MCP_NAME ? TRELLIS_MCP_NAME : spec.name.replace(/[^\w-]/g, "_").slice(0, 60),
    spec,
  }));
}

/** One notice for each server the session picked that this task may not start. */
export const refusedMcpNotices = (input: TaskInput): NewMessage[] =>
  (input.mcp?.refused ?? []).map((r) =>
    notice("error", `MCP server "${r.name}" is not available for this task: ${r.reason}.`),
  );

export const isRoot = () => process.getuid?.() === 0;

export type { PermissionMode };
