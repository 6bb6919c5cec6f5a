/**
 * Issue 13 on the edge: Trellis deletes only branches it made and asks again for unmerged ones; a
 * card's status follows what the runner finds on disk; failed cards can be retried or edited; the
 * runner's watcher reports git state; branch clashes are refused before any job exists.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { Repo, RunnerWorktree, Worktree } from "../../protocol/index.ts";
import { call, expectError, joinRoom, json, type TestUser } from "../../test/helpers.ts";
import { boardWithRepo, claim, GIT, post, registerRunner, runNext, testEnv } from "./runner-testkit.ts";

let owner: TestUser;
let member: TestUser;
let runner: { id: string; credential: string };
let boardId: string;
let repo: Repo;

const jobCount = async () =>
  (await testEnv.DB.prepare("select count(*) as n from jobs where runner_id = ?")
    .bind(runner.id)
    .first<{ n: number }>())!.n;
const createWt = (body: Record<string, unknown>, token = member.token) =>
  call(`/api/boards/${boardId}/worktrees`, { method: "POST", token, json: { repoId: repo.id, ...body } });
const cardOf = async (id: string) =>
  (await json<{ items: Worktree[] }>(call(`/api/boards/${boardId}/worktrees`, { token: member.token }))).items.find(
    (w) => w.id === id,
  );
const del = (id: string, q = "") =>
  call(`/api/boards/${boardId}/worktrees/${id}${q}`, { method: "DELETE", token: member.token });

/** A card the runner created, reporting whether it made the branch. */
async function readyCard(name: string, createdBranch: boolean, mode = "new") {
  const wt = await json<Worktree>(createWt({ name, branch: name, mode }));
  await runNext(runner.credential, { status: "succeeded", result: { path: `/wt/${name}`, git: GIT, createdBranch } });
  return wt;
}

/** A card whose create the runner failed. */
async function failedCard(name: string, over: Record<string, unknown> = {}) {
  const wt = await json<Worktree>(createWt({ name, branch: name, ...over }));
  await runNext(runner.credential, { status: "failed", error: `fatal: could not create ${name}` });
  return wt;
}

beforeAll(async () => {
  ({ owner, member, runner, boardId, repo } = await boardWithRepo({
    path: "/home/ann/code/shop",
    branches: ["main", "feature-b", "release"],
  }));
});

describe("deleting a branch (item 1)", () => {
  it("refuses, before any job, to delete a branch this card's create did not make", async () => {
    const ex = await readyCard("feature-b", false, "existing");
    expect(ex).toMatchObject({ mode: "existing" });
    expect(await cardOf(ex.id)).toMatchObject({ status: "ready", branchCreated: false });
    const before = await jobCount();
    const err = await expectError(del(ex.id, "?deleteBranch=true&force=true"), 409, "branch_not_ours");
    expect(err.message).toMatch(/did not create branch "feature-b"/);
    expect(await jobCount()).toBe(before);
    expect(await cardOf(ex.id)).toMatchObject({ status: "ready" });

    // A failed "new branch" card never made its branch either (e.g. the branch was there already).
    const failed = await failedCard("was-there");
    await expectError(del(failed.id, "?deleteBranch=true"), 409, "branch_not_ours");
    expect(await jobCount()).toBe(before + 1);
  });

  it("asks again for a branch with unmerged commits, and sends the explicit yes", async () => {
    const wt = await readyCard("ours", true);
    expect(await cardOf(wt.id)).toMatchObject({ branchCreated: true });
    expect((await del(wt.id, "?deleteBranch=true")).status).toBe(202);
    const first = await claim(runner.credential);
    expect(first.job.payload).toMatchObject({ deleteBranch: true, deleteUnmerged: false, baseBranch: "main" });
    const refusal = 'branch "ours" has 2 commits not merged into main.';
    await post(runner.credential, `/runner/jobs/${first.job.id}/complete`, {
      leaseToken: first.leaseToken,
      status: "failed",
      error: refusal,
      code: "branch_unmerged",
      detail: { worktreeExists: true, unmergedCommits: 2 },
    });
    expect(await cardOf(wt.id)).toMatchObject({ status: "ready", error: refusal, errorCode: "branch_unmerged" });

    expect((await del(wt.id, "?deleteBranch=true&deleteUnmerged=true")).status).toBe(202);
    const second = await claim(runner.credential);
    expect(second.job.payload).toMatchObject({ deleteBranch: true, deleteUnmerged: true });
    await post(runner.credential, `/runner/jobs/${second.job.id}/complete`, {
      leaseToken: second.leaseToken,
      status: "succeeded",
      result: { branches: ["main", "feature-b"] },
    });
    expect(await cardOf(wt.id)).toBeUndefined();
  });

  it("refuses a failure code it does not know (400), changing nothing", async () => {
    const wt = await readyCard("coded", true);
    await del(wt.id);
    const c = await claim(runner.credential);
    await expectError(
      post(runner.credential, `/runner/jobs/${c.job.id}/complete`, {
        leaseToken: c.leaseToken,
        status: "failed",
        error: "x",
        code: "made_up",
      }),
      400,
    );
    expect(await cardOf(wt.id)).toMatchObject({ status: "deleting" });
    await post(runner.credential, `/runner/jobs/${c.job.id}/complete`, {
      leaseToken: c.leaseToken,
      status: "cancelled",
    });
  });
});

describe("a card's status follows the disk (item 2)", () => {
  it("a failed delete of a card whose worktree never existed leaves it in error, not ready", async () => {
    const wt = await failedCard("never-made");
    expect((await del(wt.id)).status).toBe(202);
    const c = await claim(runner.credential);
    await post(runner.credential, `/runner/jobs/${c.job.id}/complete`, {
      leaseToken: c.leaseToken,
      status: "failed",
      error: "error: Cannot delete branch 'main' checked out at '/home/ann/code/shop'",
      detail: { worktreeExists: false },
    });
    expect(await cardOf(wt.id)).toMatchObject({ status: "error", error: expect.stringMatching(/Cannot delete/) });
    // Refresh is for ready cards only: it cannot make this one look ready.
    await expectError(
      call(`/api/boards/${boardId}/worktrees/${wt.id}/refresh`, { method: "POST", token: member.token }),
      409,
    );
  });

  it("without the runner's word (a lost or cancelled delete), a card that never had a folder stays failed", async () => {
    const wt = await failedCard("no-word");
    await del(wt.id);
    const c = await claim(runner.credential);
    await post(runner.credential, `/runner/jobs/${c.job.id}/complete`, {
      leaseToken: c.leaseToken,
      status: "cancelled",
    });
    expect(await cardOf(wt.id)).toMatchObject({ status: "error" });
  });

  it("a refresh that finds the folder gone turns the card to error", async () => {
    const wt = await readyCard("vanished", true);
    await call(`/api/boards/${boardId}/worktrees/${wt.id}/refresh`, { method: "POST", token: member.token });
    await runNext(runner.credential, {
      status: "failed",
      error: "worktree folder is missing or broken: /wt/vanished",
      code: "worktree_missing",
      detail: { worktreeExists: false },
    });
    expect(await cardOf(wt.id)).toMatchObject({ status: "error", errorCode: "worktree_missing" });
  });
});

describe("retrying and editing a failed card (item 6)", () => {
  it("runs the create again, with a new branch and mode if asked, and refuses a card that did not fail", async () => {
    const wt = await failedCard("retry-me", { branch: "taken-upstream" });
    const path = `/api/boards/${boardId}/worktrees/${wt.id}/retry`;
    await expectError(call(path, { method: "POST", token: member.token, json: { branch: "a..b" } }), 400);
    await expectError(
      call(path, { method: "POST", token: member.token, json: { branch: "main" } }),
      409,
      "branch_exists",
    );

    const room = await joinRoom(boardId, { token: member.token });
    const res = await call(path, {
      method: "POST",
      token: member.token,
      json: { branch: "retry-me", baseBranch: "main" },
    });
    expect(res.status).toBe(202);
    const retried = await res.json<Worktree>();
    expect(retried).toMatchObject({ status: "creating", branch: "retry-me", error: null, errorCode: null });
    await room.inbox.next("entity", (m) => m.entity === "worktree" && m.id === wt.id && m.row?.status === "creating");
    room.ws.close();
    const c = await claim(runner.credential);
    expect(c.job).toMatchObject({
      type: "worktree.create",
      payload: { worktreeId: wt.id, name: "retry-me", mode: "new", branch: "retry-me", baseBranch: "main" },
    });
    await post(runner.credential, `/runner/jobs/${c.job.id}/complete`, {
      leaseToken: c.leaseToken,
      status: "succeeded",
      result: {
        path: "/wt/retry-me",
        git: GIT,
        createdBranch: true,
        branches: ["feature-b", "main", "release", "retry-me"],
      },
    });
    expect(await cardOf(wt.id)).toMatchObject({ status: "ready", branchCreated: true });
    await expectError(call(path, { method: "POST", token: member.token, json: {} }), 409, "worktree_not_failed");

    // Edit: the same card as an existing-branch checkout.
    const other = await failedCard("edit-me");
    const edited = await json<Worktree>(
      call(`/api/boards/${boardId}/worktrees/${other.id}/retry`, {
        method: "POST",
        token: member.token,
        json: { mode: "existing", branch: "hotfix" },
      }),
    );
    expect(edited).toMatchObject({ status: "creating", mode: "existing", branch: "hotfix" });
    await runNext(runner.credential, { status: "failed", error: "fatal: nope" });
  });
});

describe("branch checks before any job (validation)", () => {
  it("refuses an existing branch or the default branch as a new branch (409), and HEAD as a name (400)", async () => {
    const before = await jobCount();
    const main = await expectError(createWt({ name: "use-main", branch: "main" }), 409, "branch_exists");
    expect(main.message).toMatch(/default branch/);
    const known = await expectError(createWt({ name: "rel", branch: "release" }), 409, "branch_exists");
    expect(known.message).toMatch(/already exists in shop.*existing branch/);
    await expectError(createWt({ name: "head", branch: "HEAD" }), 400);
    await expectError(createWt({ name: "head", branch: "main", mode: "existing", baseBranch: "HEAD" }), 400);
    expect(await jobCount()).toBe(before);
  });

  it("learns the branches a create made, so a second card cannot make the same one", async () => {
    // The earlier retry reported `retry-me` among the repo's branches.
    const r = await json<{ items: Repo[] }>(call(`/api/runners/${runner.id}/repos`, { token: member.token }));
    expect(r.items.find((x) => x.id === repo.id)?.branches).toContain("retry-me");
  });
});

describe("live git state from the runner's watcher (item 5)", () => {
  it("lists the runner's cards to watch, and applies what it reports", async () => {
    const wt = await readyCard("watched", true);
    const list = await json<{ items: RunnerWorktree[] }>(call("/runner/worktrees", { token: runner.credential }));
    expect(list.items.find((w) => w.id === wt.id)).toMatchObject({ name: "watched", repoId: repo.id, status: "ready" });

    const room = await joinRoom(boardId, { token: member.token });
    const dirty = { ...GIT, changedFiles: 2, refreshedAt: 5 };
    const res = await json(
      post(runner.credential, "/runner/git", { worktrees: [{ worktreeId: wt.id, exists: true, git: dirty }] }),
    );
    expect(res).toEqual({ applied: 1, ignored: 0 });
    const ev = await room.inbox.next("entity", (m) => m.entity === "worktree" && m.id === wt.id && m.op === "patched");
    expect(ev.row).toMatchObject({ git: dirty, status: "ready" });

    // The same state again changes nothing.
    expect(
      await json(
        post(runner.credential, "/runner/git", {
          worktrees: [{ worktreeId: wt.id, exists: true, git: { ...dirty, refreshedAt: 9 } }],
        }),
      ),
    ).toEqual({ applied: 0, ignored: 0 });

    // The folder is gone: error; it is back: ready again.
    await post(runner.credential, "/runner/git", { worktrees: [{ worktreeId: wt.id, exists: false, git: null }] });
    expect(await cardOf(wt.id)).toMatchObject({ status: "error", errorCode: "worktree_missing" });
    const back = await json<{ items: RunnerWorktree[] }>(call("/runner/worktrees", { token: runner.credential }));
    expect(back.items.find((w) => w.id === wt.id)).toMatchObject({ status: "error" });
    await post(runner.credential, "/runner/git", { worktrees: [{ worktreeId: wt.id, exists: true, git: GIT }] });
    expect(await cardOf(wt.id)).toMatchObject({ status: "ready", error: null, git: GIT });

    // Branches the runner saw change in the repo.
    await post(runner.credential, "/runner/git", {
      repos: [{ repoId: repo.id, defaultBranch: "main", branches: ["main", "watched"] }],
    });
    await room.inbox.next(
      "entity",
      (m) => m.entity === "repo" && m.id === repo.id && (m.row as Repo | null)?.branches.length === 2,
    );
    room.ws.close();
  });

  it("a runner may report only on its own worktrees and repos; bad reports are 400", async () => {
    const wt = await readyCard("not-yours", true);
    const other = await registerRunner(owner.token, "other");
    const res = await json(
      post(other.credential, "/runner/git", {
        worktrees: [{ worktreeId: wt.id, exists: false, git: null }],
        repos: [{ repoId: repo.id, defaultBranch: "main", branches: [] }],
      }),
    );
    expect(res).toEqual({ applied: 0, ignored: 2 });
    expect(await cardOf(wt.id)).toMatchObject({ status: "ready" });
    const list = await json<{ items: RunnerWorktree[] }>(call("/runner/worktrees", { token: other.credential }));
    expect(list.items).toEqual([]);
    await expectError(post(runner.credential, "/runner/git", {}), 400);
    await expectError(
      post(runner.credential, "/runner/git", { worktrees: [{ worktreeId: wt.id, exists: "yes" }] }),
      400,
    );
    await expectError(
      call("/runner/git", { method: "POST", token: member.token, json: { repos: [] } }),
      401,
      "wrong_credential",
    );
  });
});
