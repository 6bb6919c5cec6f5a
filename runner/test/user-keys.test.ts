/**
 * A person's own keys and environment variables through a real Worker and a real runner process:
 * the model server sees the prompter's key rather than the runner's, their variable reaches the
 * agent's shell, and a person with none runs on the runner's environment. The edge's side (sealed
 * in D1, who may read them) is worker/routes/user-secrets.test.ts.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Provider, ToolResultBlock } from "../../protocol/index.ts";
import { api } from "../../test/server.ts";
import { as, type Client, lastTask, readyWorktree, taskEnded, type World, world } from "./session-kit.ts";

const USER_ANTHROPIC = "sk-ant-users-own-key-0042";
const USER_COMPAT = "users-own-server-key-0077";
const USER_VAR = "deploy-token-for-the-agent-1234";

let w: World;
let owner: Client;
// A scratch HOME with no Claude sign-in in it: Claude Code can only use a key.
const home = mkdtempSync(join(tmpdir(), "trellis-keys-home-"));
const save = (path: string, json: unknown) =>
  api(w.edge.url, `/api/me/secrets/${path}`, { method: "PUT", token: w.s.user.token, json });
const forget = (path: string) =>
  api(w.edge.url, `/api/me/secrets/${path}`, { method: "DELETE", token: w.s.user.token });

beforeAll(async () => {
  w = await world("Keys", undefined, { HOME: home });
  owner = as(w, w.s.user.token);
}, 60_000);
afterAll(async () => {
  await w?.stop();
  rmSync(home, { recursive: true, force: true });
});

const MODEL: Record<Provider, string> = { anthropic: "claude-sonnet-4-5", openai: "gpt-5" };
/** The credential a request carried (the SDKs send `x-api-key` or a Bearer authorization). */
const keyOf = (headers: Record<string, string>) =>
  headers["x-api-key"] ?? headers.authorization?.replace(/^Bearer /, "") ?? "(no key)";

/** Run one task that echoes DEPLOY_TOKEN in the shell; the keys its model calls carried and what the shell printed. */
async function echoTask(provider: Provider, name: string, runtime: "builtin" | "claude-code" = "builtin") {
  const wt = await readyWorktree(w, name);
  const from = w.server.requests.length;
  const shellTool = runtime === "claude-code" ? "Bash" : "shell";
  w.server.script(provider, [
    { toolCalls: [{ name: shellTool, input: { command: 'echo "token=[$DEPLOY_TOKEN]"' } }] },
    { text: "Done." },
  ]);
  const s = await owner.start({
    worktreeId: wt.id,
    provider,
    model: MODEL[provider],
    runtime,
    permissionMode: "full",
    prompt: "Print the token.",
  });
  const { task } = await taskEnded(owner, s.id, lastTask(await owner.detail(s.id)).id, 60_000);
  expect(w.server.failures).toEqual([]);
  expect(task.status, task.error ?? "").toBe("completed");
  const shell = (await owner.messages(s.id))
    .flatMap((m) => m.content)
    .find((b): b is ToolResultBlock => b.type === "tool_result" && b.name === shellTool);
  const keys = w.server.requests
    .slice(from)
    .filter((r) => /^\/v1\/(messages|chat\/completions)/.test(r.path))
    .map((r) => keyOf(r.headers));
  return { task, keys, output: shell?.output ?? "" };
}

describe("a task runs on its prompter's keys", () => {
  it("Anthropic: the model server sees the person's key, and their variable reaches the shell", async () => {
    await save("keys/anthropic", { apiKey: USER_ANTHROPIC });
    await save("env/DEPLOY_TOKEN", { value: USER_VAR });
    const r = await echoTask("anthropic", "own-anthropic");
    expect(r.keys).toEqual([USER_ANTHROPIC, USER_ANTHROPIC]);
    expect(r.output).toContain(`token=[${USER_VAR}]`);
    expect(r.task.keySource).toBe("user");
  });

  it("OpenAI-compatible: the person's server key goes to their server", async () => {
    await save("keys/openai-compatible", { apiKey: USER_COMPAT, baseUrl: w.server.openaiUrl });
    const r = await echoTask("openai", "own-compat");
    expect(r.keys).toEqual([USER_COMPAT, USER_COMPAT]);
    expect(r.output).toContain(`token=[${USER_VAR}]`);
    expect(r.task.keySource).toBe("user");
  });

  it("Claude Code on a machine with no Claude sign-in: the person's key, not the runner's, reaches the model", async () => {
    const r = await echoTask("anthropic", "own-claude-code", "claude-code");
    expect(r.keys.length).toBeGreaterThan(0);
    expect(new Set(r.keys)).toEqual(new Set([USER_ANTHROPIC]));
    expect(r.output).toContain(`token=[${USER_VAR}]`);
    expect(r.task.keySource).toBe("user");
  }, 90_000);

  it("with none saved, the runner's environment serves, and the shell has no variable", async () => {
    await Promise.all([forget("keys/anthropic"), forget("keys/openai-compatible"), forget("env/DEPLOY_TOKEN")]);
    const r = await echoTask("anthropic", "runner-keys");
    expect(r.keys).toEqual(["sk-ant-test", "sk-ant-test"]);
    expect(r.output).toContain("token=[]");
    expect(r.task.keySource).toBe("runner");
  });
});
