import { modelInfo, type Session, type SessionStatus, type Task, type Usage } from "../../../protocol/index.ts";

/** Every session status, worded for people. */
export const STATUS_LABEL: Record<SessionStatus, string> = {
  idle: "idle",
  queued: "queued",
  running: "running",
  awaiting_permission: "awaiting permission",
  completed: "completed",
  failed: "failed",
  stopped: "stopped",
};

/** What each status means, for the pill's tooltip. */
export const STATUS_TITLE: Record<SessionStatus, string> = {
  idle: "Waiting for a prompt",
  queued: "Handed to the runner, not started yet. Is it online?",
  running: "The agent is working",
  awaiting_permission: "The agent waits for a member to approve or deny a tool call",
  completed: "The last task finished",
  failed: "The last task failed: see the transcript",
  stopped: "Stopped by a person",
};

/** A task is in hand (running, waiting for the runner, or for a person): a prompt now would queue. */
export const isBusy = (s: Pick<Session, "status">) =>
  s.status === "running" || s.status === "queued" || s.status === "awaiting_permission";

export const totalTokens = (u: Usage) => u.input + u.output + u.cacheRead + u.cacheWrite;

/** 950 → "950", 12_345 → "12.3k", 2_500_000 → "2.5M". */
export function formatTokens(n: number): string {
  if (n < 1000) return String(n);
  if (n < 1_000_000) return `${trim(n / 1000, n < 100_000 ? 1 : 0)}k`;
  return `${trim(n / 1_000_000, 1)}M`;
}

const trim = (x: number, digits: number) => x.toFixed(digits).replace(/\.0$/, "");

/**
 * Micro-dollars as dollars, with enough digits that a small task is not shown as $0.00: cents
 * from a dollar up, four digits below a cent, and "<$0.0001" for a priced but tiny amount.
 */
export function formatCost(micros: number): string {
  const dollars = micros / 1_000_000;
  if (micros === 0) return "$0";
  if (dollars >= 1) return `$${dollars.toFixed(2)}`;
  if (dollars >= 0.01) return `$${dollars.toFixed(3).replace(/0$/, "")}`;
  if (dollars >= 0.0001) return `$${dollars.toFixed(4)}`;
  return "<$0.0001";
}

/**
 * Cost as the edge counted it, never guessed: a model with no price shows "no price", and a total
 * that leaves some unpriced tokens out says so with a "+".
 */
export function costLabel(costMicros: number, unpriced: boolean): string {
  if (unpriced && costMicros === 0) return "no price";
  return unpriced ? `${formatCost(costMicros)}+` : formatCost(costMicros);
}

export function costTitle(costMicros: number, unpriced: boolean): string {
  if (unpriced && costMicros === 0) return "The model is not in Trellis's price table, so no cost is shown.";
  if (unpriced) return `${formatCost(costMicros)} for priced models, plus tokens on a model with no price.`;
  return `${formatCost(costMicros)} at list prices`;
}

export function usageTitle(u: Usage): string {
  return `${u.input.toLocaleString()} input, ${u.output.toLocaleString()} output, ${u.cacheRead.toLocaleString()} cache read, ${u.cacheWrite.toLocaleString()} cache write tokens`;
}

/** Tokens in use against the model's window; `window` is null for a model Trellis does not know. */
export function contextMeter(s: Pick<Session, "provider" | "model" | "contextTokens">) {
  const window = modelInfo(s.provider, s.model)?.contextWindow ?? null;
  const used = s.contextTokens;
  return { used, window, fraction: window ? Math.min(1, used / window) : null };
}

/** 850 → "850 ms", 4200 → "4.2 s", 125_000 → "2 min 5 s". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${trim(ms / 1000, 1)} s`;
  const min = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return s ? `${min} min ${s} s` : `${min} min`;
}

export const timeOf = (ms: number) => new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

/**
 * Whose credentials a task's model calls used, for its line in the transcript: the prompter's
 * own key (from their Keys & environment page) or the runner's environment. Null until it starts.
 */
export function keySourceOf(task: Task, meId: string): { label: string; title: string } | null {
  if (!task.keySource) return null;
  if (task.keySource === "login")
    return {
      label: "runner's Claude sign-in",
      title:
        "Claude Code used the runner machine's own Claude sign-in (its subscription): no one's key was sent for this task.",
    };
  if (task.keySource === "runner")
    return {
      label: "runner's key",
      title:
        "The model calls used the key in the runner's environment: the prompter has no key of their own for this provider.",
    };
  const mine = task.authorId === meId;
  const who = mine ? "your" : task.authorName ? `${task.authorName}'s` : "the prompter's";
  return {
    label: `${who} key`,
    title: `The model calls used ${mine ? "your own key" : `${who} own key`}, kept sealed in Trellis and handed to the runner for this task only.`,
  };
}
