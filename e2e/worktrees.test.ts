/**
 * Runners, repos and worktree cards end to end: real Chromium (Debian's), a real Worker (`wrangler
 * dev`), a real runner process (`runner/src/cli.ts`) with its own config and data folders, and a
 * real git repo in a temp folder. Two people in two browser contexts.
 *
 * Ada adds a runner from the board (the command the app shows is the one we run), adds a repo,
 * and makes a worktree by double-clicking the canvas; Grace watches the card go creating → ready.
 * Ada drops it into a zone; Grace sees it there. The worktree gets an uncommitted file, so Grace's
 * delete is refused with git's words, and her forced delete takes the card away for both.
 *
 * TRELLIS_SCREENSHOT=1 also fills the board with zones and cards in every state, brings in a third
 * person, and writes docs/screenshot.png for the README.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import type { Browser, Page } from "playwright-core";
import { commit, makeRepo, tempDir, writeFiles } from "../runner/test/git-fixtures.ts";
import { RunnerProcess, until } from "../runner/test/harness.ts";
import { slowGit } from "../runner/test/slow-git.ts";
import { api, ROOT, startTrellis, type Trellis } from "../test/server.ts";
import { launchChromium, PASSWORD, signUp } from "./people.ts";

let trellis: Trellis;
let browser: Browser;
let tmp: ReturnType<typeof tempDir>;
let runner: RunnerProcess | undefined;
const SCREENSHOT = !!process.env.TRELLIS_SCREENSHOT;
/** What the screenshot test takes over from the first one. */
let shared: { ada: Person; grace: Person; boardUrl: string } | undefined;

before(async () => {
  tmp = tempDir("trellis-e2e-wt-");
  [trellis, browser] = await Promise.all([startTrellis({ singleUser: false }), launchChromium()]);
});

after(async () => {
  runner?.kill("SIGKILL");
  await browser?.close();
  await trellis?.stop();
  tmp?.cleanup();
});

type Person = Awaited<ReturnType<typeof openPerson>>;

const openPerson = (name: string) => signUp(browser, trellis.url, name);

const card = (page: Page, name: string) => page.locator(`[data-testid="worktree"][data-name="${name}"]`);

test("a worktree made from the board goes creating → ready for everyone, moves into a zone, and a forced delete removes it", async () => {
  const [ada, grace] = await Promise.all([openPerson("Ada Lovelace"), openPerson("Grace Hopper")]);
  const a = ada.page;
  const b = grace.page;

  // Ada makes a board and invites Grace.
  await a.getByTestId("new-board-name").fill("Worktrees");
  await a.getByTestId("create-board").click();
  await a.getByTestId("new-worktree").waitFor();
  const boardUrl = a.url();
  await a.getByTestId("members-button").click();
  await a.getByTestId("invite-email").fill(grace.email);
  await a.getByTestId("invite-submit").click();
  await a.locator(`[data-testid="member"][data-email="${grace.email}"]`).waitFor();

  // Ada adds a runner from the board: the app shows the command; we run exactly that on "her machine".
  await a.getByTestId("runners-button").click();
  await a.getByTestId("no-board-runners").waitFor();
  await a.getByTestId("add-runner").click();
  await a.getByTestId("runner-name").fill("ada-laptop");
  await a.getByTestId("runner-create").click();
  const command = (await a.getByTestId("runner-command").textContent())!;
  assert.match(command, new RegExp(`--url ${trellis.url} --token trl_reg_\\S+ --name ada-laptop$`));
  const env = {
    ...process.env,
    TRELLIS_CONFIG_DIR: join(tmp.dir, "config"),
    TRELLIS_DATA_DIR: join(tmp.dir, "data"),
    // Every checkout takes a second, so nobody can miss the card's `creating` state (and the one
    // the screenshot shows being created takes long enough to be photographed).
    ...slowGit(tmp.dir, 'case "$PWD" in *billing-retry*) sleep 30 ;; *) sleep 1 ;; esac'),
  };
  // Pasted into a shell in the clone's root, as the app says (runner/test/printed-commands.test.ts
  // also runs it on the machine's own Node).
  await promisify(execFile)("sh", ["-c", command], { env, cwd: ROOT });
  await a.locator('[data-testid="registration-status"][data-status="offline"]').waitFor({ timeout: 10_000 });
  runner = new RunnerProcess(["start"], env, tmp.dir);
  await a.locator('[data-testid="registration-status"][data-status="online"]').waitFor({ timeout: 10_000 });
  await a.locator('[data-testid="runner-status"][data-status="online"]').waitFor();

  // Ada adds a local repo to it.
  const repoDir = makeRepo(join(tmp.dir, "shop"), { "README.md": "shop\n", "src/cart.ts": "export {};\n" });
  await a.getByTestId("add-repo").click();
  await a.getByTestId("repo-source").fill(repoDir);
  await a.getByTestId("repo-add").click();
  await a.locator('[data-testid="repo"][data-name="shop"][data-status="ready"]').waitFor({ timeout: 15_000 });
  await a.getByTestId("runners-button").click();

  // Grace opens the board and records every state a card shows her.
  await Promise.all([a, b].map((p) => p.goto(boardUrl)));
  await Promise.all([a, b].map((p) => p.locator('[data-testid="connection"][data-status="connected"]').waitFor()));
  await b.evaluate(() => {
    const seen: string[] = [];
    (window as unknown as { seen: string[] }).seen = seen;
    new MutationObserver(() => {
      const s = document.querySelector('[data-testid="worktree"]')?.getAttribute("data-status");
      if (s && seen.at(-1) !== s) seen.push(s);
    }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-status"] });
  });

  // Ada double-clicks an empty spot on the canvas and fills in the dialog.
  const canvas = (await a.getByTestId("canvas").boundingBox())!;
  const spot = { x: canvas.x + canvas.width * 0.3, y: canvas.y + canvas.height * 0.45 };
  await a.mouse.dblclick(spot.x, spot.y);
  const dialog = a.getByTestId("create-worktree");
  await dialog.waitFor();
  await a.locator('[data-testid="wt-repo"] option', { hasText: "shop" }).waitFor({ state: "attached" });
  assert.equal(await a.getByTestId("wt-base").inputValue(), "main", "the repo's default branch is the base");
  // Client-side checks mirror the server's before anything is sent.
  await a.getByTestId("wt-name").fill("../escape");
  await a.getByTestId("problem-name").waitFor();
  await a.getByTestId("wt-name").fill("login-fix");
  assert.equal(await a.getByTestId("wt-branch").inputValue(), "login-fix", "the branch follows the name");
  await a.getByTestId("wt-issue").fill("https://github.com/acme/shop/issues/42");
  await a.getByTestId("wt-notes").fill("Redirect loop after login");
  await a.getByTestId("wt-create").click();
  await dialog.waitFor({ state: "detached" });

  // The card appears where Ada clicked, for both, and goes creating → ready.
  const started = Date.now();
  await card(b, "login-fix").waitFor();
  await card(b, "login-fix").and(b.locator('[data-status="ready"]')).waitFor({ timeout: 20_000 });
  const seen = await b.evaluate(() => (window as unknown as { seen: string[] }).seen);
  assert.deepEqual(seen, ["creating", "ready"], "Grace saw the card being created, then ready");
  console.log(`# card ready for Grace ${Date.now() - started} ms after Ada's create`);
  const box = (await card(a, "login-fix").boundingBox())!;
  assert.ok(Math.abs(box.x + box.width / 2 - spot.x) < 3 && Math.abs(box.y + box.height / 2 - spot.y) < 3);
  for (const p of [a, b]) {
    await card(p, "login-fix").and(p.locator('[data-status="ready"]')).waitFor();
    assert.match((await card(p, "login-fix").textContent())!, /login-fix.*← main.*↑0 ↓0.*clean.*#42/s);
  }

  // Ada adds a zone and drops the card into it: Grace sees it move in.
  await a.getByTestId("add-zone").click();
  const zone = a.locator('[data-testid="zone"]');
  await zone.waitFor();
  const zoneId = (await zone.getAttribute("data-zone-id"))!;
  const z = (await zone.boundingBox())!;
  const c = (await card(a, "login-fix").boundingBox())!;
  await a.mouse.move(c.x + 60, c.y + c.height - 12);
  await a.mouse.down();
  await a.mouse.move(z.x + z.width / 2 - c.width / 2 + 60, z.y + z.height / 2, { steps: 10 });
  await a.mouse.up();
  await b.locator(`[data-testid="worktree"][data-name="login-fix"][data-zone-id="${zoneId}"]`).waitFor();

  // Someone leaves an uncommitted file in it: Grace's delete is refused with git's words, and her
  // forced delete removes it for both.
  const worktreesDir = join(tmp.dir, "data", "worktrees");
  const [repoFolder] = readdirSync(worktreesDir);
  writeFileSync(join(worktreesDir, repoFolder!, "login-fix", "scratch.txt"), "wip\n");
  await card(b, "login-fix").hover();
  await card(b, "login-fix").getByTestId("worktree-delete").click();
  await b.getByTestId("delete-branch").check();
  await b.getByTestId("confirm-delete").click();
  await b.getByTestId("delete-refusal").waitFor({ timeout: 15_000 });
  assert.match((await b.getByTestId("delete-refusal").textContent())!, /^uncommitted changes: scratch\.txt/);
  await card(a, "login-fix").and(a.locator('[data-status="ready"]')).waitFor();
  await b.getByTestId("force-delete").click();
  await Promise.all([
    card(a, "login-fix").waitFor({ state: "detached", timeout: 15_000 }),
    card(b, "login-fix").waitFor({ state: "detached", timeout: 15_000 }),
  ]);
  await b.getByTestId("delete-worktree").waitFor({ state: "detached" });
  assert.deepEqual(readdirSync(join(worktreesDir, repoFolder!)), [], "the folder is gone from the runner's machine");

  assert.deepEqual([...ada.errors, ...grace.errors], []);
  shared = { ada, grace, boardUrl };
});

test("README screenshot: zones full of worktree cards and two other people's cursors", {
  skip: !SCREENSHOT,
}, async () => {
  assert.ok(shared, "needs the first test's board, people and runner");
  const { ada, grace, boardUrl } = shared;
  const a = ada.page;
  const boardId = new URL(boardUrl).pathname.split("/").at(-1)!;
  const { accessToken: token } = await api(trellis.url, "/api/auth/login", {
    json: { email: ada.email, password: PASSWORD },
  });
  const call = <T>(path: string, json?: unknown) => api<T>(trellis.url, path, { token, json });
  const [ours] = (await call<{ items: { id: string }[] }>("/api/runners")).items;
  const [repo] = (await call<{ items: { id: string }[] }>(`/api/runners/${ours!.id}/repos`)).items;

  // Three zones, left to right (the middle one two cards wide), and the one made earlier removed.
  for (const z of (await call<{ items: { id: string }[] }>(`/api/boards/${boardId}/zones`)).items) {
    await api(trellis.url, `/api/boards/${boardId}/zones/${z.id}`, { token, method: "DELETE" });
  }
  const layout = [
    { name: "Backlog", color: "#2563eb", x: 0, cols: 1 },
    { name: "In progress", color: "#7c3aed", x: 352, cols: 2 },
    { name: "Review", color: "#059669", x: 992, cols: 1 },
  ];
  const zones: Record<string, { id: string; x: number }> = {};
  for (const z of layout) {
    const row = await call<{ id: string }>(`/api/boards/${boardId}/zones`, {
      name: z.name,
      color: z.color,
      x: z.x,
      y: 0,
      width: 48 + z.cols * 264 + (z.cols - 1) * 24,
      height: 520,
      promptTemplate: "",
    });
    zones[z.name] = { id: row.id, x: z.x };
  }
  const slot = (zone: string, col: number, row: number) => ({
    zoneId: zones[zone]!.id,
    x: zones[zone]!.x + 24 + col * 288,
    y: 56 + row * 152,
  });
  const make = (name: string, at: ReturnType<typeof slot>, extra: Record<string, unknown> = {}) =>
    call<{ id: string }>(`/api/boards/${boardId}/worktrees`, {
      repoId: repo!.id,
      name,
      branch: name,
      notes: "",
      ...at,
      ...extra,
    });
  const cards = {
    search: await make("search-v2", slot("Backlog", 0, 0), {
      issueUrl: "https://github.com/acme/shop/issues/118",
      notes: "Typo-tolerant search; spike first",
    }),
    onboarding: await make("onboarding-copy", slot("Backlog", 0, 2)),
    login: await make("login-redirect", slot("In progress", 0, 0), {
      issueUrl: "https://github.com/acme/shop/issues/42",
    }),
    cache: await make("perf-cache", slot("In progress", 1, 0), { notes: "Cache product pages at the edge" }),
    pager: await make("api-pagination", slot("In progress", 0, 1)),
    rate: await make("rate-limits", slot("In progress", 1, 1), {
      issueUrl: "https://github.com/acme/shop/issues/97",
    }),
    checkout: await make("checkout-ui", slot("In progress", 0, 2), { notes: "New address form, mobile first" }),
    docs: await make("docs-refresh", slot("Review", 0, 0), { issueUrl: "https://github.com/acme/shop/pull/57" }),
    totals: await make("cart-totals", slot("Review", 0, 2), { issueUrl: "https://github.com/acme/shop/pull/61" }),
  };
  // Existing-branch mode with a branch nobody has: git refuses, and the card says so in git's words.
  await make("release-hotfix", slot("Review", 0, 1), { mode: "existing", branch: "release/9.9" });
  // (Cards off screen are not in the page at all, so ask the API how they are doing.)
  const states = async () =>
    (
      await call<{ items: { name: string; status: string; git: { changedFiles: number } | null }[] }>(
        `/api/boards/${boardId}/worktrees`,
      )
    ).items;
  await until(
    "nine cards ready and one refused",
    async () => {
      const list = await states();
      return list.filter((w) => w.status === "ready").length === 9 && list.some((w) => w.status === "error");
    },
    30_000,
  );

  // Real work in them: commits ahead of main, files not yet committed; then a refresh reads it.
  const dirs = join(tmp.dir, "data", "worktrees", repo!.id);
  commit(join(dirs, "login-redirect"), { "src/auth.ts": "export const next = '/';\n" }, "Keep the redirect target");
  commit(join(dirs, "login-redirect"), { "src/auth.test.ts": "// covers the loop\n" }, "Test the redirect loop");
  writeFiles(join(dirs, "login-redirect"), { "src/session.ts": "// wip\n" });
  writeFiles(join(dirs, "perf-cache"), { "src/cache.ts": "// wip\n", "src/cart.ts": "export {}; // wip\n" });
  commit(join(dirs, "api-pagination"), { "src/page.ts": "export const LIMIT = 50;\n" }, "Cursor pagination");
  commit(join(dirs, "rate-limits"), { "src/limits.ts": "export const RPS = 20;\n" }, "Per-key limits");
  writeFiles(join(dirs, "checkout-ui"), {
    "src/address.tsx": "// wip\n",
    "src/form.css": "/* wip */\n",
    "a.md": "x\n",
  });
  commit(join(dirs, "cart-totals"), { "src/totals.ts": "export const round = Math.round;\n" }, "Round totals");
  for (const c of [cards.login, cards.cache, cards.pager, cards.rate, cards.checkout, cards.totals]) {
    await call(`/api/boards/${boardId}/worktrees/${c.id}/refresh`, {});
  }
  await until("the refreshes to land", async () => {
    const list = await states();
    const changed = (name: string) => list.find((w) => w.name === name)?.git?.changedFiles;
    return changed("login-redirect") === 1 && changed("perf-cache") === 2 && changed("checkout-ui") === 3;
  });
  // One still being made when the picture is taken (its checkout is slowed down on purpose).
  await make("billing-retry", slot("Backlog", 0, 1), { notes: "Retry failed card payments" });
  await a.getByRole("button", { name: "Fit the whole board" }).click();
  await a.locator('[data-testid="worktree"][data-name="billing-retry"][data-status="creating"]').waitFor();

  // A third person joins; everyone frames the whole board; the other two point at cards.
  const linus = await openPerson("Linus Torvalds");
  await call(`/api/boards/${boardId}/members`, { email: linus.email, role: "member" });
  for (const p of [a, grace.page, linus.page]) {
    if (p !== a) await p.goto(boardUrl);
    await p.locator('[data-testid="connection"][data-status="connected"]').waitFor();
    await p.getByRole("button", { name: "Fit the whole board" }).click();
  }
  await a.waitForTimeout(500);
  const point = async (p: Page, name: string, dx: number, dy: number) => {
    const box = (await card(p, name).boundingBox())!;
    await p.mouse.move(box.x + box.width * dx - 30, box.y + box.height * dy - 20);
    await p.mouse.move(box.x + box.width * dx, box.y + box.height * dy, { steps: 5 });
  };
  await point(grace.page, "perf-cache", 0.62, 0.5);
  await point(linus.page, "release-hotfix", 0.45, 0.75);
  await a.locator(`[data-testid="cursor"][data-name="${grace.name}"]`).waitFor();
  await a.locator(`[data-testid="cursor"][data-name="${linus.name}"]`).waitFor();
  await a.mouse.move(5, 420);
  await a.waitForTimeout(500);
  await a.screenshot({ path: join(ROOT, "docs/screenshot.png") });
  await linus.page.context().close();
});
