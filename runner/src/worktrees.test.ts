import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { commit, makeBareRemote, makeRepo, sh, tempDir, writeFiles } from "../test/git-fixtures.ts";
import { JobFailure } from "./failure.ts";
import { addRepo } from "./repos.ts";
import { LocalState } from "./state.ts";
import { createWorktree, deleteWorktree, refreshWorktree } from "./worktrees.ts";

let tmp: ReturnType<typeof tempDir>;
let dataDir: string;
let state: LocalState;
let repo: string;
let env: { dataDir: string; state: LocalState };

const wtDir = (name: string) => join(realpathSync(dataDir), "worktrees", "r1", name);
const branches = (cwd: string) => sh(cwd, "branch", "--format=%(refname:short)").trim().split("\n");
const worktreePaths = (cwd: string) =>
  sh(cwd, "worktree", "list", "--porcelain")
    .split("\n")
    .filter((l) => l.startsWith("worktree "))
    .map((l) => l.slice("worktree ".length));

beforeEach(async () => {
  tmp = tempDir();
  dataDir = join(tmp.dir, "data");
  state = await LocalState.open(dataDir);
  env = { dataDir, state };
  repo = makeRepo(join(tmp.dir, "project"));
  await addRepo({ repoId: "r1", name: "project", source: { kind: "path", path: repo } }, env);
});
afterEach(() => tmp.cleanup());

const create = (name: string, over: Partial<Parameters<typeof createWorktree>[0]> = {}) =>
  createWorktree({ repoId: "r1", name, mode: "new", branch: name, baseBranch: "main", ...over }, env);
const remove = (name: string, over: Partial<Parameters<typeof deleteWorktree>[0]> = {}) =>
  deleteWorktree({ repoId: "r1", name, branch: name, force: false, deleteBranch: false, ...over }, env);

describe("worktree.create", () => {
  it("adds a new branch from the base under the data dir and reports its git state", async () => {
    const r = await create("feat-1");
    expect(r.path).toBe(wtDir("feat-1"));
    expect(r.git).toMatchObject({ ahead: 0, behind: 0, changedFiles: 0, head: sh(repo, "rev-parse", "main").trim() });
    expect(sh(r.path, "branch", "--show-current").trim()).toBe("feat-1");

    commit(r.path, { "new.txt": "1\n" });
    commit(repo, { "main.txt": "1\n" });
    commit(repo, { "main.txt": "2\n" });
    writeFiles(r.path, { "dirty.txt": "x\n", "README.md": "changed\n" });
    const refreshed = await refreshWorktree({ repoId: "r1", name: "feat-1", baseBranch: "main" }, env);
    expect(refreshed.git).toMatchObject({ ahead: 1, behind: 2, changedFiles: 2 });
  });

  it("defaults the base to the repo's default branch, and checks out an existing branch", async () => {
    sh(repo, "branch", "existing");
    const r = await create("wt", { baseBranch: null, branch: "topic" });
    expect(sh(r.path, "branch", "--show-current").trim()).toBe("topic");
    const e = await create("wt2", { mode: "existing", branch: "existing" });
    expect(sh(e.path, "branch", "--show-current").trim()).toBe("existing");
  });

  it("bases a branch on origin's copy when the clone has no local branch of that name", async () => {
    const { url } = makeBareRemote(tmp.dir);
    await addRepo({ repoId: "r2", name: "up", source: { kind: "url", url } }, env);
    const r = await createWorktree({ repoId: "r2", name: "f", mode: "new", branch: "f", baseBranch: "feature" }, env);
    expect(existsSync(join(r.path, "feature.txt"))).toBe(true);
    const e = await createWorktree(
      { repoId: "r2", name: "feature", mode: "existing", branch: "feature", baseBranch: null },
      env,
    );
    expect(existsSync(join(e.path, "feature.txt"))).toBe(true);
  });

  it("is idempotent: a second create of the same worktree succeeds and leaves one worktree", async () => {
    const a = await create("same");
    const b = await create("same");
    expect(b.path).toBe(a.path);
    expect(worktreePaths(repo).filter((p) => p === a.path)).toHaveLength(1);
    await expect(create("same", { branch: "other" })).rejects.toThrow(/already exists on same, not on other/);
  });

  it("clears a half-made folder left by a killed attempt and makes the worktree again", async () => {
    mkdirSync(wtDir("half"), { recursive: true });
    writeFileSync(join(wtDir("half"), "partial.txt"), "junk");
    const r = await create("half");
    expect(existsSync(join(r.path, "partial.txt"))).toBe(false);
    expect(existsSync(join(r.path, "README.md"))).toBe(true);
  });

  it("redoes a worktree git left locked 'initializing', reusing the branch it made if still on the base", async () => {
    const r = await create("killed");
    // What `kill -9` of `git worktree add` leaves: the lock, a partial checkout, the new branch.
    const admin = sh(r.path, "rev-parse", "--git-dir").trim();
    writeFileSync(join(admin, "locked"), "initializing");
    rmSync(join(r.path, "README.md"));
    const again = await create("killed");
    expect(existsSync(join(again.path, "README.md"))).toBe(true);
    expect(sh(repo, "worktree", "list", "--porcelain")).not.toContain("locked");
  });

  it("never reuses a leftover branch that has commits of its own", async () => {
    sh(repo, "branch", "taken");
    const tmpWt = join(tmp.dir, "elsewhere");
    sh(repo, "worktree", "add", "-q", tmpWt, "taken");
    commit(tmpWt, { "mine.txt": "precious\n" });
    sh(repo, "worktree", "remove", tmpWt);
    await expect(create("taken")).rejects.toThrow(/branch "taken" already exists/);
    expect(existsSync(wtDir("taken"))).toBe(false);
  });

  it("reports git's error verbatim", async () => {
    await expect(create("bad-base", { baseBranch: "no-such-base" })).rejects.toThrow(
      /fatal: (invalid reference|not a valid object name): '?no-such-base/,
    );
    await expect(create("gone", { mode: "existing", branch: "no-such-branch" })).rejects.toThrow(/fatal: /);
    expect(readdirSync(join(dataDir, "worktrees", "r1"))).toEqual([]);
  });

  it("refuses names that are not one safe folder or not a valid branch", async () => {
    for (const name of ["../escape", "/abs", "a/b", ".hidden", "x.lock", "..", " pad", ""]) {
      await expect(create(name, { branch: "ok" }), name).rejects.toThrow(/invalid worktree name/);
    }
    for (const branch of ["a..b", "-x", "a b", "x.lock", "/a", "a//b", "@", "a~1"]) {
      await expect(create("ok", { branch }), branch).rejects.toThrow(/invalid branch name/);
    }
    await expect(create("ok", { baseBranch: "../main" })).rejects.toThrow(/invalid base branch/);
    await expect(
      createWorktree({ repoId: "..", name: "x", mode: "new", branch: "x", baseBranch: null }, env),
    ).rejects.toThrow(/invalid repo id/);
    expect(existsSync(join(dataDir, "escape"))).toBe(false);
  });

  it("refuses a worktrees folder that is a symlink out of the data dir", async () => {
    const outside = join(tmp.dir, "outside");
    mkdirSync(outside);
    mkdirSync(join(dataDir, "worktrees"), { recursive: true });
    rmSync(join(dataDir, "worktrees", "r1"), { recursive: true, force: true });
    symlinkSync(outside, join(dataDir, "worktrees", "r1"));
    await expect(create("sneaky")).rejects.toThrow(/outside the data folder/);
    expect(readdirSync(outside)).toEqual([]);
  });

  it("refuses a symlink where the worktree folder should be", async () => {
    mkdirSync(wtDir(""), { recursive: true });
    symlinkSync(join(tmp.dir), wtDir("link"));
    await expect(create("link")).rejects.toThrow(/is a symlink/);
  });

  it("says what to do when the repo is unknown", async () => {
    await expect(
      createWorktree({ repoId: "nope", name: "x", mode: "new", branch: "x", baseBranch: null }, env),
    ).rejects.toThrow(/repo nope is not known on this runner/);
  });

  it("cancelled mid-way (git killed, hooks included) leaves no folder and no new branch", async () => {
    const hooks = join(repo, ".git", "hooks");
    writeFileSync(join(hooks, "post-checkout"), "#!/bin/sh\nsleep 20\n");
    chmodSync(join(hooks, "post-checkout"), 0o755);
    const ac = new AbortController();
    const started = Date.now();
    const p = createWorktree(
      { repoId: "r1", name: "slow", mode: "new", branch: "slow", baseBranch: "main" },
      { ...env, signal: ac.signal },
    );
    setTimeout(() => ac.abort(new Error("cancelled")), 500);
    await expect(p).rejects.toThrow("cancelled");
    expect(Date.now() - started).toBeLessThan(5000);
    expect(existsSync(wtDir("slow"))).toBe(false);
    expect(branches(repo)).toEqual(["main"]);
    expect(worktreePaths(repo)).toHaveLength(1);
  });
});

describe("worktree.delete", () => {
  it("removes a clean worktree, optionally its branch, and is idempotent", async () => {
    await create("done");
    await remove("done");
    expect(existsSync(wtDir("done"))).toBe(false);
    expect(branches(repo)).toContain("done");
    await remove("done", { deleteBranch: true });
    expect(branches(repo)).toEqual(["main"]);
    await remove("never-existed");
  });

  it("refuses uncommitted changes unless forced", async () => {
    const r = await create("dirty");
    writeFiles(r.path, { "a.txt": "1", "b.txt": "2", "README.md": "edited" });
    await expect(remove("dirty")).rejects.toThrow(/^uncommitted changes: (.+\.(txt|md), ){2}.+\.(txt|md)\. /);
    expect(existsSync(join(r.path, "a.txt"))).toBe(true);
    await remove("dirty", { force: true, deleteBranch: true });
    expect(existsSync(r.path)).toBe(false);
    expect(branches(repo)).toEqual(["main"]);
    expect(worktreePaths(repo)).toHaveLength(1);
  });

  it("lists only a few of many changed files", async () => {
    const r = await create("many");
    writeFiles(r.path, Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`f${i}.txt`, "x"])));
    await expect(remove("many")).rejects.toThrow(/and 4 more\./);
  });

  it("clears a half-made worktree and a folder whose git admin data is gone", async () => {
    const r = await create("half");
    writeFileSync(join(sh(r.path, "rev-parse", "--git-dir").trim(), "locked"), "initializing");
    await remove("half");
    expect(existsSync(r.path)).toBe(false);
    mkdirSync(wtDir("stray"), { recursive: true });
    await remove("stray");
    expect(existsSync(wtDir("stray"))).toBe(false);
  });
});

describe("branches Trellis did not make are never deleted (issue 13)", () => {
  const failure = async (p: Promise<unknown>) => {
    const err = await p.then(
      () => {
        throw new Error("expected a failure");
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(JobFailure);
    return err as JobFailure;
  };

  it("reports whether the create made the branch, and the repo's branches afterwards", async () => {
    sh(repo, "branch", "theirs");
    const made = await create("mine", { worktreeId: "card-1" });
    expect(made).toMatchObject({ createdBranch: true, branches: ["main", "mine", "theirs"] });
    const checkedOut = await create("theirs", { worktreeId: "card-2", mode: "existing" });
    expect(checkedOut.createdBranch).toBe(false);
    // The same create again (a retried job) still knows whose branch it is.
    expect((await create("mine", { worktreeId: "card-1" })).createdBranch).toBe(true);
  });

  it("a new-branch card whose branch was already there fails with branch_exists, and its delete leaves the branch alone", async () => {
    // The issue's case: `feature-b` exists with an unmerged commit of someone's.
    const other = join(tmp.dir, "someone");
    sh(repo, "worktree", "add", "-q", "-b", "feature-b", other);
    const precious = commit(other, { "b.txt": "unmerged work\n" });
    sh(repo, "worktree", "remove", other);
    const f = await failure(create("feature-b", { worktreeId: "card-b" }));
    expect(f).toMatchObject({ code: "branch_exists", detail: { worktreeExists: false } });
    // Even a branch sitting right on the base is not taken over by a card that did not make it.
    sh(repo, "branch", "on-base");
    expect((await failure(create("on-base", { worktreeId: "card-c" }))).code).toBe("branch_exists");

    const del = await failure(remove("feature-b", { worktreeId: "card-b", deleteBranch: true, force: true }));
    expect(del).toMatchObject({ code: "branch_not_ours", detail: { worktreeExists: false } });
    expect(sh(repo, "rev-parse", "feature-b").trim()).toBe(precious);
  });

  it("an existing-branch card's delete never deletes the branch", async () => {
    sh(repo, "branch", "shared");
    const r = await create("shared", { worktreeId: "card-s", mode: "existing" });
    const del = await failure(remove("shared", { worktreeId: "card-s", deleteBranch: true }));
    expect(del).toMatchObject({ code: "branch_not_ours", detail: { worktreeExists: true } });
    expect(existsSync(r.path)).toBe(true);
    expect(branches(repo)).toContain("shared");
  });

  it("refuses to delete its own branch with unmerged commits until told to, touching nothing first", async () => {
    const r = await create("feat", { worktreeId: "card-f" });
    commit(r.path, { "one.txt": "1\n" });
    commit(r.path, { "two.txt": "2\n" });
    const del = await failure(remove("feat", { worktreeId: "card-f", deleteBranch: true, baseBranch: "main" }));
    expect(del).toMatchObject({ code: "branch_unmerged", detail: { unmergedCommits: 2, worktreeExists: true } });
    expect(del.message).toMatch(/^branch "feat" has 2 commits not merged into main\. Nothing was deleted/);
    expect(existsSync(r.path)).toBe(true);
    expect(branches(repo)).toContain("feat");

    const done = await remove("feat", { worktreeId: "card-f", deleteBranch: true, deleteUnmerged: true });
    expect(done.branches).toEqual(["main"]);
    expect(existsSync(r.path)).toBe(false);
  });

  it("another card's branch of the same name is not this card's", async () => {
    await create("twin", { worktreeId: "card-1" });
    await remove("twin");
    const del = await failure(remove("twin", { worktreeId: "card-2", deleteBranch: true }));
    expect(del.code).toBe("branch_not_ours");
    expect(branches(repo)).toContain("twin");
  });
});

describe("failures say what is on disk (issue 13)", () => {
  it("a refresh of a worktree whose folder is gone fails with worktree_missing", async () => {
    const r = await create("gone");
    rmSync(r.path, { recursive: true, force: true });
    const err = await refreshWorktree({ repoId: "r1", name: "gone", baseBranch: "main" }, env).catch((e) => e);
    expect(err).toBeInstanceOf(JobFailure);
    expect(err).toMatchObject({ code: "worktree_missing", detail: { worktreeExists: false } });
  });

  it("a delete that fails on a worktree that never existed says so", async () => {
    sh(repo, "config", "branch.main.trellis-worktree", "never");
    // git refuses to delete the branch checked out in the repo itself.
    const err = await remove("never", {
      worktreeId: "never",
      branch: "main",
      deleteBranch: true,
      deleteUnmerged: true,
    }).catch((e) => e);
    expect(err).toBeInstanceOf(JobFailure);
    expect(err.message).toMatch(/main/);
    expect(err.detail).toEqual({ worktreeExists: false });
  });
});
