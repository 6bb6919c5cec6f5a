import { beforeAll, describe, expect, it } from "vitest";
import { type RunnerInfo, type Session, UNSANDBOXED_TOOL, type Worktree } from "../../protocol/index.ts";
import { call, expectError, json, type TestUser } from "../../test/helpers.ts";
import { boardWithRepo, GIT, INFO, openLink, runNext, runnerRow, takeSessionTask } from "./runner-testkit.ts";

/**
 * The edge's part of the runner's OS sandbox: a session's allowed hosts (validated, stored,
 * handed to the runner in the task's context, kept by forks), the runner's sandbox on its card,
 * and the one question a runner without a sandbox asks in `full` mode, remembered for the session.
 */

let owner: TestUser;
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
const info: RunnerInfo = {
  ...INFO,
  agents: [{ provider: "anthropic", ready: true }],
  sandbox: { state: "unavailable", detail: "bubblewrap (bwrap) not installed" },
};

beforeAll(async () => {
  const stage = await boardWithRepo({ path: "/home/ann/code/app", branches: ["main"] });
  ({ owner, member, runner, boardId } = stage);
  await openLink(runner.credential, info);
  wt = await json<Worktree>(
    call(`/api/boards/${boardId}/worktrees`, {
      method: "POST",
      token: member.token,
      json: { repoId: stage.repo.id, name: "net", branch: "net", mode: "new" },
    }),
  );
  await runNext(runner.credential, {
    status: "succeeded",
    result: { path: "/home/ann/wt/net", git: GIT, createdBranch: true },
  });
});

describe("session sandbox settings", () => {
  it("allowed hosts are checked, stored once each, reach the runner, change by PATCH and pass to forks; an accepted unsandboxed run is remembered", async () => {
    for (const bad of ["http://evil.example", "*.com", "a.example/path", "10.0.0.300", "x.example:99999"]) {
      const err = await expectError(start({ allowedHosts: [bad] }), 400, "bad_request");
      expect(err.message).toMatch(/allowedHosts/);
    }
    const s = await json<Session>(
      start({
        allowedHosts: [" Registry.NPMJS.org ", "*.github.com", "127.0.0.1:8080", "registry.npmjs.org"],
        permissionMode: "full",
        prompt: "install",
      }),
    );
    expect(s.allowedHosts).toEqual(["registry.npmjs.org", "*.github.com", "127.0.0.1:8080"]);
    expect((await runnerRow(owner.token, runner.id))?.info.sandbox).toEqual(info.sandbox);

    const t = await takeSessionTask(runner.credential);
    expect(t.ctx.session.allowedHosts).toEqual(s.allowedHosts);
    // The runner has no sandbox: in full mode it asks once whether to run unsandboxed.
    await t.events({
      kind: "permission",
      data: { requestId: "u1", callId: "c1", tool: UNSANDBOXED_TOOL, summary: "run shell commands without a sandbox" },
    });
    const answered = await json<Session>(
      call(`${base()}/${s.id}/permissions/u1`, { method: "POST", token: member.token, json: { decision: "allow" } }),
    );
    expect(answered.allowedTools).toEqual([UNSANDBOXED_TOOL]);
    // A plain allow of an ordinary tool is still for that one call.
    await t.events({
      kind: "permission",
      data: { requestId: "r2", callId: "c2", tool: "shell", summary: "run `ls`", command: "ls" },
    });
    const once = await json<Session>(
      call(`${base()}/${s.id}/permissions/r2`, { method: "POST", token: member.token, json: { decision: "allow" } }),
    );
    expect(once.allowedTools).toEqual([UNSANDBOXED_TOOL]);
    await t.complete({ status: "succeeded", result: { finalText: "ok" } });

    const patched = await json<Session>(
      call(`${base()}/${s.id}`, { method: "PATCH", token: member.token, json: { allowedHosts: ["example.org:443"] } }),
    );
    expect(patched.allowedHosts).toEqual(["example.org:443"]);
    await expectError(
      call(`${base()}/${s.id}`, { method: "PATCH", token: member.token, json: { allowedHosts: ["*"] } }),
      400,
      "bad_request",
    );
    const messages = await json<{ items: { id: string }[] }>(
      call(`${base()}/${s.id}/messages`, { token: member.token }),
    );
    const fork = await json<Session>(
      call(`${base()}/${s.id}/fork`, {
        method: "POST",
        token: member.token,
        json: { messageId: messages.items.at(-1)!.id },
      }),
    );
    expect(fork.allowedHosts).toEqual(["example.org:443"]);
  });
});
