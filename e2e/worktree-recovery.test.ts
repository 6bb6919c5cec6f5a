/**
 * Issue 13 on the board, in real Chromium against `wrangler dev` and a real runner with real git:
 * a failed card shows git's whole message and is retried after an edit; an edit on disk shows on
 * the card without Refresh; deleting a branch with unmerged commits asks again; a branch Trellis
 * did not create is never offered for deletion, and survives.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import type { Browser, Page } from "playwright-core";
import type { Repo, Worktree } from "../protocol/index.ts";
import { commit, makeRepo, sh, tempDir } from "../runner/test/git-fixtures.ts";
import { RunnerProcess, until } from "../runner/test/harness.ts";
import { api, ROOT, startTrellis, type Trellis } from "../test/server.ts";
import { launchChromium, PASSWORD, signUp } from "./people.ts";

const NODE = join(ROOT, "node_modules/.bin/node");
const CLI = join(ROOT, "runner/src/cli.ts");

let trellis: Trellis;
let browser: Browser;
let tmp: ReturnType<typeof tempDir>;
let runner: RunnerProcess | undefined;

before(async () => {
  tmp = tempDir("trellis-e2e-recovery-");
  [trellis, browser] = await Promise.all([startTrellis({ singleUser: false }), launchChromium()]);
});
after(async () => {
  runner?.kill("SIGKILL");
  await browser?.close();
  await trellis?.stop();
  tmp?.cleanup();
});

const card = (page: Page, name: string) => page.locator(`[data-testid="worktree"][data-name="${name}"]`);

test("failed cards are retried after an edit, git state is live, and only Trellis's own merged branches go without asking", async () => {
  const ada = await signUp(browser, trellis.url, "Ada Lovelace");
  const a = ada.page;
  const { accessToken: token } = await api(trellis.url, "/api/auth/login", {
    json: { email: ada.email, password: PASSWORD },
  });
  const call = <T>(path: string, json?: unknown) => api<T>(trellis.url, path, { token, json });

  // Ada's board, runner and repo. `feature-b` is someone's branch with a commit nobody merged.
  const board = await call<{ id: string }>("/api/boards", { name: "Recovery" });
  const reg = await call<{ runner: { id: string }; registrationToken: string }>("/api/runners", { name: "laptop" });
  const env = { ...process.env, TRELLIS_CONFIG_DIR: join(tmp.dir, "config"), TRELLIS_DATA_DIR: join(tmp.dir, "data") };
  await promisify(execFile)(NODE, [CLI, "register", "--url", trellis.url, "--token", reg.registrationToken], { env });
  await call(`/api/runners/${reg.runner.id}/boards`, { boardId: board.id });
  runner = new RunnerProcess(["start"], env, tmp.dir);
  await runner.waitFor(/connected to /);
  const repoDir = makeRepo(join(tmp.dir, "shop"));
  sh(repoDir, "checkout", "-q", "-b", "feature-b");
  const precious = commit(repoDir, { "b.txt": "someone's work\n" });
  sh(repoDir, "checkout", "-q", "main");
  const added = await call<Repo>(`/api/runners/${reg.runner.id}/repos`, { source: { kind: "path", path: repoDir } });
  const repos = () => call<{ items: Repo[] }>(`/api/runners/${reg.runner.id}/repos`).then((r) => r.items);
  await until("repo ready", async () => (await repos()).find((r) => r.id === added.id)?.status === "ready");

  await a.goto(`${trellis.url}/b/${board.id}`);
  await a.locator('[data-testid="connection"][data-status="connected"]').waitFor();

  // A card whose base does not exist fails; its whole message is on the card, and in the dialog.
  const failed = await call<Worktree>(`/api/boards/${board.id}/worktrees`, {
    repoId: added.id,
    name: "login-fix",
    branch: "login-fix",
    baseBranch: "no-such-base",
    x: 300,
    y: 250,
  });
  await card(a, "login-fix").and(a.locator('[data-status="error"]')).waitFor({ timeout: 15_000 });
  const gitWords = (await call<{ items: Worktree[] }>(`/api/boards/${board.id}/worktrees`)).items.find(
    (w) => w.id === failed.id,
  )!.error!;
  assert.match(gitWords, /no-such-base/);
  assert.equal(await card(a, "login-fix").getByTestId("worktree-error").textContent(), gitWords);
  assert.equal(await card(a, "login-fix").getByTestId("worktree-error").getAttribute("title"), null);
  await card(a, "login-fix").hover();
  await card(a, "login-fix").getByTestId("worktree-retry-open").click();
  assert.equal(await a.getByTestId("retry-error").textContent(), gitWords);
  await a.getByTestId("retry-base").fill("main");
  await a.getByTestId("retry-submit").click();
  await a.getByTestId("retry-worktree").waitFor({ state: "detached" });
  await card(a, "login-fix").and(a.locator('[data-status="ready"]')).waitFor({ timeout: 15_000 });

  // An edit on disk shows on the card with nobody pressing Refresh.
  const wtDir = join(tmp.dir, "data", "worktrees", added.id, "login-fix");
  writeFileSync(join(wtDir, "scratch.txt"), "wip\n");
  await card(a, "login-fix")
    .getByTestId("worktree-changed")
    .filter({ hasText: "1 changed" })
    .waitFor({ timeout: 10_000 });
  commit(wtDir, {}, "the fix");
  await card(a, "login-fix")
    .getByTestId("worktree-ahead-behind")
    .filter({ hasText: "↑1" })
    .waitFor({ timeout: 10_000 });
  assert.ok((await repos()).find((r) => r.id === added.id)!.branches.includes("login-fix"), "the new branch is listed");

  // Deleting its branch, which has a commit main lacks, asks again; the second yes deletes both.
  await card(a, "login-fix").hover();
  await card(a, "login-fix").getByTestId("worktree-delete").click();
  await a.getByTestId("delete-branch").check();
  await a.getByTestId("confirm-delete").click();
  await a.getByTestId("delete-unmerged").waitFor({ timeout: 15_000 });
  assert.match((await a.getByTestId("delete-unmerged").textContent())!, /1 commit not merged into main/);
  assert.equal(
    sh(repoDir, "branch", "--list", "--format=%(refname:short)", "login-fix").trim(),
    "login-fix",
    "nothing deleted before the yes",
  );
  await a.getByTestId("delete-unmerged-confirm").click();
  await card(a, "login-fix").waitFor({ state: "detached", timeout: 15_000 });
  assert.equal(sh(repoDir, "branch", "--list", "--format=%(refname:short)", "login-fix").trim(), "");
  await until(
    "branch dropped from the list",
    async () => !(await repos()).find((r) => r.id === added.id)!.branches.includes("login-fix"),
  );

  // Someone's branch, checked out in a card: Trellis does not offer to delete it, and it survives.
  await call(`/api/boards/${board.id}/worktrees`, {
    repoId: added.id,
    name: "review-b",
    mode: "existing",
    branch: "feature-b",
    x: 300,
    y: 250,
  });
  await card(a, "review-b").and(a.locator('[data-status="ready"]')).waitFor({ timeout: 15_000 });
  await card(a, "review-b").hover();
  await card(a, "review-b").getByTestId("worktree-delete").click();
  await a.getByTestId("branch-kept").waitFor();
  assert.equal(await a.getByTestId("delete-branch").count(), 0);
  await a.getByTestId("confirm-delete").click();
  await card(a, "review-b").waitFor({ state: "detached", timeout: 15_000 });
  assert.equal(sh(repoDir, "rev-parse", "feature-b").trim(), precious);

  assert.deepEqual(ada.errors, []);
});
