import type { ProviderReadiness } from "../../../protocol/index.ts";

/** Which providers this runner can serve, each with a reason a person can act on when it cannot. */
export function providerReadiness(env: Record<string, string | undefined>): ProviderReadiness[] {
  const anthropic: ProviderReadiness =
    env.ANTHROPIC_API_KEY || env.ANTHROPIC_AUTH_TOKEN
      ? { provider: "anthropic", ready: true }
      : { provider: "anthropic", ready: false, reason: "no ANTHROPIC_API_KEY: set it and restart the runner" };
  const baseUrl = env.OPENAI_BASE_URL || undefined;
  const openai: ProviderReadiness =
    env.OPENAI_API_KEY || baseUrl
      ? { provider: "openai", ready: true, ...(baseUrl ? { baseUrl } : {}) }
      : {
          provider: "openai",
          ready: false,
          reason:
            "no OPENAI_API_KEY or OPENAI_BASE_URL: set one and restart the runner (a local server such as Ollama needs only OPENAI_BASE_URL)",
        };
  return [anthropic, openai];
}
