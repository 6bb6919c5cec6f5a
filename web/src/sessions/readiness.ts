import { MODELS, PROVIDER_ENV, type Provider, type ProviderReadiness, type Runner } from "../../../protocol/index.ts";

/**
 * Can the worktree's runner serve a provider, and if not, what its owner should do: said in the
 * start-session dialog before the edge would refuse it with the same words.
 */
export function providerChoice(
  runner: Pick<Runner, "name" | "info"> | undefined,
  provider: Provider,
  baseUrl = "",
): { ok: true; baseUrl?: string } | { ok: false; reason: string } {
  const agents = runner?.info.agents;
  // A runner from before sessions does not say: the edge takes it, and the task says what is wrong.
  if (!runner || !agents) return { ok: true };
  const r: ProviderReadiness | undefined = agents.find((a) => a.provider === provider);
  if (r?.ready) return { ok: true, ...(r.baseUrl ? { baseUrl: r.baseUrl } : {}) };
  // A server named by the session itself needs nothing of the runner (a local one takes no key).
  if (provider === "openai" && baseUrl.trim()) return { ok: true };
  const why =
    r?.reason?.replace(/^no /, "has no ") ?? `has no ${PROVIDER_ENV[provider]}: set it and restart the runner`;
  return { ok: false, reason: `runner '${runner.name}' ${why}` };
}

/** Sensible defaults: a capable model that is not the dearest of its provider. */
export const DEFAULT_MODEL: Record<Provider, string> = {
  anthropic: "claude-sonnet-4-5",
  openai: "gpt-5-mini",
};

export const modelsOf = (provider: Provider) => MODELS.filter((m) => m.provider === provider);
