import { describe, expect, it } from "vitest";
import { DEFAULT_MODEL, modelsOf, providerChoice } from "./readiness.ts";

/** What the start-session dialog offers, from what the card's runner says it can serve. */

const runner = (
  agents?: { provider: "anthropic" | "openai"; ready: boolean; reason?: string; baseUrl?: string }[],
) => ({
  name: "alice-laptop",
  info: agents ? { agents } : {},
});

describe("providerChoice", () => {
  it("names the runner and what to set, in the runner's own words", () => {
    const r = runner([
      { provider: "anthropic", ready: false, reason: "no ANTHROPIC_API_KEY: set it and restart the runner" },
      { provider: "openai", ready: true, baseUrl: "http://127.0.0.1:11434/v1" },
    ]);
    expect(providerChoice(r, "anthropic")).toEqual({
      ok: false,
      reason: "runner 'alice-laptop' has no ANTHROPIC_API_KEY: set it and restart the runner",
    });
    expect(providerChoice(r, "openai")).toEqual({ ok: true, baseUrl: "http://127.0.0.1:11434/v1" });
  });

  it("an OpenAI-compatible server named by the session needs nothing of the runner", () => {
    const r = runner([{ provider: "openai", ready: false, reason: "no OPENAI_API_KEY or OPENAI_BASE_URL: set one" }]);
    expect(providerChoice(r, "openai").ok).toBe(false);
    expect(providerChoice(r, "openai", "http://gpu-box:8000/v1").ok).toBe(true);
  });

  it("a provider the runner does not list has the variable named; a runner that says nothing is not second-guessed", () => {
    expect(providerChoice(runner([]), "anthropic")).toEqual({
      ok: false,
      reason: "runner 'alice-laptop' has no ANTHROPIC_API_KEY: set it and restart the runner",
    });
    expect(providerChoice(runner(), "anthropic").ok).toBe(true);
    expect(providerChoice(undefined, "openai").ok).toBe(true);
  });
});

describe("default models", () => {
  it("are known and priced, and not the dearest of their provider", () => {
    for (const p of ["anthropic", "openai"] as const) {
      const list = modelsOf(p);
      const pick = list.find((m) => m.id === DEFAULT_MODEL[p]);
      expect(pick).toBeDefined();
      expect(Math.max(...list.map((m) => m.price.output))).toBeGreaterThan(pick!.price.output);
    }
  });
});
