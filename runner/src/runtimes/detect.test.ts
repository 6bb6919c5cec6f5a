import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { hasClaudeLogin } from "./detect.ts";

const homes: string[] = [];
function home(credentials?: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), "trellis-login-"));
  homes.push(dir);
  if (credentials !== undefined) {
    mkdirSync(join(dir, ".claude"));
    writeFileSync(join(dir, ".claude", ".credentials.json"), JSON.stringify(credentials));
  }
  return dir;
}
afterEach(() => {
  for (const d of homes.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("the machine's own Claude sign-in", () => {
  it("is a setup token in the environment", () => {
    expect(hasClaudeLogin({ HOME: home(), CLAUDE_CODE_OAUTH_TOKEN: "sk-ant-oat01-x" })).toBe(true);
    expect(hasClaudeLogin({ HOME: home(), CLAUDE_CODE_OAUTH_TOKEN: "  " })).toBe(false);
  });

  it("is what `/login` leaves in ~/.claude, or in CLAUDE_CONFIG_DIR when that is set", () => {
    const signedIn = { claudeAiOauth: { accessToken: "sk-ant-oat01-y", expiresAt: Date.now() + 3_600_000 } };
    expect(hasClaudeLogin({ HOME: home(signedIn) })).toBe(true);
    const elsewhere = home(signedIn);
    expect(hasClaudeLogin({ HOME: home(), CLAUDE_CONFIG_DIR: join(elsewhere, ".claude") })).toBe(true);
  });

  it("is not an empty, unreadable or missing credentials file", () => {
    expect(hasClaudeLogin({ HOME: home() })).toBe(false);
    expect(hasClaudeLogin({ HOME: home({}) })).toBe(false);
    expect(hasClaudeLogin({ HOME: home("not an object") })).toBe(false);
    expect(hasClaudeLogin({})).toBe(false);
  });
});
