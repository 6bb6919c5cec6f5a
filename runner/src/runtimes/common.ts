import { realpath } from "node:fs/promises";
import type {
  DecisionRecord,
  McpServerRuntime,
  Message,
  NewMessage,
  PermissionMode,
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

/**
 * What the SDK is asked. Resuming its own session, the new prompt is enough; otherwise (a fork,
 * a session that ran on another runtime, a lost SDK session) the conversation so far goes first.
 */
export function promptOf(input: RuntimeTask): string {
  const history = input.history;
  const last = history.findLast((m) => m.role === "user");
  const prompt = last ? textOf(last) : "";
  if (input.runtimeSessionId) return prompt;
  const before = history.slice(0, last ? history.lastIndexOf(last) : history.length);
  const lines = before
    .filter((m) => m.role === "user" || m.role === "assistant")
    .map((m) => `${m.role === "user" ? "User" : "Assistant"}: ${textOf(m)}`)
    .filter((l) => !l.endsWith(": "));
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
