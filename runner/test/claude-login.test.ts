/**
 * Claude Code on a runner machine signed in to Claude (a subscription): its sessions use that
 * sign-in before anyone's key. The edge opens no key for the task and says so on it, and the
 * runner keeps API keys out of Claude Code's environment, so the scripted Messages server sees
 * only the sign-in's OAuth token.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Runner } from "../../protocol/index.ts";
import { api } from "../../test/server.ts";
import { as, type Client, lastTask, readyWorktree, taskEnded, type World, world } from "./session-kit.ts";

let w: World;
let owner: Client;
const home = mkdtempSync(join(tmpdir(), "trellis-cc-login-"));
const LOGIN = "sk-ant-oat01-runner-machine-login";
const OWN_KEY = "sk-ant-owners-own-key-0042";

beforeAll(async () => {
  w = await world("Owner", { "README.md": "hello\n" }, { HOME: home, CLAUDE_CODE_OAUTH_TOKEN: LOGIN });
  owner = as(w, w.s.user.token);
  await api(w.edge.url, "/api/me/secrets/keys/anthropic", {
    method: "PUT",
    token: w.s.user.token,
    json: { apiKey: OWN_KEY },
  });
}, 60_000);
afterAll(async () => {
  await w?.stop();
  rmSync(home, { recursive: true, force: true });
});

describe("Claude Code on the machine's own Claude sign-in", () => {
  it("is reported on the runner", async () => {
    const list = await w.s.api<{ items: Runner[] }>("/api/runners");
    const cc = list.items.find((r) => r.id === w.s.runnerId)!.info.runtimes?.find((r) => r.runtime === "claude-code");
    expect(cc).toMatchObject({ signedIn: true });
  });

  it("goes before the person's saved key and the runner's API key, and the task says so", async () => {
    const wt = await readyWorktree(w, "cc-login");
    w.server.script("anthropic", [{ text: "Signed in." }]);
    const from = w.server.requests.length;
    const s = await owner.start({
      worktreeId: wt.id,
      provider: "anthropic",
      model: "claude-sonnet-4-5",
      runtime: "claude-code",
      permissionMode: "full",
      prompt: "Who are you?",
    });
    const task = lastTask(await owner.detail(s.id));
    const { task: ended } = await taskEnded(owner, s.id, task.id, 60_000);
    expect(ended.status, ended.error ?? "").toBe("completed");
    expect(ended.keySource).toBe("login");

    const calls = w.server.requests.slice(from).filter((r) => r.path.startsWith("/v1/messages"));
    expect(calls.length).toBeGreaterThan(0);
    for (const r of calls) {
      expect(r.headers.authorization).toBe(`Bearer ${LOGIN}`);
      expect(r.headers["x-api-key"]).toBeUndefined();
    }
    // Neither the owner's key nor the runner's own API key was anywhere in what was sent.
    const wire = JSON.stringify(w.server.requests.slice(from).map((r) => r.headers));
    expect(wire).not.toContain(OWN_KEY);
    expect(wire).not.toContain("sk-ant-test");
  }, 90_000);

  it("leaves the built-in loop on the person's own key", async () => {
    const wt = await readyWorktree(w, "builtin-key");
    w.server.script("anthropic", [{ text: "Own key." }]);
    const from = w.server.requests.length;
    const s = await owner.start({
      worktreeId: wt.id,
      provider: "anthropic",
      model: "claude-sonnet-4-5",
      permissionMode: "full",
      prompt: "Hi",
    });
    const { task: ended } = await taskEnded(owner, s.id, lastTask(await owner.detail(s.id)).id, 30_000);
    expect(ended.keySource).toBe("user");
    expect(JSON.stringify(w.server.requests.slice(from).map((r) => r.headers))).toContain(OWN_KEY);
  }, 60_000);
});
