import { z } from "zod";

/**
 * Agent providers and the one price table. Both sides read it: the board to offer models and show
 * a context meter, the edge to turn a task's tokens into cost. A model that is not listed runs
 * fine (any name can be typed) but has no price: its cost is shown as "no price", never guessed.
 */

export const PROVIDERS = ["anthropic", "openai"] as const;
export const Provider = z.enum(PROVIDERS);
export type Provider = z.infer<typeof Provider>;

export const PROVIDER_LABELS: Record<Provider, string> = {
  anthropic: "Anthropic",
  openai: "OpenAI-compatible",
};

/** What a runner needs in its environment to serve a provider; named in the board's reason text. */
export const PROVIDER_ENV: Record<Provider, string> = {
  anthropic: "ANTHROPIC_API_KEY",
  openai: "OPENAI_API_KEY or OPENAI_BASE_URL",
};

export interface ModelInfo {
  provider: Provider;
  id: string;
  label: string;
  /** Tokens the model can hold (prompt + answer): the context meter's full scale. */
  contextWindow: number;
  /**
   * US dollars per million tokens. `cacheRead`/`cacheWrite` are Anthropic's prompt-cache rates;
   * OpenAI bills cached input at `cacheRead` and has no write surcharge.
   */
  price: { input: number; output: number; cacheRead: number; cacheWrite: number };
}

/** List prices as published on 2026-11-01. */
export const MODELS: readonly ModelInfo[] = [
  {
    provider: "anthropic",
    id: "claude-opus-4-5",
    label: "Claude Opus 4.5",
    contextWindow: 200_000,
    price: { input: 5, output: 25, cacheRead: 0.5, cacheWrite: 6.25 },
  },
  {
    provider: "anthropic",
    id: "claude-sonnet-4-5",
    label: "Claude Sonnet 4.5",
    contextWindow: 200_000,
    price: { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 },
  },
  {
    provider: "anthropic",
    id: "claude-haiku-4-5",
    label: "Claude Haiku 4.5",
    contextWindow: 200_000,
    price: { input: 1, output: 5, cacheRead: 0.1, cacheWrite: 1.25 },
  },
  {
    provider: "openai",
    id: "gpt-5",
    label: "GPT-5",
    contextWindow: 400_000,
    price: { input: 1.25, output: 10, cacheRead: 0.125, cacheWrite: 0 },
  },
  {
    provider: "openai",
    id: "gpt-5-mini",
    label: "GPT-5 mini",
    contextWindow: 400_000,
    price: { input: 0.25, output: 2, cacheRead: 0.025, cacheWrite: 0 },
  },
  {
    provider: "openai",
    id: "gpt-4.1",
    label: "GPT-4.1",
    contextWindow: 1_047_576,
    price: { input: 2, output: 8, cacheRead: 0.5, cacheWrite: 0 },
  },
];

export function modelInfo(provider: string, model: string): ModelInfo | undefined {
  return MODELS.find((m) => m.provider === provider && m.id === model);
}

export const Usage = z.object({
  /** Prompt tokens billed at the full input rate (cache reads and writes not included). */
  input: z.number().int().nonnegative(),
  output: z.number().int().nonnegative(),
  cacheRead: z.number().int().nonnegative(),
  cacheWrite: z.number().int().nonnegative(),
});
export type Usage = z.infer<typeof Usage>;
export const ZERO_USAGE: Usage = { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 };

export function addUsage(a: Usage, b: Usage): Usage {
  return {
    input: a.input + b.input,
    output: a.output + b.output,
    cacheRead: a.cacheRead + b.cacheRead,
    cacheWrite: a.cacheWrite + b.cacheWrite,
  };
}

/**
 * Cost in micro-dollars, or null when the model has no price. Dollars per million tokens times
 * tokens is micro-dollars, so the arithmetic is exact for whole-cent prices; the one rounding is
 * at the end.
 */
export function costMicros(provider: string, model: string, u: Usage): number | null {
  const m = modelInfo(provider, model);
  if (!m) return null;
  const p = m.price;
  return Math.round(u.input * p.input + u.output * p.output + u.cacheRead * p.cacheRead + u.cacheWrite * p.cacheWrite);
}
