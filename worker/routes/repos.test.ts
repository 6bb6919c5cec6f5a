/**
 * Repos on a runner (issue 13, items 6 and 7): only the runner's owner adds folders from their
 * machine; a relative path and the same folder twice are refused; a failed repo can be retried or
 * removed, and its name used again.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { Job, Repo, Worktree } from "../../protocol/index.ts";
import {
  addMember,
  call,
  createBoard,
  expectError,
  joinRoom,
  json,
  registerUsers,
  type TestUser,
} from "../../test/helpers.ts";
import { claim, post, registerRunner, runNext, testEnv } from "./runner-testkit.ts";

let owner: TestUser;
let member: TestUser;
let viewer: TestUser;
let runner: { id: string; credential: string };
let boardId: string;

const jobCount = async () =>
  (await testEnv.DB.prepare("select count(*) as n from jobs where runner_id = ?")
    .bind(runner.id)
    .first<{ n: number }>())!.n;
const addRepo = (token: string, body: Record<string, unknown>) =>
  call(`/api/runners/${runner.id}/repos`, { method: "POST", token, json: body });
const repoList = async () =>
  (await json<{ items: Repo[] }>(call(`/api/runners/${runner.id}/repos`, { token: owner.token }))).items;

beforeAll(async () => {
  [owner, member, viewer] = await registerUsers("Owner", "Member", "Viewer");
  runner = await registerRunner(owner.token);
  boardId = (await createBoard(owner.token)).id;
  await addMember(owner.token, boardId, member, "member");
  await addMember(owner.token, boardId, viewer, "viewer");
  await call(`/api/runners/${runner.id}/boards`, { method: "POST", token: owner.token, json: { boardId } });
});

describe("adding repos by local path (item 7)", () => {
  it("is the runner owner's alone: a member gets 403 that says nothing about the disk, and no job exists", async () => {
    const before = await jobCount();
    for (const source of [
      { kind: "path", path: "/etc" },
      { kind: "path", path: "/no/such/folder" },
      { kind: "url", url: "file:///home/ann/private.git" },
    ]) {
      const err = await expectError(addRepo(member.token, { name: "probe", source }), 403, "not_runner_owner");
      expect(err.message).not.toMatch(/etc|exist|such|private/);
    }
    await expectError(addRepo(viewer.token, { source: { kind: "path", path: "/etc" } }), 403);
    expect(await jobCount()).toBe(before);

    // A member may still clone by a network URL into the runner's data folder.
    const cloned = await addRepo(member.token, { source: { kind: "url", url: "https://example.com/acme/api.git" } });
    expect(cloned.status).toBe(201);
    expect(await jobCount()).toBe(before + 1);
  });

  it("refuses a relative path with a clear 400 instead of resolving it against the runner's folder", async () => {
    for (const path of ["code/app", "./app", "../up", "app"]) {
      const err = await expectError(addRepo(owner.token, { name: "rel", source: { kind: "path", path } }), 400);
      expect(err.message).toMatch(/absolute path/);
    }
    for (const path of ["/srv/a", "~/code/a", "~", "C:\\code\\a"]) {
      const res = await addRepo(owner.token, { name: `abs-${path.length}`, source: { kind: "path", path } });
      expect(res.status, path).toBe(201);
    }
  });

  it("does not add the same folder twice (409), however its path is written", async () => {
    const first = await addRepo(owner.token, { source: { kind: "path", path: "/home/ann/code/shop" } });
    expect(first.status).toBe(201);
    const err = await expectError(
      addRepo(owner.token, { name: "shop-again", source: { kind: "path", path: "/home/ann/code/shop/" } }),
      409,
      "repo_exists",
    );
    expect(err.message).toMatch(/already on this runner as the repo "shop"/);
  });

  it("a folder reached another way (~/x vs /home/me/x) ends in error once the runner resolves it", async () => {
    // Run the queued jobs so far: the earlier clone and folders succeed where they resolve to.
    for (;;) {
      const res = await post(runner.credential, "/runner/jobs/claim");
      if (res.status === 204) break;
      const c = await res.json<{ job: Job; leaseToken: string }>();
      const source = (c.job.payload as { source: Repo["source"] }).source;
      const path = source.kind === "path" ? source.path.replace(/^~/, "/home/ann").replace(/\/$/, "") : "/data/x";
      await post(runner.credential, `/runner/jobs/${c.job.id}/complete`, {
        leaseToken: c.leaseToken,
        status: "succeeded",
        result: { path, defaultBranch: "main", branches: ["main"] },
      });
    }
    const twin = await json<Repo>(
      addRepo(owner.token, { name: "shop-home", source: { kind: "path", path: "~/code/shop" } }),
    );
    await runNext(runner.credential, {
      status: "succeeded",
      result: { path: "/home/ann/code/shop", defaultBranch: "main", branches: ["main"] },
    });
    const row = (await repoList()).find((r) => r.id === twin.id);
    expect(row).toMatchObject({ status: "error", error: 'This folder is already on this runner as the repo "shop".' });
  });
});

describe("failed repos are not dead ends (item 6)", () => {
  it("a failed repo can be retried, and removed; its name then works again", async () => {
    const repo = await json<Repo>(
      addRepo(owner.token, { name: "flaky", source: { kind: "path", path: "/srv/flaky" } }),
    );
    await runNext(runner.credential, { status: "failed", error: "path does not exist on this runner: /srv/flaky" });
    expect((await repoList()).find((r) => r.id === repo.id)).toMatchObject({ status: "error" });
    await expectError(addRepo(owner.token, { name: "flaky", source: { kind: "path", path: "/srv/flaky2" } }), 409);

    // Retry: a new repo.add job, the row back to adding.
    const retry = await call(`/api/runners/${runner.id}/repos/${repo.id}/retry`, {
      method: "POST",
      token: owner.token,
    });
    expect(retry.status).toBe(202);
    expect(await retry.json()).toMatchObject({ status: "adding", error: null });
    const c = await claim(runner.credential);
    expect(c.job).toMatchObject({ type: "repo.add", payload: { repoId: repo.id, name: "flaky" } });
    await post(runner.credential, `/runner/jobs/${c.job.id}/complete`, {
      leaseToken: c.leaseToken,
      status: "failed",
      error: "still not there",
    });
    // Only a failed repo is retried; members may not retry a folder repo (only the owner adds those).
    await expectError(
      call(`/api/runners/${runner.id}/repos/${repo.id}/retry`, { method: "POST", token: member.token }),
      403,
    );

    // Remove: the row goes for everyone on the runner's boards, the runner is told to forget it.
    const room = await joinRoom(boardId, { token: viewer.token });
    await expectError(
      call(`/api/runners/${runner.id}/repos/${repo.id}`, { method: "DELETE", token: viewer.token }),
      403,
    );
    await expectError(
      call(`/api/runners/${runner.id}/repos/${repo.id}`, { method: "DELETE", token: member.token }),
      403,
    );
    const gone = await call(`/api/runners/${runner.id}/repos/${repo.id}`, { method: "DELETE", token: owner.token });
    expect(gone.status).toBe(204);
    await room.inbox.next("entity", (m) => m.entity === "repo" && m.op === "removed" && m.id === repo.id);
    room.ws.close();
    expect((await repoList()).some((r) => r.id === repo.id)).toBe(false);
    const forget = await claim(runner.credential);
    expect(forget.job).toMatchObject({ type: "repo.remove", payload: { repoId: repo.id } });
    await post(runner.credential, `/runner/jobs/${forget.job.id}/complete`, {
      leaseToken: forget.leaseToken,
      status: "succeeded",
      result: {},
    });
    await expectError(
      call(`/api/runners/${runner.id}/repos/${repo.id}`, { method: "DELETE", token: owner.token }),
      404,
    );

    // The same name, added again.
    const again = await addRepo(owner.token, { name: "flaky", source: { kind: "path", path: "/srv/flaky" } });
    expect(again.status).toBe(201);
    await runNext(runner.credential, {
      status: "succeeded",
      result: { path: "/srv/flaky", defaultBranch: "main", branches: ["main"] },
    });
  });

  it("a repo cards use is not removed (409 says what to do); whoever added it may remove it", async () => {
    const repo = await json<Repo>(
      addRepo(member.token, { name: "used", source: { kind: "url", url: "https://example.com/used.git" } }),
    );
    await runNext(runner.credential, {
      status: "succeeded",
      result: { path: "/data/repos/used", defaultBranch: "main", branches: ["main"] },
    });
    const wt = await json<Worktree>(
      call(`/api/boards/${boardId}/worktrees`, {
        method: "POST",
        token: member.token,
        json: { repoId: repo.id, name: "card", branch: "card" },
      }),
    );
    const err = await expectError(
      call(`/api/runners/${runner.id}/repos/${repo.id}`, { method: "DELETE", token: member.token }),
      409,
      "repo_in_use",
    );
    expect(err.message).toMatch(/1 worktree card uses this repo: delete it first/);
    expect((await repoList()).some((r) => r.id === repo.id)).toBe(true);
    // The card, once gone (its create cancelled, then deleted), no longer holds the repo.
    await call(`/api/jobs/${wt.jobId}/cancel`, { method: "POST", token: member.token });
    await call(`/api/boards/${boardId}/worktrees/${wt.id}`, { method: "DELETE", token: member.token });
    await runNext(runner.credential, { status: "succeeded", result: {} });
    const res = await call(`/api/runners/${runner.id}/repos/${repo.id}`, { method: "DELETE", token: member.token });
    expect(res.status).toBe(204);
  });
});
