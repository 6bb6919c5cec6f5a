import { describe, expect, it } from "vitest";
import { runtimeProviderProblem } from "../../../protocol/index.ts";
import {
  codexModeNote,
  DEFAULT_MODEL,
  hostsNote,
  modelsFor,
  modelsOf,
  parseHosts,
  providerChoice,
  providerFor,
  runtimeChoice,
  runtimeLabel,
  runtimeNote,
} from "./readiness.ts";

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

  it("Claude Code on a machine signed in to Claude needs no Anthropic key; the built-in loop still does", () => {
    const r = {
      name: "alice-laptop",
      info: {
        agents: [{ provider: "anthropic" as const, ready: false, reason: "no ANTHROPIC_API_KEY: set it" }],
        runtimes: [{ runtime: "claude-code" as const, version: "0.3.335", signedIn: true }],
      },
    };
    expect(providerChoice(r, "anthropic", "", "claude-code")).toEqual({ ok: true });
    expect(providerChoice(r, "anthropic", "", "builtin").ok).toBe(false);
    expect(runtimeNote("claude-code", "ask", r).about).toMatch(/own Claude sign-in .*no one's key is sent/);
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

describe("runtimeChoice", () => {
  const withRuntimes = (runtimes?: { runtime: "claude-code" | "codex"; version: string }[]) => ({
    name: "alice-laptop",
    info: runtimes ? { runtimes } : {},
  });

  it("offers a runtime the runner has with its SDK's version, and the built-in loop always", () => {
    const r = withRuntimes([{ runtime: "claude-code", version: "0.3.328" }]);
    expect(runtimeChoice(r, "claude-code")).toEqual({ ok: true, version: "0.3.328" });
    expect(runtimeChoice(r, "builtin")).toEqual({ ok: true });
    expect(runtimeLabel("claude-code", "0.3.328")).toBe("Claude Code 0.3.328");
    expect(runtimeLabel("builtin")).toBe("Trellis");
  });

  it("refuses a missing one in the very words of the edge's 409", () => {
    expect(runtimeChoice(withRuntimes([]), "codex")).toEqual({
      ok: false,
      reason:
        "runner 'alice-laptop' does not have @openai/codex-sdk: run `npm i -g @openai/codex-sdk` on that machine and restart the runner",
    });
    // A runner from before runtimes has none; one not loaded yet is left to the edge.
    expect(runtimeChoice(withRuntimes(), "claude-code").ok).toBe(false);
    expect(runtimeChoice(undefined, "codex")).toEqual({ ok: true });
  });
});

describe("a runtime constrains the provider and the models", () => {
  it("Claude Code is Anthropic, Codex OpenAI-compatible, Trellis either", () => {
    expect(providerFor("claude-code", "openai")).toBe("anthropic");
    expect(providerFor("codex", "anthropic")).toBe("openai");
    expect(providerFor("codex", "openai")).toBe("openai");
    expect(providerFor("builtin", "openai")).toBe("openai");
    expect(runtimeProviderProblem("claude-code", "anthropic")).toBeNull();
    expect(runtimeProviderProblem("codex", "anthropic")).toBe(
      'runtime: Codex runs only with provider "openai", not "anthropic".',
    );
  });

  it("Codex is offered the GPT-5 family only, the default among them", () => {
    const ids = modelsFor("codex", "openai").map((m) => m.id);
    expect(ids.length).toBeGreaterThan(0);
    expect(ids.every((id) => id.startsWith("gpt-5"))).toBe(true);
    expect(ids).toContain(DEFAULT_MODEL.openai);
    expect(modelsFor("builtin", "openai").map((m) => m.id)).toContain("gpt-4.1");
    expect(modelsFor("claude-code", "anthropic")).toEqual(modelsOf("anthropic"));
  });
});

describe("runtimeNote", () => {
  it("warns that Codex runs read-only in ask mode, and only then", () => {
    expect(runtimeNote("codex", "ask").caution).toMatch(/In ask mode Codex runs read-only/);
    expect(runtimeNote("codex", "auto-edit").caution).toBeNull();
    expect(runtimeNote("codex", "ask", { info: { sandbox: { state: "on", kind: "bubblewrap" } } }).about).toMatch(
      /Codex runs inside the runner's sandbox/,
    );
    expect(runtimeNote("codex", "ask").about).toMatch(/Codex's own does/);
    expect(runtimeNote("claude-code", "ask").about).toMatch(/ANTHROPIC_API_KEY/);
    expect(runtimeNote("builtin", "ask").caution).toBeNull();
  });
});

describe("codexModeNote", () => {
  const on = { info: { sandbox: { state: "on" as const, kind: "bubblewrap" as const } } };
  it("says plainly that Codex asks nothing in ask and auto-edit, and which sandbox decides", () => {
    expect(codexModeNote("ask", on)).toBe(
      "Codex cannot ask first: in ask mode it runs read-only, the runner's sandbox refusing every write. Nobody is asked before a command; a change of mode applies from the next prompt.",
    );
    expect(codexModeNote("auto-edit")).toBe(
      "Codex cannot ask first: in auto-edit its edits and commands run unasked, Codex's own sandbox keeping their writes in the worktree. Nobody is asked before a command; a change of mode applies from the next prompt.",
    );
    expect(codexModeNote("read-only", on)).toMatch(/^Codex runs read-only: its commands run/);
    expect(codexModeNote("full", on)).toBeNull();
  });
});

describe("hostsNote", () => {
  const sandboxed = (sandbox?: { state: "on" | "off" | "unavailable"; kind?: "bubblewrap"; detail?: string }) => ({
    name: "alice-laptop",
    info: sandbox ? { sandbox } : {},
  });

  it("says the network is off except these hosts where the runner has a sandbox", () => {
    expect(hostsNote(sandboxed({ state: "on", kind: "bubblewrap" }), "builtin")).toBe(
      "Network is off for the agent's shell commands except these hosts: runner 'alice-laptop' runs them in its bubblewrap sandbox.",
    );
  });

  it("says so instead where it has none, and why", () => {
    expect(hostsNote(sandboxed({ state: "unavailable", detail: "bwrap is not installed" }), "builtin")).toBe(
      "Runner 'alice-laptop' has no sandbox (bwrap is not installed): shell commands get the machine's own network, and this list does not limit them.",
    );
    expect(hostsNote(sandboxed({ state: "off" }), "builtin")).toMatch(/TRELLIS_SANDBOX=off/);
    expect(hostsNote(sandboxed(), "builtin")).toMatch(/^Runner 'alice-laptop' has no sandbox:/);
  });

  it("says Claude Code's commands are held to the list as the built-in agent's are, and Codex does not use it", () => {
    const r = sandboxed({ state: "on", kind: "bubblewrap" });
    expect(hostsNote(r, "claude-code")).toBe(hostsNote(r, "builtin"));
    expect(hostsNote(sandboxed({ state: "unavailable", detail: "bwrap is not installed" }), "claude-code")).toMatch(
      /^Runner 'alice-laptop' has no sandbox/,
    );
    // Codex runs inside the runner's sandbox whole: the list is its network, with the model's host.
    expect(hostsNote(r, "codex")).toBe(
      "Network is off for Codex and its commands except the model, the MCP servers and these hosts: runner 'alice-laptop' runs Codex in its bubblewrap sandbox.",
    );
    expect(hostsNote(sandboxed({ state: "unavailable" }), "codex")).toMatch(/does not use this list here/);
  });
});

describe("parseHosts", () => {
  it("reads spaces, commas and lines, lower-cased, each once", () => {
    expect(parseHosts(" registry.npmjs.org, *.GitHub.com\nregistry.npmjs.org  10.0.0.2:8080 ")).toEqual({
      hosts: ["registry.npmjs.org", "*.github.com", "10.0.0.2:8080"],
      problem: null,
    });
    expect(parseHosts("")).toEqual({ hosts: [], problem: null });
  });

  it("says what the edge would refuse, naming the entry", () => {
    expect(parseHosts("ok.example.com https://bad.example.com").problem).toBe(
      '"https://bad.example.com" must be a host name like "registry.npmjs.org" or "*.github.com", or an IP address, with an optional :port.',
    );
    expect(parseHosts("*.com").problem).toMatch(/^"\*\.com" must be a host name/);
    expect(parseHosts("10.0.0.300").problem).not.toBeNull();
    const many = Array.from({ length: 51 }, (_, i) => `h${i}.example.com`).join(" ");
    expect(parseHosts(many).problem).toBe("Allowed hosts: at most 50 hosts (this list has 51).");
  });
});
