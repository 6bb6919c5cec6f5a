import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { mcpConfig, sandboxHelperRefused, toml } from "./codex.ts";
import { hostsOf, innerCommand, wrapperScript } from "./codex-wall.ts";
import type { RuntimeTask } from "./common.ts";

const task = (servers: NonNullable<RuntimeTask["mcp"]>["servers"]) => ({ mcp: { servers } }) as unknown as RuntimeTask;

describe("Codex's MCP config", () => {
  const servers = task([
    {
      id: "trellis",
      name: "trellis",
      transport: "http",
      url: "https://t.example/mcp",
      headers: { authorization: "Bearer sess-secret", "x.odd": "v" },
      byRunnerOwner: true,
    },
    { id: "m1", name: "notes", transport: "stdio", command: "node", args: ["notes.ts"], env: { NOTES_SECRET: "s" } },
  ]);

  it("names each header's variable instead of putting its value on the command line", () => {
    const { overrides, env } = mcpConfig(servers, "/wt", "auto-edit");
    expect(overrides[0]).toBe(
      'mcp_servers.trellis={url = "https://t.example/mcp", env_http_headers = {authorization = "TRELLIS_MCP_0_HEADER_0", ' +
        '"x.odd" = "TRELLIS_MCP_0_HEADER_1"}, startup_timeout_sec = 30, default_tools_approval_mode = "writes"}',
    );
    expect(overrides.join(" ")).not.toContain("sess-secret");
    expect(env).toEqual({ TRELLIS_MCP_0_HEADER_0: "Bearer sess-secret", TRELLIS_MCP_0_HEADER_1: "v" });
    expect(overrides[1]).toBe(
      'mcp_servers.notes={command = "node", args = ["notes.ts"], env = {NOTES_SECRET = "s"}, cwd = "/wt", ' +
        'startup_timeout_sec = 30, default_tools_approval_mode = "writes"}',
    );
  });

  it("lets every tool through only in full mode", () => {
    for (const mode of ["ask", "read-only", "auto-edit"] as const) {
      expect(mcpConfig(servers, "/wt", mode).overrides.every((o) => o.includes('"writes"'))).toBe(true);
    }
    expect(mcpConfig(servers, "/wt", "full").overrides.every((o) => o.includes('"approve"'))).toBe(true);
  });

  it("writes TOML strings and keys that need quoting", () => {
    expect(toml({ 'a"b': 'line\n"q"', n: 1, ok: true, list: [] })).toBe(
      '{"a\\"b" = "line\\n\\"q\\"", n = 1, ok = true, list = []}',
    );
  });
});

describe("Codex's Linux sandbox helper", () => {
  it("is refused when CODEX_HOME is under the temp folder", () => {
    expect(sandboxHelperRefused("/nowhere/tmp-home/.codex", {}, "linux")).toBe(false);
    expect(sandboxHelperRefused("/tmp/x/.codex", {}, "linux")).toBe(true);
    expect(sandboxHelperRefused("/tmpfoo/.codex", {}, "linux")).toBe(false);
    expect(sandboxHelperRefused("/scratch/t/.codex", { TMPDIR: "/scratch/" }, "linux")).toBe(true);
    expect(sandboxHelperRefused("/tmp/x/.codex", { TMPDIR: "/scratch" }, "linux")).toBe(false);
    expect(sandboxHelperRefused("/tmp/x/.codex", {}, "darwin")).toBe(false);
  });
});

describe("the wrapper the SDK spawns instead of Codex", () => {
  it("hands Codex every argument exactly as given, through the sandbox's shell", () => {
    const dir = mkdtempSync(join(tmpdir(), "trellis-codex-wrap-"));
    try {
      const path = join(dir, "codex");
      // The sandbox's command runs the inner one with `sh -c`, quoted as the sandbox quotes it.
      const inner = innerCommand("/usr/bin/printf");
      writeFileSync(path, wrapperScript(`/bin/sh -c '${inner.replace(/'/g, `'\\''`)}'`), { mode: 0o700 });
      const args = ["<%s>\\n", "it's", 'a"b', "$HOME `id`", "two\nlines", "", 'mcp_servers.x={a = "b"}'];
      const out = execFileSync(path, args, { encoding: "utf8", env: { PATH: "/usr/bin:/bin", NO_PROXY: "localhost" } });
      expect(out).toBe(
        `${args
          .slice(1)
          .map((a) => `<${a}>`)
          .join("\n")}\n`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("names each host with its port, for the sandbox's proxy", () => {
    expect(
      hostsOf(["https://api.openai.com/v1", "http://127.0.0.1:8787/mcp", "http://[::1]:9/x", "not a url"]),
    ).toEqual(["api.openai.com:443", "127.0.0.1:8787", "[::1]:9"]);
  });
});
