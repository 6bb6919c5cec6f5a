import { describe, expect, it } from "vitest";
import { addUsage, costMicros, type Usage, ZERO_USAGE } from "../../../protocol/index.ts";
import { usageMessage } from "./codex.ts";
import { type CodexUsage, fromCodex, turnUsage, usageDoubt } from "./codex-usage.ts";
import type { RuntimeTask } from "./common.ts";

/** Codex's report: its input count holds the cached tokens. */
const codex = (input: number, cached: number, output: number): CodexUsage => ({
  input_tokens: input,
  cached_input_tokens: cached,
  cache_write_input_tokens: 0,
  output_tokens: output,
  reasoning_output_tokens: 0,
});
const u = (input: number, output: number, cacheRead = 0): Usage => ({ input, output, cacheRead, cacheWrite: 0 });

describe("Codex's usage in ours", () => {
  it("takes the cached tokens out of the input count", () => {
    expect(fromCodex(codex(1000, 400, 50))).toEqual(u(600, 50, 400));
    // An older Codex without the cache-write field.
    const { cache_write_input_tokens: _, ...old } = codex(10, 0, 1);
    expect(fromCodex(old as CodexUsage)).toEqual(u(10, 1));
  });
});

describe("a task's share of the thread's running totals", () => {
  it("is all of them on a new thread, what grew since the last task on a resumed one", () => {
    expect(turnUsage(u(250, 50, 40), null)).toEqual(u(250, 50, 40));
    expect(turnUsage(u(370, 60, 90), u(250, 50, 40))).toEqual(u(120, 10, 50));
  });

  it("is all of them when the totals went down: the thread counts afresh", () => {
    expect(turnUsage(u(80, 5), u(250, 50))).toEqual(u(80, 5));
    expect(turnUsage(u(300, 60, 0), u(250, 50, 40))).toEqual(u(300, 60, 0));
  });

  it("fed cumulative totals task after task, sums to the thread's totals exactly once", () => {
    // Three tasks; the second was stopped before Codex reported, so its tokens show in the third's totals.
    const reports = [fromCodex(codex(1200, 200, 80)), null, fromCodex(codex(4100, 900, 260))];
    let before: Usage | null = null;
    let counted = ZERO_USAGE;
    const perTask: Usage[] = [];
    for (const totals of reports) {
      if (!totals) continue;
      const mine = turnUsage(totals, before);
      perTask.push(mine);
      counted = addUsage(counted, mine);
      before = totals;
    }
    expect(perTask).toEqual([u(1000, 80, 200), u(2200, 180, 700)]);
    expect(counted).toEqual(fromCodex(codex(4100, 900, 260)));
    expect(costMicros("openai", "gpt-5", counted)).toBe(Math.round(3200 * 1.25 + 260 * 10 + 900 * 0.125));
    // Counting each report as the task's own instead would have charged the first task twice.
    expect(addUsage(reports[0]!, reports[2]!).input).toBe(4200);
  });
});

describe("the guard on a task's usage", () => {
  it("lets through what the task's model calls could use", () => {
    // gpt-5 holds 400,000 tokens: 3 tool calls, 4 calls near the limit each.
    expect(usageDoubt(u(1_500_000, 20_000), "openai", "gpt-5", 3)).toBeNull();
    expect(usageDoubt(u(300_000, 10_000, 400_000), "openai", "gpt-5", 0)).toBeNull();
    // A model without a price is held to the widest window the table knows.
    expect(usageDoubt(u(1_500_000, 0), "openai", "local-model", 0)).toBeNull();
  });

  it("flags a running total counted as a task's own: a jump of orders of magnitude in one turn", () => {
    // Five earlier tasks of 9 calls near gpt-5's window each; this one made one call.
    const thread = u(5 * 9 * 350_000, 5 * 9 * 2_000);
    const now = addUsage(thread, u(350_000, 2_000));
    expect(usageDoubt(turnUsage(now, thread), "openai", "gpt-5", 0)).toBeNull();
    expect(usageDoubt(turnUsage(now, null), "openai", "gpt-5", 0)).toBe(
      "Codex reported 16,100,000 prompt and 92,000 output tokens for this task, more than its 2 model calls at most could use (400,000 tokens each for gpt-5)",
    );
  });
});

describe("the task's usage message", () => {
  const task = (over: Partial<RuntimeTask>) =>
    ({ provider: "openai", model: "gpt-5", runtimeSessionId: null, runtimeTotals: null, ...over }) as RuntimeTask;

  it("carries the task's share", () => {
    const m = usageMessage(task({ runtimeSessionId: "th1", runtimeTotals: u(250, 50) }), u(370, 60), 1);
    expect(m.usage).toEqual(u(120, 10));
  });

  it("counts nothing of a resumed thread whose totals after its last task were not kept, and says so", () => {
    const m = usageMessage(task({ runtimeSessionId: "th1" }), u(5_000_000, 9_000), 0);
    expect(m.usage).toBeUndefined();
    expect(JSON.stringify(m.content)).toContain("this task's share cannot be told apart");
  });

  it("counts nothing the guard refuses, and says so", () => {
    const m = usageMessage(task({ runtimeSessionId: "th1", runtimeTotals: u(10, 1) }), u(9_000_000, 9), 0);
    expect(m.usage).toBeUndefined();
    expect(m.content[0]).toMatchObject({ type: "notice", kind: "error" });
    expect(JSON.stringify(m.content)).toContain("not counted, as it cannot be right");
  });
});
