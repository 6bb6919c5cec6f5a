import {
  AllowedHost,
  AllowedHosts,
  MODELS,
  type ModelInfo,
  type PermissionMode,
  PROVIDER_ENV,
  type Provider,
  type ProviderReadiness,
  RUNTIME_LABELS,
  RUNTIME_PROVIDERS,
  type Runner,
  type Runtime,
  runtimeUnavailable,
  usesMachineLogin,
} from "../../../protocol/index.ts";
import { problem } from "../lib/problems.ts";

/**
 * Can the worktree's runner serve a provider, and if not, what its owner should do: said in the
 * start-session dialog before the edge would refuse it with the same words.
 */
export function providerChoice(
  runner: Pick<Runner, "name" | "info"> | undefined,
  provider: Provider,
  baseUrl = "",
  runtime: Runtime = "builtin",
): { ok: true; baseUrl?: string } | { ok: false; reason: string } {
  const agents = runner?.info.agents;
  // A runner from before sessions does not say: the edge takes it, and the task says what is wrong.
  if (!runner || !agents) return { ok: true };
  const r: ProviderReadiness | undefined = agents.find((a) => a.provider === provider);
  if (r?.ready) return { ok: true, ...(r.baseUrl ? { baseUrl: r.baseUrl } : {}) };
  // Claude Code on a machine signed in to Claude needs no key (the edge takes it the same way).
  if (provider === "anthropic" && usesMachineLogin(runner.info.runtimes, runtime)) return { ok: true };
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

/** A runtime as the start-session dialog offers it: the runner's SDK version, or why it cannot. */
export type RuntimeChoice = { ok: true; version?: string } | { ok: false; reason: string };

/**
 * Can the worktree's runner run this runtime: in the words the edge would refuse it with. A runner
 * not known yet is not second-guessed (the edge decides, and says so).
 */
export function runtimeChoice(runner: Pick<Runner, "name" | "info"> | undefined, runtime: Runtime): RuntimeChoice {
  if (runtime === "builtin" || !runner) return { ok: true };
  const reason = runtimeUnavailable(runner, runtime);
  if (reason) return { ok: false, reason };
  const version = runner.info.runtimes?.find((r) => r.runtime === runtime)?.version;
  return version ? { ok: true, version } : { ok: true };
}

/** "Claude Code 0.3.328", or the label alone when the version is not known. */
export const runtimeLabel = (runtime: Runtime, version?: string) =>
  version ? `${RUNTIME_LABELS[runtime]} ${version}` : RUNTIME_LABELS[runtime];

/** The provider a session gets with this runtime: the one picked if the runtime talks to it, else its own. */
export function providerFor(runtime: Runtime, provider: Provider): Provider {
  const allowed = RUNTIME_PROVIDERS[runtime];
  return allowed.includes(provider) ? provider : allowed[0]!;
}

/** Codex is made for the GPT-5 family: older OpenAI models are not offered with it (any name can still be typed). */
export function modelsFor(runtime: Runtime, provider: Provider): ModelInfo[] {
  const list = modelsOf(provider);
  return runtime === "codex" ? list.filter((m) => m.id.startsWith("gpt-5")) : list;
}

/**
 * What a runtime means for the session, as the runner runs it (`runner/src/runtimes/*`), and a
 * caution when the permission mode does not mean for it what it says.
 */
export function runtimeNote(
  runtime: Runtime,
  mode: PermissionMode,
  runner?: Pick<Runner, "info">,
): { about: string; caution: string | null } {
  if (runtime === "claude-code") {
    const key = usesMachineLogin(runner?.info.runtimes, runtime)
      ? "It uses the runner machine's own Claude sign-in (its subscription): no one's key is sent."
      : "It calls Anthropic with your saved key, else the runner's ANTHROPIC_API_KEY; a Claude sign-in on the runner's machine would go first.";
    return {
      about: `Anthropic's Claude Code agent, with its own tools, on the runner; what the permission mode does not allow, it asks here. ${key}`,
      caution: null,
    };
  }
  if (runtime === "codex") {
    const walled = runner?.info.sandbox?.state === "on";
    return {
      about:
        "OpenAI's Codex agent on the runner. It cannot ask first: the sandbox, set from the permission mode, is the wall " +
        "(no writes in ask and read-only, the worktree in auto-edit and full). " +
        (walled
          ? "Codex runs inside the runner's sandbox: the runner's folders hidden, network only to the model, the MCP servers and the allowed hosts. "
          : "Where the runner has no sandbox, Codex's own does, and full mode (everything, with network) is asked about once. ") +
        "It calls a Responses API: your saved key, else the runner's OPENAI_API_KEY and OPENAI_BASE_URL.",
      caution:
        mode === "ask"
          ? "In ask mode Codex runs read-only: it can read and answer, not change files. Choose auto-edit to let it write in the worktree."
          : null,
    };
  }
  return {
    about:
      "Trellis's own tool loop on the runner: each file write and shell command goes through the permission mode, commands run in the runner's sandbox.",
    caution: null,
  };
}

/**
 * What the session's permission mode means for Codex, said where the mode is picked: Codex's SDK
 * has no approval callback (it runs with approvals off), so no step of it waits for a person; the
 * sandbox decides what it may do, and a mode change is read when its next prompt starts.
 */
export function codexModeNote(mode: PermissionMode, runner?: Pick<Runner, "info">): string | null {
  const wall = runner?.info.sandbox?.state === "on" ? "the runner's sandbox" : "Codex's own sandbox";
  const tail = "Nobody is asked before a command; a change of mode applies from the next prompt.";
  if (mode === "ask")
    return `Codex cannot ask first: in ask mode it runs read-only, ${wall} refusing every write. ${tail}`;
  if (mode === "auto-edit") {
    return `Codex cannot ask first: in auto-edit its edits and commands run unasked, ${wall} keeping their writes in the worktree. ${tail}`;
  }
  if (mode === "read-only") return `Codex runs read-only: its commands run, ${wall} refusing every write. ${tail}`;
  return null;
}

/**
 * What a session's allowed hosts do, in one line: where the runner has a sandbox the network is off
 * for the agent's shell commands except these (Claude Code's Bash too: the runner hands it the same
 * sandbox, and Codex runs inside it whole); where it has none the list does not confine anything
 * (Codex's own sandbox has no list) and the line says so.
 */
export function hostsNote(runner: Pick<Runner, "name" | "info"> | undefined, runtime: Runtime): string {
  if (runtime === "codex") {
    return runner?.info.sandbox?.state === "on"
      ? `Network is off for Codex and its commands except the model, the MCP servers and these hosts: runner '${runner.name}' runs Codex in its ${runner.info.sandbox.kind ?? "OS"} sandbox.`
      : "Codex does not use this list here: without the runner's sandbox, Codex's own keeps the network off except in full mode.";
  }
  if (!runner)
    return "Network is off for the agent's shell commands except these hosts, where the runner has a sandbox.";
  const s = runner.info.sandbox;
  if (s?.state === "on") {
    return `Network is off for the agent's shell commands except these hosts: runner '${runner.name}' runs them in its ${s.kind ?? "OS"} sandbox.`;
  }
  const why =
    s?.state === "off"
      ? "has its sandbox off (TRELLIS_SANDBOX=off)"
      : s?.detail
        ? `has no sandbox (${s.detail})`
        : "has no sandbox";
  return `Runner '${runner.name}' ${why}: shell commands get the machine's own network, and this list does not limit them.`;
}

/**
 * The hosts typed in a field (separated by spaces, commas or new lines), each once, or what the
 * edge would refuse in them: each is checked with the protocol's own `AllowedHost`.
 */
export function parseHosts(text: string): { hosts: string[]; problem: string | null } {
  const raw = text.split(/[\s,]+/).filter(Boolean);
  for (const h of raw) {
    const p = problem(AllowedHost, h, `"${h}"`);
    if (p) return { hosts: [], problem: p };
  }
  const hosts = [...new Set(raw.map((h) => AllowedHost.parse(h)))];
  const list = AllowedHosts.safeParse(hosts);
  if (list.success) return { hosts, problem: null };
  return {
    hosts: [],
    problem: `Allowed hosts: ${list.error.issues[0]?.message ?? "too many"} (this list has ${hosts.length}).`,
  };
}
