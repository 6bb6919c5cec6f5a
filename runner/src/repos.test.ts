import { existsSync, mkdirSync, readdirSync, realpathSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { commit, makeBareRemote, makeRepo, sh, tempDir } from "../test/git-fixtures.ts";
import { addRepo, fetchRepo, removeRepo } from "./repos.ts";
import { LocalState } from "./state.ts";

let tmp: ReturnType<typeof tempDir>;
let dataDir: string;
let state: LocalState;

beforeEach(async () => {
  tmp = tempDir();
  dataDir = join(tmp.dir, "data");
  state = await LocalState.open(dataDir);
});
afterEach(() => tmp.cleanup());

describe("repo.add from a path", () => {
  it("uses an existing repo in place, from any folder inside it", async () => {
    const repo = makeRepo(join(tmp.dir, "project"), { "src/a.ts": "a\n" });
    sh(repo, "branch", "other");
    const r = await addRepo(
      { repoId: "r1", name: "project", source: { kind: "path", path: join(repo, "src") } },
      {
        dataDir,
        state,
      },
    );
    expect(r).toEqual({ path: realpathSync(repo), defaultBranch: "main", branches: ["main", "other"] });
    expect(existsSync(join(dataDir, "repos"))).toBe(false);
    const reloaded = await LocalState.open(dataDir);
    expect(reloaded.repo("r1")).toMatchObject({ path: realpathSync(repo), cloned: false, name: "project" });
  });

  it("refuses a folder that is not a git work tree, and a missing path", async () => {
    mkdirSync(join(tmp.dir, "plain"));
    await expect(
      addRepo({ repoId: "r1", name: "x", source: { kind: "path", path: join(tmp.dir, "plain") } }, { dataDir, state }),
    ).rejects.toThrow(/^not a git work tree: .*plain\nfatal: not a git repository/);
    await expect(
      addRepo({ repoId: "r1", name: "x", source: { kind: "path", path: join(tmp.dir, "nope") } }, { dataDir, state }),
    ).rejects.toThrow(/path does not exist on this runner/);
    expect(state.repo("r1")).toBeUndefined();
  });
});

describe("repo.add from a URL", () => {
  it("clones into the data dir, reports origin's default branch and all branches, and is idempotent", async () => {
    const { url } = makeBareRemote(tmp.dir);
    const first = await addRepo({ repoId: "r2", name: "up", source: { kind: "url", url } }, { dataDir, state });
    const path = join(realpathSync(dataDir), "repos", "r2");
    expect(first).toEqual({ path, defaultBranch: "main", branches: ["feature", "main"] });
    expect(sh(path, "config", "--get", "remote.origin.url").trim()).toBe(url);

    const again = await addRepo({ repoId: "r2", name: "up", source: { kind: "url", url } }, { dataDir, state });
    expect(again).toEqual(first);
    expect(readdirSync(join(dataDir, "repos"))).toEqual(["r2"]);
    expect(statSync(join(dataDir, "state.json")).isFile()).toBe(true);
  });

  it("clears what a killed clone left and clones again; a failed clone leaves nothing", async () => {
    const { url } = makeBareRemote(tmp.dir);
    mkdirSync(join(dataDir, "repos", ".r3.partial-dead/objects"), { recursive: true });
    await addRepo({ repoId: "r3", name: "up", source: { kind: "url", url } }, { dataDir, state });
    expect(readdirSync(join(dataDir, "repos"))).toEqual(["r3"]);

    const missing = `file://${join(tmp.dir, "missing.git")}`;
    await expect(
      addRepo({ repoId: "r4", name: "gone", source: { kind: "url", url: missing } }, { dataDir, state }),
    ).rejects.toThrow(/fatal: .*missing\.git/);
    expect(readdirSync(join(dataDir, "repos"))).toEqual(["r3"]);
    expect(state.repo("r4")).toBeUndefined();
  });

  it("refuses a repo id that would escape the data dir", async () => {
    const { url } = makeBareRemote(tmp.dir);
    await expect(
      addRepo({ repoId: "../evil", name: "x", source: { kind: "url", url } }, { dataDir, state }),
    ).rejects.toThrow(/invalid repo id/);
  });
});

describe("repo.fetch", () => {
  it("sees branches pushed upstream and drops deleted ones", async () => {
    const { url, work, bare } = makeBareRemote(tmp.dir);
    await addRepo({ repoId: "r5", name: "up", source: { kind: "url", url } }, { dataDir, state });
    sh(work, "checkout", "-q", "-b", "fresh");
    commit(work, { "fresh.txt": "x\n" });
    sh(work, "push", "-q", bare, "fresh");
    sh(bare, "branch", "-D", "feature");
    expect(await fetchRepo({ repoId: "r5" }, { state })).toEqual({
      defaultBranch: "main",
      branches: ["fresh", "main"],
    });
  });

  it("says what to do for a repo it does not know", async () => {
    await expect(fetchRepo({ repoId: "nope" }, { state })).rejects.toThrow(/not known on this runner.*add it again/);
  });
});

describe("issue 13: paths and removal", () => {
  it("refuses a relative path instead of resolving it against the runner's folder", async () => {
    await expect(
      addRepo({ repoId: "r1", name: "x", source: { kind: "path", path: "project" } }, { dataDir, state }),
    ).rejects.toThrow(/not an absolute path: project/);
    expect(state.repo("r1")).toBeUndefined();
  });

  it("repo.remove deletes a clone it made, leaves a folder used in place, and forgets both", async () => {
    const { url } = makeBareRemote(tmp.dir);
    const clone = await addRepo({ repoId: "c1", name: "up", source: { kind: "url", url } }, { dataDir, state });
    const own = makeRepo(join(tmp.dir, "mine"));
    await addRepo({ repoId: "p1", name: "mine", source: { kind: "path", path: own } }, { dataDir, state });
    await removeRepo({ repoId: "c1" }, { dataDir, state });
    await removeRepo({ repoId: "p1" }, { dataDir, state });
    await removeRepo({ repoId: "unknown" }, { dataDir, state });
    expect(existsSync(clone.path)).toBe(false);
    expect(existsSync(join(own, ".git"))).toBe(true);
    expect((await LocalState.open(dataDir)).repos()).toEqual([]);
  });
});
