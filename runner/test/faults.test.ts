/**
 * Faults with a real Worker and a real runner process: cancel, Ctrl-C drain, the Worker restarted
 * under the runner, revocation. Slow jobs are made slow by real git hooks (see crash.test.ts for kill -9).
 */
import { existsSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Job, Repo, Runner, Worktree } from "../../protocol/index.ts";
import { startTrellis, type Trellis } from "../../test/server.ts";
import { sh } from "./git-fixtures.ts";
import { cardOf, jobOf, readyRepo, type Setup, setup, until } from "./harness.ts";
import { slowGit } from "./slow-git.ts";

let edge: Trellis;

beforeAll(async () => {
  edge = await startTrellis();
});
afterAll(async () => {
  await edge?.stop();
});

describe("a connected runner", () => {
  let s: Setup;
  let repo: Repo;
  let runner: ReturnType<Setup["start"]>;
  const hookEnv = () => slowGit(join(s.dir, "slow"), `case "$PWD" in */slow-*) sleep 60;; esac`);

  beforeAll(async () => {
    s = await setup(edge.url, "Faults");
    runner = s.start(["--grace", "2"], hookEnv());
    await runner.waitFor(/connected to /);
    repo = await readyRepo(s, "faults-repo");
  });
  afterAll(() => s?.cleanup());

  it("stops a running job within a second of a cancel, and leaves nothing behind", async () => {
    const mark = runner.output.length;
    const wt = await s.api<Worktree>(`/api/boards/${s.boardId}/worktrees`, {
      json: { repoId: repo.id, name: "slow-cancel", branch: "slow-cancel" },
    });
    const jobId = (await runner.waitFor(/job (\S+) worktree\.create started/, 15_000, mark))[1]!;
    await until("git hanging in the hook", () =>
      existsSync(join(realpathSync(s.dataDir), "worktrees", repo.id, "slow-cancel", "README.md")),
    );
    const t0 = Date.now();
    await s.api(`/api/jobs/${jobId}/cancel`, { method: "POST" });
    const job = await until("job cancelled", async () => {
      const j = await jobOf(s, jobId);
      return j.status === "cancelled" ? j : undefined;
    });
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(job.status).toBe("cancelled");
    expect((await cardOf(s, wt.id))?.status).toBe("error");
    expect(existsSync(join(s.dataDir, "worktrees", repo.id, "slow-cancel"))).toBe(false);
    expect(sh(repo.path!, "branch", "--list", "slow-cancel").trim()).toBe("");
  });

  it("reconnects by itself when the Worker restarts under it, and still picks up jobs", async () => {
    const mark = runner.output.length;
    await edge.restart();
    await runner.waitFor(/connected to /, 30_000, mark);
    const job = await s.api<Job>(`/api/runners/${s.runnerId}/jobs`, { json: { type: "ping" } });
    await until("ping after restart", async () => (await jobOf(s, job.id)).status === "succeeded");
  }, 60_000);

  it("drains on Ctrl-C: hands an unfinished job back, exits 0, and a new process finishes it", async () => {
    const mark = runner.output.length;
    const wt = await s.api<Worktree>(`/api/boards/${s.boardId}/worktrees`, {
      json: { repoId: repo.id, name: "slow-drain", branch: "slow-drain" },
    });
    const jobId = (await runner.waitFor(/job (\S+) worktree\.create started/, 15_000, mark))[1]!;
    runner.kill("SIGINT");
    await runner.waitFor(/draining: waiting up to 2 s for 1 running job/);
    expect(await runner.exited).toBe(0);
    expect(runner.output).toMatch(new RegExp(`job ${jobId} worktree.create released`));
    expect((await jobOf(s, jobId)).status).toBe("queued");
    expect(existsSync(join(s.dataDir, "worktrees", repo.id, "slow-drain"))).toBe(false);

    // Without the slow hook, the next process picks it up at once.
    runner = s.start();
    await until("worktree ready", async () => (await cardOf(s, wt.id))?.status === "ready");
    expect((await jobOf(s, jobId)).status).toBe("succeeded");
  });

  it("stops for good when its owner revokes it, and is refused afterwards", async () => {
    const mark = runner.output.length;
    await s.api(`/api/runners/${s.runnerId}`, { method: "DELETE" });
    // At once: the link says why before it closes (under wrangler dev the close frame itself can
    // wait for the runner's next ping, up to 10 s).
    await runner.waitFor(/revoked/, 5_000, mark);
    expect(await runner.exited).toBe(1);
    const status = await s.cli(["status"]);
    expect(status.code).toBe(1);
    expect(status.stdout).toMatch(/edge says: refused .*register/);
    const again = s.start();
    await again.waitFor(/refused this runner's credential/);
    expect(await again.exited).toBe(1);
    const runners = await s.api<{ items: Runner[] }>("/api/runners");
    expect(runners.items.find((r) => r.id === s.runnerId)?.status).toBe("revoked");
  }, 60_000);
});
