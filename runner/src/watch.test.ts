import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { GitReport, RunnerWorktree } from "../../protocol/index.ts";
import { commit, makeRepo, sh, tempDir, writeFiles } from "../test/git-fixtures.ts";
import { until } from "../test/harness.ts";
import { addRepo } from "./repos.ts";
import { LocalState } from "./state.ts";
import { GitWatcher } from "./watch.ts";
import { createWorktree } from "./worktrees.ts";

/**
 * The watcher against real git and real file events. Its sink (where the edge would be) records
 * the reports; runner/test/repos-worktrees.test.ts runs the same path through a real Worker.
 */
let tmp: ReturnType<typeof tempDir>;
let dataDir: string;
let state: LocalState;
let repo: string;
let watcher: GitWatcher | undefined;
let reports: GitReport[];
let cards: RunnerWorktree[];

beforeEach(async () => {
  tmp = tempDir();
  dataDir = join(tmp.dir, "data");
  state = await LocalState.open(dataDir);
  repo = makeRepo(join(tmp.dir, "project"), { "README.md": "hi\n", ".gitignore": "node_modules/\n" });
  await addRepo({ repoId: "r1", name: "project", source: { kind: "path", path: repo } }, { dataDir, state });
  reports = [];
  cards = [];
});
afterEach(() => {
  watcher?.close();
  tmp.cleanup();
});

const start = async () => {
  watcher = new GitWatcher({
    dataDir,
    state,
    debounceMs: 50,
    maxWaitMs: 300,
    sink: {
      list: async () => cards,
      report: async (r) => {
        reports.push(r);
      },
    },
  });
  await watcher.sync();
};
const worktreeReports = (id: string) => reports.flatMap((r) => r.worktrees ?? []).filter((w) => w.worktreeId === id);
const lastOf = (id: string) => worktreeReports(id).at(-1);
const quiet = () => new Promise((r) => setTimeout(r, 400));
/** Quiet until nothing more is reported: the first reports after a start can take a while under load. */
async function settled(): Promise<void> {
  let n = -1;
  while (reports.length !== n) {
    n = reports.length;
    await quiet();
  }
}

async function card(name: string): Promise<{ id: string; path: string }> {
  const id = `wt-${name}`;
  const r = await createWorktree(
    { worktreeId: id, repoId: "r1", name, mode: "new", branch: name, baseBranch: "main" },
    { dataDir, state },
  );
  cards.push({ id, repoId: "r1", name, branch: name, baseBranch: "main", status: "ready", git: r.git });
  return { id, path: r.path };
}

describe("the git watcher", () => {
  it("reports an edited, new or committed file within moments, and nothing when nothing changed", async () => {
    const wt = await card("live");
    mkdirSync(join(wt.path, "src"));
    await start();
    await quiet();
    expect(worktreeReports(wt.id)).toEqual([]);

    writeFileSync(join(wt.path, "README.md"), "edited\n");
    const t0 = Date.now();
    await until("edit reported", () => lastOf(wt.id)?.git?.changedFiles === 1, 5000);
    expect(Date.now() - t0).toBeLessThan(3000);

    // A folder made after the watch started is watched too.
    writeFiles(wt.path, { "src/deep/new.ts": "x\n" });
    await until("new nested file reported", () => lastOf(wt.id)?.git?.changedFiles === 2, 5000);

    sh(wt.path, "add", "-A");
    sh(wt.path, "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-q", "-m", "work");
    await until("commit reported", () => lastOf(wt.id)?.git?.ahead === 1 && lastOf(wt.id)?.git?.changedFiles === 0);

    // The base moving on in the repo changes "behind".
    commit(repo, { "main.txt": "1\n" });
    await until("base moved reported", () => lastOf(wt.id)?.git?.behind === 1, 5000);

    // A burst of saves is one report, not one per file.
    const before = worktreeReports(wt.id).length;
    for (let i = 0; i < 20; i++) writeFileSync(join(wt.path, `f${i}.txt`), "x");
    await until("burst reported", () => lastOf(wt.id)?.git?.changedFiles === 20, 5000);
    await quiet();
    expect(worktreeReports(wt.id).length - before).toBeLessThanOrEqual(2);
  });

  it("leaves git-ignored folders unwatched and unreported", async () => {
    const wt = await card("deps");
    for (let i = 0; i < 30; i++) mkdirSync(join(wt.path, "node_modules", `pkg${i}`, "lib"), { recursive: true });
    await start();
    if (process.platform === "linux") expect(watcher!.watchedDirs).toBeLessThan(5);
    await settled();
    const n = reports.length;
    writeFileSync(join(wt.path, "node_modules", "pkg3", "lib", "index.js"), "x");
    await quiet();
    expect(reports.length).toBe(n);
  });

  it("says a worktree whose folder was removed is gone, and reports the repo's branches as they change", async () => {
    const wt = await card("doomed");
    await start();
    await until("first branch list", () =>
      reports.some((r) => r.repos?.some((x) => x.repoId === "r1" && x.branches.includes("doomed"))),
    );
    sh(repo, "branch", "extra");
    await until("new branch reported", () => reports.some((r) => r.repos?.some((x) => x.branches.includes("extra"))));
    sh(repo, "branch", "-D", "extra");
    await until("deleted branch reported", () =>
      reports.at(-1)?.repos?.some((x) => x.repoId === "r1" && !x.branches.includes("extra")),
    );

    rmSync(wt.path, { recursive: true, force: true });
    await until("folder gone reported", () => lastOf(wt.id)?.exists === false, 5000);
    expect(lastOf(wt.id)?.git).toBeNull();
  });

  it("stops watching a worktree the edge no longer lists", async () => {
    const wt = await card("dropped");
    await start();
    cards = [];
    await watcher!.sync();
    expect(watcher!.watchedDirs).toBe(0);
    writeFileSync(join(wt.path, "README.md"), "edited\n");
    await quiet();
    expect(worktreeReports(wt.id)).toEqual([]);
  });
});
