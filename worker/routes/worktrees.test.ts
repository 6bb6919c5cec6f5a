import { beforeAll, describe, expect, it } from "vitest";
import type { GitState, JobClaim, Repo, Worktree } from "../../protocol/index.ts";
import {
  addMember,
  call,
  createBoard,
  createZone,
  expectError,
  joinRoom,
  json,
  registerUsers,
  type TestUser,
} from "../../test/helpers.ts";
import { claim, post, registerRunner, runNext, testEnv } from "./runner-testkit.ts";

const GIT: GitState = { head: "abc1234", ahead: 0, behind: 0, changedFiles: 0, refreshedAt: 1 };

let owner: TestUser;
let member: TestUser;
let viewer: TestUser;
let runner: { id: string; credential: string };
let boardId: string;
let repo: Repo;

const jobCount = async () =>
  (await testEnv.DB.prepare("select count(*) as n from jobs where runner_id = ?")
    .bind(runner.id)
    .first<{ n: number }>())!.n;

const createWt = (body: Record<string, unknown>, token = member.token, board = boardId) =>
  call(`/api/boards/${board}/worktrees`, { method: "POST", token, json: { repoId: repo.id, ...body } });

beforeAll(async () => {
  [owner, member, viewer] = await registerUsers("Owner", "Member", "Viewer");
  runner = await registerRunner(owner.token);
  boardId = (await createBoard(owner.token)).id;
  await addMember(owner.token, boardId, member, "member");
  await addMember(owner.token, boardId, viewer, "viewer");
  await call(`/api/runners/${runner.id}/boards`, { method: "POST", token: owner.token, json: { boardId } });

  // The runner's owner adds a folder from their machine; the runner reports where it lives and
  // what branches it has. (Only the owner may add by path: see repos.test.ts.)
  const added = await call(`/api/runners/${runner.id}/repos`, {
    method: "POST",
    token: owner.token,
    json: { source: { kind: "path", path: "/home/ann/code/my-app/" } },
  });
  expect(added.status).toBe(201);
  repo = await added.json<Repo>();
  expect(repo).toMatchObject({ name: "my-app", status: "adding" });
  const { claim: c } = await runNext(runner.credential, {
    status: "succeeded",
    result: { path: "/home/ann/code/my-app", defaultBranch: "main", branches: ["main", "dev"] },
  });
  expect(c.job).toMatchObject({ type: "repo.add", payload: { repoId: repo.id, name: "my-app" } });
});

describe("repos", () => {
  it("a finished repo.add fills in the repo; a fetch updates it", async () => {
    const list = await json<{ items: Repo[] }>(call(`/api/runners/${runner.id}/repos`, { token: viewer.token }));
    expect(list.items).toEqual([
      expect.objectContaining({
        id: repo.id,
        status: "ready",
        defaultBranch: "main",
        branches: ["main", "dev"],
        path: "/home/ann/code/my-app",
        error: null,
      }),
    ]);
    await expectError(
      call(`/api/runners/${runner.id}/repos`, {
        method: "POST",
        token: viewer.token,
        json: { source: { kind: "url", url: "file:///srv/x.git" } },
      }),
      403,
    );
    await expectError(
      call(`/api/runners/${runner.id}/repos`, { method: "POST", token: owner.token, json: { source: repo.source } }),
      409,
      "repo_exists",
    );

    const fetch = await call(`/api/runners/${runner.id}/repos/${repo.id}/fetch`, {
      method: "POST",
      token: member.token,
    });
    expect(fetch.status).toBe(202);
    await runNext(runner.credential, {
      status: "succeeded",
      result: { defaultBranch: "main", branches: ["main", "dev", "release"] },
    });
    const after = await json<{ items: Repo[] }>(call(`/api/runners/${runner.id}/repos`, { token: member.token }));
    expect(after.items[0]).toMatchObject({ branches: ["main", "dev", "release"], path: "/home/ann/code/my-app" });
  });
});

describe("creating worktrees", () => {
  it("goes creating → ready for everyone on the board", async () => {
    const room = await joinRoom(boardId, { token: viewer.token });
    const res = await createWt({ name: "feat-login", branch: "feat/login", x: 120, y: 80 });
    expect(res.status).toBe(201);
    const wt = await res.json<Worktree>();
    expect(wt).toMatchObject({ status: "creating", baseBranch: "main", x: 120, y: 80, git: null, notes: "" });
    await room.inbox.next("entity", (m) => m.entity === "worktree" && m.op === "created" && m.id === wt.id);

    const c = await claim(runner.credential);
    expect(c.job).toMatchObject({
      type: "worktree.create",
      boardId,
      payload: { worktreeId: wt.id, name: "feat-login", mode: "new", branch: "feat/login", baseBranch: "main" },
    });
    // A result that does not match the job type is refused and changes nothing.
    await expectError(
      post(runner.credential, `/runner/jobs/${c.job.id}/complete`, {
        leaseToken: c.leaseToken,
        status: "succeeded",
        result: { path: 7 },
      }),
      400,
      "invalid_result",
    );
    const done = await post(runner.credential, `/runner/jobs/${c.job.id}/complete`, {
      leaseToken: c.leaseToken,
      status: "succeeded",
      result: { path: "/home/ann/.trellis/worktrees/my-app/feat-login", git: GIT },
    });
    expect(done.status).toBe(200);
    const ready = await room.inbox.next(
      "entity",
      (m) => m.entity === "worktree" && m.op === "patched" && m.row?.status === "ready",
    );
    expect(ready.row).toMatchObject({ id: wt.id, git: GIT, path: "/home/ann/.trellis/worktrees/my-app/feat-login" });
    room.ws.close();

    await expectError(createWt({ name: "feat-login", branch: "other" }), 409, "worktree_exists");
    await expectError(createWt({ name: "again", branch: "feat/login" }), 409, "branch_in_use");
  });

  it("shows git's error verbatim when the runner fails", async () => {
    const wt = await json<Worktree>(createWt({ name: "dup", branch: "dev", mode: "existing" }));
    const git = "fatal: 'dev' is already checked out at '/home/ann/code/my-app'";
    await runNext(runner.credential, { status: "failed", error: git });
    const list = await json<{ items: Worktree[] }>(call(`/api/boards/${boardId}/worktrees`, { token: viewer.token }));
    expect(list.items.find((w) => w.id === wt.id)).toMatchObject({ status: "error", error: git });
  });

  it("a creation cancelled before the runner picked it up ends at once", async () => {
    const wt = await json<Worktree>(createWt({ name: "never", branch: "never" }));
    expect(wt.jobId).toBeTruthy();
    await expectError(call(`/api/jobs/${wt.jobId}/cancel`, { method: "POST", token: viewer.token }), 403);
    const job = await json(call(`/api/jobs/${wt.jobId}/cancel`, { method: "POST", token: member.token }));
    expect(job).toMatchObject({ status: "cancelled", type: "worktree.create" });
    const list = await json<{ items: Worktree[] }>(call(`/api/boards/${boardId}/worktrees`, { token: member.token }));
    expect(list.items.find((w) => w.id === wt.id)).toMatchObject({
      status: "error",
      error: "Creating the worktree was cancelled.",
      jobId: null,
    });
    expect((await post(runner.credential, "/runner/jobs/claim")).status).toBe(204);
  });

  it("refuses bad names with a 400 before any job exists", async () => {
    const before = await jobCount();
    for (const name of ["../escape", "a/b", "/abs", ".hidden", "x.lock", "", "with space"]) {
      await expectError(createWt({ name, branch: "ok" }), 400);
    }
    for (const branch of ["bad..branch", "-x", "a b", "ends/", "x.lock", "a~1", "@"]) {
      await expectError(createWt({ name: "fine", branch }), 400);
    }
    expect(await jobCount()).toBe(before);
  });

  it("viewers cannot create; a runner not shared with the board cannot be targeted", async () => {
    await expectError(createWt({ name: "v", branch: "v" }, viewer.token), 403, "insufficient_role");

    // The runner's owner on a board the runner is not shared with is told why.
    const elsewhere = (await createBoard(owner.token)).id;
    await expectError(createWt({ name: "n", branch: "n" }, owner.token, elsewhere), 403, "runner_not_shared");
    // Someone with no path to the runner cannot learn the repo exists.
    const [outsider] = await registerUsers("Outsider");
    const theirs = (await createBoard(outsider.token)).id;
    await expectError(createWt({ name: "n", branch: "n" }, outsider.token, theirs), 404);
  });
});

describe("changing and deleting worktrees", () => {
  let wt: Worktree;
  beforeAll(async () => {
    wt = await json<Worktree>(createWt({ name: "to-delete", branch: "feat/delete" }));
    // The runner made the branch, so "also delete the branch" may be asked for.
    await runNext(runner.credential, { status: "succeeded", result: { path: "/p", git: GIT, createdBranch: true } });
  });

  it("moves into a zone of this board only", async () => {
    const zone = await createZone(member.token, boardId);
    const other = await createZone(owner.token, (await createBoard(owner.token)).id);
    const path = `/api/boards/${boardId}/worktrees/${wt.id}`;
    await expectError(
      call(path, { method: "PATCH", token: member.token, json: { zoneId: other.id } }),
      400,
      "bad_zone",
    );
    const moved = await json<Worktree>(
      call(path, { method: "PATCH", token: member.token, json: { x: 10, y: 20, zoneId: zone.id, notes: "wip" } }),
    );
    expect(moved).toMatchObject({ x: 10, y: 20, zoneId: zone.id, notes: "wip", git: GIT });
  });

  it("refreshes git state on demand", async () => {
    const job = await call(`/api/boards/${boardId}/worktrees/${wt.id}/refresh`, {
      method: "POST",
      token: member.token,
    });
    expect(job.status).toBe(202);
    const git = { ...GIT, ahead: 2, changedFiles: 3 };
    await runNext(runner.credential, { status: "succeeded", result: { git } });
    const list = await json<{ items: Worktree[] }>(call(`/api/boards/${boardId}/worktrees`, { token: member.token }));
    expect(list.items.find((w) => w.id === wt.id)?.git).toEqual(git);
  });

  it("a dirty delete is refused with the runner's words; a forced one removes the card", async () => {
    const path = `/api/boards/${boardId}/worktrees/${wt.id}`;
    await expectError(call(path, { method: "DELETE", token: viewer.token }), 403);
    const del = await call(`${path}?deleteBranch=true`, { method: "DELETE", token: member.token });
    expect(del.status).toBe(202);
    expect(await del.json()).toMatchObject({ status: "deleting" });

    const refusal = "uncommitted changes in /p: commit or stash them, or delete with force";
    const first = await claim(runner.credential);
    expect(first.job.payload).toMatchObject({
      worktreeId: wt.id,
      force: false,
      deleteBranch: true,
      deleteUnmerged: false,
      baseBranch: "main",
    });
    await post(runner.credential, `/runner/jobs/${first.job.id}/complete`, {
      leaseToken: first.leaseToken,
      status: "failed",
      error: refusal,
    });
    const list = await json<{ items: Worktree[] }>(call(`/api/boards/${boardId}/worktrees`, { token: member.token }));
    expect(list.items.find((w) => w.id === wt.id)).toMatchObject({ status: "ready", error: refusal });

    const room = await joinRoom(boardId, { token: viewer.token });
    expect((await call(`${path}?force=true`, { method: "DELETE", token: member.token })).status).toBe(202);
    const forced: JobClaim = await claim(runner.credential);
    expect(forced.job.payload).toMatchObject({ force: true, deleteBranch: false });
    await post(runner.credential, `/runner/jobs/${forced.job.id}/complete`, {
      leaseToken: forced.leaseToken,
      status: "succeeded",
      result: {},
    });
    await room.inbox.next("entity", (m) => m.entity === "worktree" && m.op === "removed" && m.id === wt.id);
    room.ws.close();
    await expectError(call(path, { method: "DELETE", token: member.token }), 404);
  });
});

describe("listing", () => {
  it("pages in id order", async () => {
    const board = (await createBoard(owner.token)).id;
    await call(`/api/runners/${runner.id}/boards`, { method: "POST", token: owner.token, json: { boardId: board } });
    for (const n of [1, 2, 3]) {
      expect((await createWt({ name: `page-${n}`, branch: `page/${n}` }, owner.token, board)).status).toBe(201);
    }
    const first = await json<{ items: Worktree[]; nextCursor: string }>(
      call(`/api/boards/${board}/worktrees?limit=2`, { token: owner.token }),
    );
    expect(first.items.map((w) => w.name)).toEqual(["page-1", "page-2"]);
    const rest = await json<{ items: Worktree[]; nextCursor: string | null }>(
      call(`/api/boards/${board}/worktrees?limit=2&cursor=${first.nextCursor}`, { token: owner.token }),
    );
    expect(rest.items.map((w) => w.name)).toEqual(["page-3"]);
    expect(rest.nextCursor).toBeNull();
    await expectError(call(`/api/boards/${board}/worktrees?limit=501`, { token: owner.token }), 400);
  });
});
