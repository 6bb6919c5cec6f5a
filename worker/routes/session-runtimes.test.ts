import { beforeAll, describe, expect, it } from "vitest";
import type { Session, TaskContext, Worktree } from "../../protocol/index.ts";
import { call, expectError, json, type TestUser } from "../../test/helpers.ts";
import { boardWithRepo, eventually, GIT, openLink, runNext, runnerRow, takeSessionTask } from "./runner-testkit.ts";

/**
 * Session runtimes at the edge: a session runs on the built-in loop unless it asks for Claude
 * Code or Codex, and only a runner that reported that runtime's SDK is given one; the runtime and
 * the SDK's session id reach the runner in the task's context.
 */

let member: TestUser;
let runner: { id: string; credential: string };
let boardId: string;
let wt: Worktree;

const base = () => `/api/boards/${boardId}/sessions`;
const start = (body: Record<string, unknown>) =>
  call(base(), {
    method: "POST",
    token: member.token,
    json: { worktreeId: wt.id, provider: "anthropic", model: "claude-sonnet-4-5", ...body },
  });

beforeAll(async () => {
  const stage = await boardWithRepo({ path: "/home/ann/code/app", branches: ["main"] });
  ({ member, runner, boardId } = stage);
  await openLink(runner.credential, {
    version: "0.1.0",
    os: "linux",
    gitVersion: "2.45",
    providers: ["anthropic"],
    agents: [{ provider: "anthropic", ready: true }],
    runtimes: [{ runtime: "claude-code", version: "0.3.328" }],
  });
  const made = await json<Worktree>(
    call(`/api/boards/${boardId}/worktrees`, {
      method: "POST",
      token: member.token,
      json: { repoId: stage.repo.id, name: "feature", branch: "feature", mode: "new" },
    }),
  );
  await runNext(runner.credential, {
    status: "succeeded",
    result: { path: "/home/ann/wt/feature", git: GIT, createdBranch: true },
  });
  wt = { ...made, status: "ready" };
});

describe("session runtimes", () => {
  it("defaults to the built-in loop", async () => {
    const s = await json<Session>(start({}));
    expect(s.runtime).toBe("builtin");
  });

  it("refuses a runtime the runner lacks, naming the runner and the package to install, and writes nothing", async () => {
    const before = (await json<{ items: Session[] }>(call(base(), { token: member.token }))).items.length;
    // On OpenAI, which this runner cannot serve either: the missing SDK is what it is told first.
    const err = await expectError(
      start({ runtime: "codex", provider: "openai", model: "gpt-5" }),
      409,
      "runtime_unavailable",
    );
    expect(err.message).toBe(
      "Codex: runner 'laptop' does not have @openai/codex-sdk: run `npm i -g @openai/codex-sdk` on that machine and restart the runner",
    );
    expect((await json<{ items: Session[] }>(call(base(), { token: member.token }))).items).toHaveLength(before);
    await expectError(start({ runtime: "gemini" }), 400, "bad_request");
  });

  it("refuses a runtime on a provider it cannot talk to, before asking the runner", async () => {
    const err = await expectError(
      start({ runtime: "claude-code", provider: "openai", model: "gpt-5" }),
      400,
      "bad_request",
    );
    expect(err.message).toBe('runtime: Claude Code runs only with provider "anthropic", not "openai".');
    // Codex on Anthropic is refused for the provider, not for the runner lacking Codex.
    await expectError(start({ runtime: "codex" }), 400, "bad_request");
  });

  it("gives a runtime the runner has, and hands the task its runtime and the SDK session to resume", async () => {
    const s = await json<Session>(start({ runtime: "claude-code", prompt: "Fix it" }));
    expect(s.runtime).toBe("claude-code");
    const t1 = await takeSessionTask(runner.credential);
    const ctx1: TaskContext = t1.ctx;
    expect(ctx1.session.runtime).toBe("claude-code");
    expect(ctx1.runtimeSessionId).toBeNull();
    expect((await t1.events({ kind: "runtime_session", data: { runtimeSessionId: "cc-123" } })).status).toBe(200);
    expect((await t1.complete({ status: "succeeded", result: { finalText: "done" } })).status).toBe(200);

    await call(`${base()}/${s.id}/prompts`, { method: "POST", token: member.token, json: { text: "Again" } });
    const t2 = await takeSessionTask(runner.credential);
    expect(t2.ctx.session.id).toBe(s.id);
    expect(t2.ctx.runtimeSessionId).toBe("cc-123");
    expect(t2.ctx.runtimeFork).toBeNull();
    // Each message the runtime reports may say where it stands in the SDK's session.
    const said = {
      id: "0190bbbb-0000-7000-8000-00000000c0de",
      role: "assistant",
      content: [{ type: "text", text: "again" }],
      runtimeRef: { sessionId: "cc-123", uuid: "entry-7" },
    };
    expect((await t2.events({ kind: "message", data: said })).status).toBe(200);
    await t2.complete({ status: "succeeded", result: { finalText: "again" } });

    // A fork starts its own SDK session: it keeps the runtime, not the parent's SDK session...
    const messages = (
      await json<{ items: { id: string; seq: number }[] }>(call(`${base()}/${s.id}/messages`, { token: member.token }))
    ).items;
    const forkAt = (messageId: string) =>
      json<Session>(call(`${base()}/${s.id}/fork`, { method: "POST", token: member.token, json: { messageId } }));
    const early = await forkAt(messages[0]!.id);
    expect(early.runtime).toBe("claude-code");
    // ...but forks the parent's at the last point the runtime placed up to the fork, once.
    const fork = await forkAt(said.id);
    const seq = messages.find((m) => m.id === said.id)!.seq;
    for (const [forked, expected] of [
      [early, null],
      [fork, { sessionId: "cc-123", uuid: "entry-7", seq }],
    ] as const) {
      await call(`${base()}/${forked.id}/prompts`, { method: "POST", token: member.token, json: { text: "Fork on" } });
      const t = await takeSessionTask(runner.credential);
      expect(t.ctx.session.id).toBe(forked.id);
      expect(t.ctx.runtimeSessionId).toBeNull();
      expect(t.ctx.runtimeFork).toEqual(expected);
      await t.events({ kind: "runtime_session", data: { runtimeSessionId: `cc-fork-${forked.id}` } });
      await t.complete({ status: "succeeded", result: { finalText: "forked" } });
    }
    await call(`${base()}/${fork.id}/prompts`, { method: "POST", token: member.token, json: { text: "And on" } });
    const t3 = await takeSessionTask(runner.credential);
    expect(t3.ctx.runtimeSessionId).toBe(`cc-fork-${fork.id}`);
    expect(t3.ctx.runtimeFork).toBeNull();
    await t3.complete({ status: "succeeded", result: { finalText: "on" } });
  });

  it("on a runner signed in to Claude, Claude Code needs no key and opens none: the prompter's saved key stays sealed", async () => {
    await openLink(runner.credential, {
      version: "0.1.0",
      os: "linux",
      gitVersion: "2.45",
      providers: [],
      agents: [{ provider: "anthropic", ready: false, reason: "no ANTHROPIC_API_KEY: set it and restart the runner" }],
      runtimes: [{ runtime: "claude-code", version: "0.3.328", signedIn: true }],
    });
    await eventually(async () => (await runnerRow(member.token, runner.id))?.info.runtimes?.[0]?.signedIn);
    // The built-in loop still needs a key the runner does not have.
    await expectError(start({}), 409, "provider_unavailable");

    const saved = await call("/api/me/secrets/keys/anthropic", {
      method: "PUT",
      token: member.token,
      json: { apiKey: "sk-ant-members-own-key-0001" },
    });
    expect(saved.status).toBe(200);
    const s = await json<Session>(start({ runtime: "claude-code", prompt: "Hello" }));
    const t = await takeSessionTask(runner.credential);
    expect(t.ctx.session.id).toBe(s.id);
    expect(t.ctx.secrets).toEqual({ keySource: "login", model: null, env: {} });
    expect(JSON.stringify(t.ctx)).not.toContain("sk-ant-members-own-key");
    expect(t.ctx.task.keySource).toBe("login");
    await t.complete({ status: "succeeded", result: { finalText: "hi" } });
  });
});
