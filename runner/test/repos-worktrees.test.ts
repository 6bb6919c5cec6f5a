/**
 * The runner process against a real Worker: repos and worktrees through the `/api` routes while
 * `trellis-runner start` runs, with real git in temp folders.
 */
import { existsSync, readdirSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ErrorBody, Job, Page, Repo, Runner, Worktree } from "../../protocol/index.ts";
import { startTrellis, type Trellis } from "../../test/server.ts";
import { commit, makeBareRemote, makeRepo, sh } from "./git-fixtures.ts";
import { type RunnerProcess, type Setup, setup, until } from "./harness.ts";

let edge: Trellis;
let s: Setup;
let runner: RunnerProcess;
let localRepo: string;

beforeAll(async () => {
  edge = await startTrellis();
  s = await setup(edge.url);
  localRepo = makeRepo(join(s.dir, "project"), { "README.md": "hi\n", "src/app.ts": "export {};\n" });
  runner = s.start();
  await runner.waitFor(/connected to /);
});
afterAll(async () => {
  s?.cleanup();
  await edge?.stop();
});

const repoRow = async (repoId: string) =>
  (await s.api<Page<Repo>>(`/api/runners/${s.runnerId}/repos`)).items.find((r) => r.id === repoId);
const cards = async () => (await s.api<Page<Worktree>>(`/api/boards/${s.boardId}/worktrees`)).items;
const card = async (id: string) => (await cards()).find((w) => w.id === id);

async function addRepo(source: Repo["source"], name: string): Promise<Repo> {
  const repo = await s.api<Repo>(`/api/runners/${s.runnerId}/repos`, { json: { name, source } });
  return until(`repo ${name} ready`, async () => {
    const r = await repoRow(repo.id);
    if (r?.status === "error") throw new Error(`repo failed: ${r.error}`);
    return r?.status === "ready" ? r : undefined;
  });
}

async function createCard(body: Record<string, unknown>): Promise<Worktree> {
  const wt = await s.api<Worktree>(`/api/boards/${s.boardId}/worktrees`, { json: body });
  expect(wt.status).toBe("creating");
  return until(`worktree ${wt.name} settled`, async () => {
    const w = await card(wt.id);
    return w && w.status !== "creating" ? w : undefined;
  });
}

async function statusOf(path: string, init: { method?: string; json?: unknown } = {}) {
  const res = await fetch(`${s.base}${path}`, {
    method: init.method ?? (init.json ? "POST" : "GET"),
    headers: { authorization: `Bearer ${s.user.token}`, "content-type": "application/json" },
    body: init.json ? JSON.stringify(init.json) : undefined,
  });
  return { status: res.status, body: (res.status === 204 ? null : await res.json()) as ErrorBody | null };
}

describe("a registered runner", () => {
  it("shows online with its version, OS, git version and providers", async () => {
    const me = await until("runner online", async () => {
      const list = await s.api<{ items: Runner[] }>("/api/runners");
      return list.items.find((r) => r.id === s.runnerId && r.status === "online");
    });
    expect(me.info).toMatchObject({
      version: "0.1.0",
      gitVersion: expect.stringMatching(/^\d+\.\d+/),
    });
    expect(me.info.os).toMatch(/\w/);
    // Each provider is listed with whether it can be served and, if not, what to set.
    expect(me.info.agents?.map((a) => a.provider)).toEqual(["anthropic", "openai"]);
    for (const a of me.info.agents ?? []) if (!a.ready) expect(a.reason).toMatch(/set .* restart the runner/);
    expect(me.info.providers).toEqual((me.info.agents ?? []).filter((a) => a.ready).map((a) => a.provider));
  });

  it("runs a ping job the moment it is queued", async () => {
    const job = await s.api<Job>(`/api/runners/${s.runnerId}/jobs`, { json: { type: "ping" } });
    const done = await until("ping done", async () => {
      const j = await s.api<Job>(`/api/jobs/${job.id}`);
      return j.status === "succeeded" ? j : undefined;
    });
    expect(done.attempts).toBe(1);
    await runner.waitFor(new RegExp(`job ${job.id} ping succeeded in \\d+ ms`));
  });
});

describe("repos", () => {
  it("adds a local repo in place and reports its default branch and branches", async () => {
    sh(localRepo, "branch", "topic");
    const repo = await addRepo({ kind: "path", path: localRepo }, "project");
    expect(repo).toMatchObject({ defaultBranch: "main", branches: ["main", "topic"], path: realpathSync(localRepo) });
    expect(repo.lastFetchedAt).toBeGreaterThan(0);
  });

  it("clones a repo by file:// URL into the data dir, and fetches on demand", async () => {
    const { url, work, bare } = makeBareRemote(s.dir);
    const repo = await addRepo({ kind: "url", url }, "upstream");
    expect(repo.path).toBe(join(realpathSync(s.dataDir), "repos", repo.id));
    expect(repo).toMatchObject({ defaultBranch: "main", branches: ["feature", "main"] });

    sh(work, "checkout", "-q", "-b", "later");
    commit(work, { "later.txt": "x\n" });
    sh(work, "push", "-q", bare, "later");
    const job = await s.api<Job>(`/api/runners/${s.runnerId}/repos/${repo.id}/fetch`, { method: "POST" });
    await until("fetch done", async () => (await s.api<Job>(`/api/jobs/${job.id}`)).status === "succeeded");
    expect((await repoRow(repo.id))?.branches).toEqual(["feature", "later", "main"]);
  });

  it("puts git's words on a repo that cannot be added", async () => {
    const repo = await s.api<Repo>(`/api/runners/${s.runnerId}/repos`, {
      json: { name: "nothing", source: { kind: "path", path: join(s.dir, "no-such-folder") } },
    });
    const failed = await until("repo failed", async () => {
      const r = await repoRow(repo.id);
      return r?.status === "error" ? r : undefined;
    });
    expect(failed.error).toMatch(/path does not exist on this runner/);
  });
});

describe("worktrees", () => {
  let repo: Repo;
  beforeAll(async () => {
    const path = makeRepo(join(s.dir, "wt-project"));
    repo = await addRepo({ kind: "path", path }, "wt-project");
  });

  it("creates a worktree card that goes creating → ready with git state, lists it, and deletes it", async () => {
    const wt = await createCard({ repoId: repo.id, name: "feat-a", branch: "feat-a", x: 10, y: 20 });
    expect(wt).toMatchObject({ status: "ready", error: null, branch: "feat-a", x: 10, y: 20 });
    expect(wt.path).toBe(join(realpathSync(s.dataDir), "worktrees", repo.id, "feat-a"));
    expect(wt.git).toMatchObject({
      ahead: 0,
      behind: 0,
      changedFiles: 0,
      head: expect.stringMatching(/^[0-9a-f]{40}$/),
    });
    expect(sh(wt.path!, "branch", "--show-current").trim()).toBe("feat-a");

    commit(wt.path!, { "work.txt": "1\n" });
    writeFileSync(join(wt.path!, "scratch.txt"), "x");
    await s.api(`/api/boards/${s.boardId}/worktrees/${wt.id}/refresh`, { method: "POST" });
    await until("refreshed", async () => (await card(wt.id))?.git?.ahead === 1);
    expect((await card(wt.id))?.git).toMatchObject({ ahead: 1, behind: 0, changedFiles: 1 });

    // feat-a has a commit main lacks: deleting the branch takes the explicit second yes.
    const asked = await statusOf(`/api/boards/${s.boardId}/worktrees/${wt.id}?force=true&deleteBranch=true`, {
      method: "DELETE",
    });
    expect(asked.status).toBe(202);
    const refused = await until("unmerged refusal", async () => {
      const w = await card(wt.id);
      return w?.status === "ready" && w.errorCode === "branch_unmerged" ? w : undefined;
    });
    expect(refused.error).toMatch(/^branch "feat-a" has 1 commit not merged into main\. Nothing was deleted/);
    expect(existsSync(wt.path!)).toBe(true);
    const del = await statusOf(
      `/api/boards/${s.boardId}/worktrees/${wt.id}?force=true&deleteBranch=true&deleteUnmerged=true`,
      { method: "DELETE" },
    );
    expect(del.status).toBe(202);
    await until("card gone", async () => !(await card(wt.id)));
    expect(existsSync(wt.path!)).toBe(false);
    expect(sh(repo.path!, "branch", "--list", "feat-a").trim()).toBe("");
  });

  it("keeps git state live without Refresh, and the repo's branches true as cards make and delete them", async () => {
    const wt = await createCard({ repoId: repo.id, name: "live", branch: "live" });
    expect(wt).toMatchObject({ status: "ready", branchCreated: true, git: { changedFiles: 0 } });
    expect((await repoRow(repo.id))?.branches).toContain("live");

    const t0 = Date.now();
    writeFileSync(join(wt.path!, "README.md"), "edited on disk\n");
    writeFileSync(join(wt.path!, "new.txt"), "new\n");
    await until("card shows 2 changed files", async () => (await card(wt.id))?.git?.changedFiles === 2, 10_000);
    console.log(`# edit on disk → card state in ${Date.now() - t0} ms`);
    commit(wt.path!, {});
    await until("card shows the commit", async () => {
      const g = (await card(wt.id))?.git;
      return g?.ahead === 1 && g.changedFiles === 0;
    });

    // A branch made or deleted outside Trellis shows in the create dialog's list without a fetch.
    sh(repo.path!, "branch", "made-by-hand");
    await until("branch appears", async () => (await repoRow(repo.id))?.branches.includes("made-by-hand"));
    sh(repo.path!, "branch", "-D", "made-by-hand");
    await until("branch drops", async () => !(await repoRow(repo.id))?.branches.includes("made-by-hand"));

    // The folder removed by hand: the card says so instead of staying ready.
    rmSync(wt.path!, { recursive: true, force: true });
    const gone = await until("card in error", async () => {
      const w = await card(wt.id);
      return w?.status === "error" ? w : undefined;
    });
    expect(gone.errorCode).toBe("worktree_missing");

    // Deleting it (and its unmerged branch, on the second yes) drops the branch from the list.
    await statusOf(`/api/boards/${s.boardId}/worktrees/${wt.id}?deleteBranch=true&deleteUnmerged=true`, {
      method: "DELETE",
    });
    await until("card gone", async () => !(await card(wt.id)));
    expect((await repoRow(repo.id))?.branches).not.toContain("live");
  });

  it("checks out an existing branch", async () => {
    sh(repo.path!, "branch", "existing-one");
    const wt = await createCard({ repoId: repo.id, name: "ex", mode: "existing", branch: "existing-one" });
    expect(wt.status).toBe("ready");
    expect(sh(wt.path!, "branch", "--show-current").trim()).toBe("existing-one");
  });

  it("refuses a dirty delete with the files named, then deletes when forced", async () => {
    const wt = await createCard({ repoId: repo.id, name: "dirty", branch: "dirty" });
    writeFileSync(join(wt.path!, "unsaved.txt"), "precious");
    expect((await statusOf(`/api/boards/${s.boardId}/worktrees/${wt.id}`, { method: "DELETE" })).status).toBe(202);
    const refused = await until("delete refused", async () => {
      const w = await card(wt.id);
      return w?.status === "ready" && w.error ? w : undefined;
    });
    expect(refused.error).toMatch(/^uncommitted changes: unsaved\.txt\./);
    expect(existsSync(join(wt.path!, "unsaved.txt"))).toBe(true);

    await statusOf(`/api/boards/${s.boardId}/worktrees/${wt.id}?force=true`, { method: "DELETE" });
    await until("card gone", async () => !(await card(wt.id)));
    expect(existsSync(wt.path!)).toBe(false);
  });

  it("shows git's error verbatim when git refuses", async () => {
    const wt = await createCard({ repoId: repo.id, name: "bad-base", branch: "bad-base", baseBranch: "no-such-base" });
    expect(wt.status).toBe("error");
    expect(wt.error).toMatch(/fatal: .*no-such-base/);
    expect(readdirSync(join(s.dataDir, "worktrees", repo.id))).not.toContain("bad-base");
  });

  it("refuses invalid and escaping names with 400 before any job exists", async () => {
    const before = (await cards()).length;
    for (const name of ["../escape", "/etc", "a/b", ".git", "x.lock", "..", "-rf"]) {
      const r = await statusOf(`/api/boards/${s.boardId}/worktrees`, { json: { repoId: repo.id, name, branch: "ok" } });
      expect(r.status, name).toBe(400);
      expect(r.body?.error.message, name).toMatch(/name/i);
    }
    for (const branch of ["a..b", "-x", "has space", "x.lock", "/lead", "a//b", "@", "a~1", "a^b", "a:b"]) {
      const r = await statusOf(`/api/boards/${s.boardId}/worktrees`, { json: { repoId: repo.id, name: "ok", branch } });
      expect(r.status, branch).toBe(400);
    }
    expect((await cards()).length).toBe(before);
    expect(existsSync(join(s.dataDir, "escape"))).toBe(false);
  });
});
