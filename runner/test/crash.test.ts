/**
 * kill -9 of a runner mid-job, against a real Worker: the lease runs out, the job is handed out
 * again, and it ends exactly once. Its own file so it runs beside the other fault tests.
 */
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Repo, Worktree } from "../../protocol/index.ts";
import { startTrellis, type Trellis } from "../../test/server.ts";
import { makeBareRemote, sh } from "./git-fixtures.ts";
import { cardOf, jobOf, readyRepo, repoOf, type Setup, setup, until } from "./harness.ts";
import { slowGit } from "./slow-git.ts";

let edge: Trellis;

beforeAll(async () => {
  edge = await startTrellis();
});
afterAll(async () => {
  await edge?.stop();
});

describe("kill -9 mid-job", () => {
  let s: Setup;
  beforeAll(async () => {
    s = await setup(edge.url, "Crash");
  });
  afterAll(() => s?.cleanup());

  it("retries after the lease runs out: each job ends once, and nothing half-made is left", async () => {
    // The first clone and the first worktree each hang in their hook; later ones go straight through.
    const marks = join(s.dir, "marks");
    mkdirSync(marks);
    const env = slowGit(
      s.dir,
      `case "$PWD" in *.partial-*) kind=clone;; *) kind=worktree;; esac
[ -e "${marks}/$kind" ] && exit 0
touch "${marks}/$kind"; sleep 60`,
    );
    const runner = s.start([], env);
    await runner.waitFor(/connected to /);
    const base = await readyRepo(s, "crash-base");
    const mark = runner.output.length;

    const { url } = makeBareRemote(s.dir);
    const cloned = await s.api<Repo>(`/api/runners/${s.runnerId}/repos`, {
      json: { name: "slow-clone", source: { kind: "url", url } },
    });
    const wt = await s.api<Worktree>(`/api/boards/${s.boardId}/worktrees`, {
      json: { repoId: base.id, name: "crashy", branch: "crashy" },
    });
    const cloneJob = (await runner.waitFor(/job (\S+) repo\.add started/, 15_000, mark))[1]!;
    const wtJob = (await runner.waitFor(/job (\S+) worktree\.create started/, 15_000, mark))[1]!;
    await until("both hooks hanging", () => existsSync(join(marks, "clone")) && existsSync(join(marks, "worktree")));
    const reposDir = join(s.dataDir, "repos");
    expect(readdirSync(reposDir).some((e) => e.includes(".partial-"))).toBe(true);

    runner.crash();
    await runner.exited;
    const again = s.start([], env);
    await again.waitFor(/connected to /);

    // The lease (30 s) runs out, the link's alarm hands both jobs back, and the new process runs them.
    const done = await until(
      "both jobs succeeded",
      async () => {
        const [a, b] = await Promise.all([jobOf(s, cloneJob), jobOf(s, wtJob)]);
        if (a.status === "failed" || b.status === "failed") throw new Error(`${a.error} / ${b.error}`);
        return a.status === "succeeded" && b.status === "succeeded" ? [a, b] : undefined;
      },
      60_000,
    );
    expect(done.map((j) => j.attempts)).toEqual([2, 2]);
    expect(again.output.match(new RegExp(`job ${cloneJob} repo.add succeeded`, "g"))).toHaveLength(1);
    expect(again.output.match(new RegExp(`job ${wtJob} worktree.create succeeded`, "g"))).toHaveLength(1);

    expect(readdirSync(reposDir)).toEqual([cloned.id]);
    expect((await repoOf(s, cloned.id))?.status).toBe("ready");
    const card = (await cardOf(s, wt.id))!;
    expect(card.status).toBe("ready");
    expect(readdirSync(join(s.dataDir, "worktrees", base.id))).toEqual(["crashy"]);
    const listed = sh(base.path!, "worktree", "list", "--porcelain");
    expect(listed.match(/^worktree /gm)).toHaveLength(2);
    expect(listed).not.toContain("locked");
    again.kill("SIGTERM");
    expect(await again.exited).toBe(0);
  }, 120_000);
});
