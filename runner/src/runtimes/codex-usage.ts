import type { ThreadEvent } from "@openai/codex-sdk";
import { MODELS, modelInfo, type Usage } from "../../../protocol/index.ts";

/**
 * A task's tokens from what Codex reports. Codex's `turn.completed` carries the thread's running
 * totals over all its turns, resumed ones included, not the turn's own: a task counts only what
 * grew since the totals after the thread's previous task. Mistaking one for the other is the bug
 * that makes a cost jump by orders of magnitude in one turn; `usageDoubt` catches it.
 */

export type CodexUsage = Extract<ThreadEvent, { type: "turn.completed" }>["usage"];

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

/**
 * What this task used, from the thread's totals now and after its previous task (null: a new
 * thread, nothing before). A total that went down is a thread that counts afresh (Codex keeps its
 * totals in the thread's rollout, which a resume reads back), so all of it is this task's.
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

/** Context window for a model the price table does not list: the largest it does. */
const WIDEST = Math.max(...MODELS.map((m) => m.contextWindow));

/**
 * Why a task's usage cannot be right, or null. Each model call sends at most the model's context
 * window and answers within it, and a Codex turn makes at most one call per tool call plus the
 * last (one more for a compaction or a retry): more than that is a running total counted as a
 * task's own, or totals of a thread counted twice.
 */
export function usageDoubt(usage: Usage, provider: string, model: string, toolCalls: number): string | null {
  const window = modelInfo(provider, model)?.contextWindow ?? WIDEST;
  const calls = toolCalls + 2;
  const prompt = usage.input + usage.cacheRead + usage.cacheWrite;
  const most = window * calls;
  if (prompt <= most && usage.output <= most) return null;
  const n = (x: number) => String(x).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return (
    `Codex reported ${n(prompt)} prompt and ${n(usage.output)} output tokens for this task, more than its ` +
    `${calls} model calls at most could use (${n(window)} tokens each for ${model})`
  );
}
