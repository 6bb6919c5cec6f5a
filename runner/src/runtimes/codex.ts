import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Codex as CodexClass, SandboxMode, ThreadEvent, ThreadItem, ThreadOptions } from "@openai/codex-sdk";
import type { PermissionMode, ToolResultBlock, Usage } from "../../../protocol/index.ts";
import { AgentError } from "../agent/errors.ts";
import { newId } from "../agent/ids.ts";
import { lastLine } from "../agent/loop.ts";
import { oneLine, wellFormed } from "../agent/tools/tool.ts";
import { byMode, childEnv, notice, ownKey, promptOf, type RuntimeTask, worktreeRoot } from "./common.ts";
import { loadSdk } from "./detect.ts";

/**
 * A session task run by Codex through `@openai/codex-sdk`'s thread API. Codex has no permission
 * callback in this mode: its own sandbox, set from the session's permission mode, is the wall.
 * Its thread id is kept so the next task resumes the thread.
 */

/** ask and read-only: Codex may read but not write (it cannot ask first); auto-edit: the worktree; full: everything. */
const SANDBOX: Record<PermissionMode, SandboxMode> = {
  ask: "read-only",
  "read-only": "read-only",
  "auto-edit": "workspace-write",
  full: "danger-full-access",
};

const KEY_VAR = "TRELLIS_CODEX_API_KEY";

type CodexUsage = Extract<ThreadEvent, { type: "turn.completed" }>["usage"];

/**
 * Codex reports a thread's usage as running totals over all its turns: a task counts only what
 * grew since the totals after the previous task (a total that went down is a new thread).
 */
export function turnUsage(totals: Usage, before: Usage | null): Usage {
  if (!before) return totals;
  const keys = ["input", "output", "cacheRead", "cacheWrite"] as const;
  if (keys.some((k) => totals[k] < before[k])) return totals;
  return {
    input: totals.input - before.input,
    output: totals.output - before.output,
    cacheRead: totals.cacheRead - before.cacheRead,
    cacheWrite: totals.cacheWrite - before.cacheWrite,
  };
}

/** Codex's usage in ours: its input count includes the cached tokens, ours does not. */
export function fromCodex(u: CodexUsage): Usage {
  const cacheRead = u.cached_input_tokens ?? 0;
  const cacheWrite = u.cache_write_input_tokens ?? 0;
  return {
    input: Math.max(0, u.input_tokens - cacheRead - cacheWrite),
    output: u.output_tokens,
    cacheRead,
    cacheWrite,
  };
}

function resultOf(item: ThreadItem): ToolResultBlock | null {
  if (item.type === "command_execution") {
    return {
      type: "tool_result",
      callId: item.id,
      name: "exec_command",
      output: wellFormed(item.aggregated_output.slice(0, 100_000)),
      isError: item.status === "failed" || (item.exit_code ?? 0) !== 0,
      meta: { exitCode: item.exit_code ?? null, decision: byMode() },
    };
  }
  if (item.type === "file_change") {
    return {
      type: "tool_result",
      callId: item.id,
      name: "apply_patch",
      output: item.changes.map((c) => `${c.kind} ${c.path}`).join("\n"),
      isError: item.status === "failed",
      meta: { decision: byMode() },
    };
  }
  if (item.type === "mcp_tool_call") {
    return {
      type: "tool_result",
      callId: item.id,
      name: `${item.server}.${item.tool}`,
      output: wellFormed(item.error?.message ?? JSON.stringify(item.result?.content ?? []).slice(0, 100_000)),
      isError: item.status === "failed",
      meta: { decision: byMode() },
    };
  }
  return null;
}

function callOf(item: ThreadItem): { id: string; name: string; input: Record<string, unknown> } | null {
  if (item.type === "command_execution") return { id: item.id, name: "exec_command", input: { cmd: item.command } };
  if (item.type === "file_change") return { id: item.id, name: "apply_patch", input: { changes: item.changes } };
  if (item.type === "mcp_tool_call") {
    return { id: item.id, name: `${item.server}.${item.tool}`, input: { arguments: item.arguments } };
  }
  return null;
}

export async function runCodex(input: RuntimeTask): Promise<{ finalText: string }> {
  const { sink, signal } = input;
  if (signal.aborted) throw signal.reason;
  const root = await worktreeRoot(input.worktreePath);
  const sdk = await loadSdk<{ Codex: typeof CodexClass }>("codex", input.env);

  const key = ownKey(input) ?? input.env.OPENAI_API_KEY ?? "";
  const baseUrl =
    (input.secrets?.keySource === "user" ? input.secrets.model?.baseUrl : null) ??
    input.baseUrl ??
    input.env.OPENAI_BASE_URL ??
    "https://api.openai.com/v1";
  const env = childEnv(input, { [KEY_VAR]: key });
  // Codex refuses a CODEX_HOME that does not exist.
  const codexHome = env.CODEX_HOME ?? join(env.HOME ?? root, ".codex");
  mkdirSync(codexHome, { recursive: true });
  env.CODEX_HOME = codexHome;

  const mode = input.permissionMode();
  if (mode === "ask") {
    await sink.message(
      notice(
        "info",
        "Codex cannot ask before each change: in ask mode it runs read-only. Switch to auto-edit to let it write in the worktree.",
      ),
    );
  }
  // A custom provider: Codex's own OpenAI provider first tries a WebSocket for several seconds.
  const codex = new sdk.Codex({
    env,
    config: {
      model_provider: "trellis",
      model_providers: {
        trellis: {
          name: "Trellis",
          base_url: baseUrl,
          wire_api: "responses",
          supports_websockets: false,
          env_key: KEY_VAR,
        },
      },
    },
  });
  const options: ThreadOptions = {
    model: input.model,
    workingDirectory: root,
    skipGitRepoCheck: true,
    sandboxMode: SANDBOX[mode],
    approvalPolicy: "never",
    networkAccessEnabled: mode === "full",
  };
  const thread = input.runtimeSessionId
    ? codex.resumeThread(input.runtimeSessionId, options)
    : codex.startThread(options);

  let finalText = "";
  const texts = new Map<string, string>();
  // Codex's item ids repeat from task to task; ours name the stream and the stored message alike.
  const ids = new Map<string, string>();
  const idOf = (item: string) => {
    const id = ids.get(item) ?? newId();
    ids.set(item, id);
    return id;
  };
  let stoppedNow: Promise<never> | null = null;
  try {
    const { events } = await thread.runStreamed(promptOf(input), { signal });
    const iter = events[Symbol.asyncIterator]();
    stoppedNow = new Promise<never>((_, reject) => {
      if (signal.aborted) reject(signal.reason);
      signal.addEventListener("abort", () => reject(signal.reason), { once: true });
    });
    stoppedNow.catch(() => {});
    let threadId = input.runtimeSessionId;
    for (;;) {
      const next = await Promise.race([iter.next(), stoppedNow]);
      if (next.done) break;
      const e = next.value;
      if (e.type === "thread.started") {
        threadId = e.thread_id;
      } else if (e.type === "item.updated" || e.type === "item.started") {
        const item = e.item;
        if (item.type === "agent_message" && item.text) {
          // Codex sends the whole text so far; the panel gets what is new.
          const before = texts.get(item.id) ?? "";
          if (item.text.startsWith(before) && item.text.length > before.length) {
            sink.delta(idOf(item.id), "text", item.text.slice(before.length));
            texts.set(item.id, item.text);
          }
        } else if (item.type === "command_execution") {
          await sink.state({ nowDoing: oneLine(`exec_command: ${item.command}`, 300) });
        }
      } else if (e.type === "item.completed") {
        const item = e.item;
        if (item.type === "agent_message") {
          finalText = item.text;
          const id = idOf(item.id);
          await sink.message({ id, role: "assistant", content: [{ type: "text", text: wellFormed(item.text) }] });
          sink.endStream(id);
          texts.delete(item.id);
          await sink.state({ nowDoing: lastLine(item.text) });
        } else if (item.type === "reasoning") {
          if (item.text) {
            await sink.message({
              id: newId(),
              role: "assistant",
              content: [{ type: "thinking", thinking: item.text }],
            });
          }
        } else if (item.type === "error") {
          // Codex's warning about a model it has no metadata for says nothing a person can act on.
          if (!item.message.startsWith("Model metadata for")) await sink.message(notice("error", item.message));
        } else {
          const call = callOf(item);
          const result = resultOf(item);
          if (call && result) {
            await sink.message({ id: newId(), role: "assistant", content: [{ type: "tool_call", ...call }] });
            await sink.message({ id: newId(), role: "tool", content: [result] });
          }
        }
      } else if (e.type === "turn.completed") {
        const totals = fromCodex(e.usage);
        const usage = turnUsage(totals, input.runtimeSessionId ? input.runtimeTotals : null);
        await sink.message({ ...notice("info", "Codex finished its turn."), usage });
        if (threadId) await input.onRuntimeSession(threadId, totals);
      } else if (e.type === "turn.failed") {
        throw new AgentError("provider", `Codex failed: ${oneLine(e.error.message, 500)}`);
      } else if (e.type === "error") {
        throw new AgentError("provider", `Codex failed: ${oneLine(e.message, 500)}`);
      }
    }
    if (signal.aborted) throw signal.reason;
    return { finalText };
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    if (err instanceof AgentError) throw err;
    throw new AgentError("provider", `Codex failed: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  } finally {
    for (const item of texts.keys()) sink.endStream(idOf(item));
  }
}
