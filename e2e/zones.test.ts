/**
 * Zones as containers, the board's keys and search, and forms that say first what the server would
 * refuse: real Chromium, a real Worker, a real runner process with a real git repo, two people.
 *
 * Ada makes cards by double-clicking inside a zone: each takes a free slot wholly inside it. She
 * drags the zone: its cards go with it, for Grace too, and Ctrl+Z puts it all back. A selected zone
 * stays under its cards. A card dragged out leaves the zone. Shift-click selects two cards; Delete
 * (after a confirm) removes both. The search box finds a card and flies to it.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import type { Browser, Locator, Page } from "playwright-core";
import type { Repo, Worktree, Zone } from "../protocol/index.ts";
import { makeRepo, sh, tempDir } from "../runner/test/git-fixtures.ts";
import { RunnerProcess, until } from "../runner/test/harness.ts";
import { api, ROOT, registerUser, startTrellis, type Trellis } from "../test/server.ts";
import { launchChromium, logIn } from "./people.ts";

let trellis: Trellis;
let browser: Browser;
let tmp: ReturnType<typeof tempDir>;
let runner: RunnerProcess | undefined;

before(async () => {
  tmp = tempDir("trellis-e2e-zones-");
  [trellis, browser] = await Promise.all([startTrellis({ singleUser: false }), launchChromium()]);
});

after(async () => {
  runner?.kill("SIGKILL");
  await browser?.close();
  await trellis?.stop();
  tmp?.cleanup();
});

type User = Awaited<ReturnType<typeof registerUser>>;

const logInAs = (user: User) => logIn(browser, trellis.url, user.email, user.password);

const card = (page: Page, name: string) => page.locator(`[data-testid="worktree"][data-name="${name}"]`);
const zoneEl = (page: Page) => page.locator('[data-testid="zone"]');

const text = async (l: Locator) => (await l.textContent()) ?? "";

async function box(l: Locator) {
  const b = await l.boundingBox();
  assert.ok(b, "element is on screen");
  return b;
}

const inside = (
  inner: { x: number; y: number; width: number; height: number },
  outer: { x: number; y: number; width: number; height: number },
) =>
  inner.x >= outer.x - 0.5 &&
  inner.y >= outer.y - 0.5 &&
  inner.x + inner.width <= outer.x + outer.width + 0.5 &&
  inner.y + inner.height <= outer.y + outer.height + 0.5;

const overlap = (a: { x: number; y: number; width: number; height: number }, b: typeof a) =>
  a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

test("zones hold their cards; keys, search and undo on the board; the dialog says what the server would refuse", async () => {
  const [ada, grace] = await Promise.all([registerUser(trellis.url, "Ada"), registerUser(trellis.url, "Grace")]);
  const board = await api(trellis.url, "/api/boards", { token: ada.token, json: { name: "Zones" } });
  await api(trellis.url, `/api/boards/${board.id}/members`, {
    token: ada.token,
    json: { email: grace.email, role: "member" },
  });
  const zone = await api<Zone>(trellis.url, `/api/boards/${board.id}/zones`, {
    token: ada.token,
    json: { name: "Doing", x: 0, y: 0, width: 592, height: 344 },
  });

  // Ada's runner, registered with the command the app would show, and a repo with a second branch.
  const reg = await api(trellis.url, "/api/runners", { token: ada.token, json: { name: "ada-laptop" } });
  const env = { ...process.env, TRELLIS_CONFIG_DIR: join(tmp.dir, "config"), TRELLIS_DATA_DIR: join(tmp.dir, "data") };
  await promisify(execFile)("sh", ["-c", reg.command], { env, cwd: ROOT });
  runner = new RunnerProcess(["start"], env, tmp.dir);
  await api(trellis.url, `/api/runners/${reg.runner.id}/boards`, { token: ada.token, json: { boardId: board.id } });
  const repoDir = makeRepo(join(tmp.dir, "shop"));
  sh(repoDir, "branch", "feature-x");
  const added = await api<Repo>(trellis.url, `/api/runners/${reg.runner.id}/repos`, {
    token: ada.token,
    json: { source: { kind: "path", path: repoDir } },
  });
  await until("repo ready", async () => {
    const r = await api<{ items: Repo[] }>(trellis.url, `/api/runners/${reg.runner.id}/repos`, { token: ada.token });
    return r.items.find((x) => x.id === added.id && x.status === "ready");
  });
  const cards = async () =>
    new Map(
      (
        await api<{ items: Worktree[] }>(trellis.url, `/api/boards/${board.id}/worktrees`, { token: ada.token })
      ).items.map((w) => [w.name, w]),
    );

  const [a, b] = await Promise.all([logInAs(ada), logInAs(grace)]);
  const boardUrl = `${trellis.url}/b/${board.id}`;
  await Promise.all([a, b].map((p) => p.goto(boardUrl)));
  await Promise.all([a, b].map((p) => p.locator('[data-testid="connection"][data-status="connected"]').waitFor()));
  await zoneEl(a).waitFor();

  // ---- the dialog says first what the server would refuse ----
  const z = await box(zoneEl(a));
  // Near the zone's bottom-right corner: a card centred there would stick out of the zone.
  const corner = { x: z.x + z.width - 30, y: z.y + z.height - 20 };
  await a.mouse.dblclick(corner.x, corner.y);
  const dialog = a.getByTestId("create-worktree");
  await dialog.waitFor();
  await a.locator('[data-testid="wt-repo"] option', { hasText: "shop" }).waitFor({ state: "attached" });
  const branchProblem = a.getByTestId("problem-branch");
  await a.getByTestId("wt-name").fill("feature-x");
  await branchProblem.waitFor();
  assert.match(await text(branchProblem), /Branch “feature-x” already exists in shop/);
  await a.getByTestId("wt-branch").fill("main");
  assert.match(await text(branchProblem), /Branch “main” already exists/);
  await a.getByTestId("wt-branch").fill("HEAD");
  assert.match(await text(branchProblem), /must not be HEAD/);
  assert.equal(await a.getByTestId("wt-create").isDisabled(), false, "the button stays, the click is refused");
  await a.getByTestId("wt-create").click();
  assert.ok(await dialog.isVisible(), "nothing was sent");
  await a.getByTestId("wt-branch").fill("one");
  await a.getByTestId("wt-name").fill("one");
  await branchProblem.waitFor({ state: "detached" });
  await a.getByTestId("wt-create").click();
  await dialog.waitFor({ state: "detached" });
  await card(a, "one").waitFor();

  // The same spot again: the name is taken (said in words), and the new card takes another slot.
  await a.mouse.dblclick(corner.x, corner.y);
  await dialog.waitFor();
  await a.locator('[data-testid="wt-repo"] option', { hasText: "shop" }).waitFor({ state: "attached" });
  await a.getByTestId("wt-name").fill("one");
  assert.match(await text(a.getByTestId("problem-name")), /A worktree named “one” already exists/);
  await a.getByTestId("wt-name").fill("two");
  await a.getByTestId("wt-create").click();
  await dialog.waitFor({ state: "detached" });
  await card(a, "two").waitFor();

  // ---- cards sit inside their zone, covering nothing ----
  const [one, two, zr] = await Promise.all([box(card(a, "one")), box(card(a, "two")), box(zoneEl(a))]);
  assert.ok(inside(one, zr) && inside(two, zr), "both cards are wholly inside the zone");
  assert.ok(!overlap(one, two), "the second card does not cover the first");
  let now = await cards();
  assert.equal(now.get("one")!.zoneId, zone.id);
  assert.equal(now.get("two")!.zoneId, zone.id);

  // ---- a selected zone still draws under its cards ----
  await zoneEl(a).getByTestId("zone-name").click();
  await a.getByTestId("zone-toolbar").waitFor();
  const onTop = await a.evaluate(
    ([x, y]) => document.elementFromPoint(x!, y!)?.closest('[data-testid="worktree"]')?.getAttribute("data-name"),
    [one.x + one.width / 2, one.y + one.height / 2],
  );
  assert.equal(onTop, "one", "the card, not the selected zone, is under the pointer");

  // ---- dragging the zone carries its cards, for Grace too; Ctrl+Z brings all back ----
  const before = await cards();
  const header = await box(zoneEl(a).locator(".zone-header"));
  await a.mouse.move(header.x + header.width - 40, header.y + header.height / 2);
  await a.mouse.down();
  await a.mouse.move(header.x + header.width + 160, header.y + header.height / 2 + 120, { steps: 10 });
  // Mid-drag, the cards already travel with the zone on Ada's screen.
  const midZone = await box(zoneEl(a));
  assert.ok(inside(await box(card(a, "one")), midZone), "the card moves with the zone while it is dragged");
  await a.mouse.up();
  const moved = await until("zone and cards saved", async () => {
    const [zs, cs] = await Promise.all([
      api<{ items: Zone[] }>(trellis.url, `/api/boards/${board.id}/zones`, { token: ada.token }),
      cards(),
    ]);
    const zz = zs.items[0]!;
    return zz.x !== zone.x && cs.get("one")!.x !== before.get("one")!.x ? { zz, cs } : undefined;
  });
  const dx = moved.zz.x - zone.x;
  const dy = moved.zz.y - zone.y;
  for (const name of ["one", "two"]) {
    assert.equal(moved.cs.get(name)!.x, before.get(name)!.x + dx);
    assert.equal(moved.cs.get(name)!.y, before.get(name)!.y + dy);
    assert.equal(moved.cs.get(name)!.zoneId, zone.id);
  }
  // Grace's board shows the cards where they went, still inside the zone.
  await b.waitForFunction(
    ([x]) => document.querySelector('[data-testid="worktree"][data-name="one"]')?.getAttribute("data-x") === x,
    [String(moved.cs.get("one")!.x)],
  );
  assert.ok(inside(await box(card(b, "one")), await box(zoneEl(b))));

  await a.locator(".react-flow__pane").click({ position: { x: 5, y: 700 } });
  await a.keyboard.press("Control+z");
  await until("undone", async () => {
    const cs = await cards();
    return cs.get("one")!.x === before.get("one")!.x && cs.get("one")!.y === before.get("one")!.y;
  });
  await b.waitForFunction(
    ([x]) => document.querySelector('[data-testid="worktree"][data-name="one"]')?.getAttribute("data-x") === x,
    [String(before.get("one")!.x)],
  );

  // ---- a card leaves its zone only when dragged out ----
  const t = await box(card(a, "two"));
  const zNow = await box(zoneEl(a));
  await a.mouse.move(t.x + 40, t.y + 12);
  await a.mouse.down();
  await a.mouse.move(zNow.x + zNow.width + 260, t.y + 12, { steps: 8 });
  await a.mouse.up();
  await until("card two out of the zone", async () => (await cards()).get("two")!.zoneId === null);
  now = await cards();
  assert.equal(now.get("one")!.zoneId, zone.id, "the other card stays in");

  // ---- search finds a card by its branch and flies to it ----
  await a.getByTestId("board-search-input").fill("two");
  await a.locator('[data-testid="board-search-hit"][data-name="two"]').click();
  await a.locator('[data-testid="worktree"][data-name="two"].selected').waitFor();
  await a.keyboard.press("Escape");

  // ---- shift-click selects both cards; Delete (after a confirm) removes both, for Grace too ----
  await a.locator(".react-flow__pane").click({ position: { x: 5, y: 700 } });
  await until("cards ready", async () => [...(await cards()).values()].every((w) => w.status === "ready"), 30_000);
  await card(a, "one").click({ position: { x: 8, y: 8 } });
  await card(a, "two").click({ position: { x: 8, y: 8 }, modifiers: ["Shift"] });
  await a.locator('[data-testid="worktree"].selected').nth(1).waitFor();
  assert.equal(await a.locator('[data-testid="worktree"].selected').count(), 2);
  await a.keyboard.press("Delete");
  await a.getByTestId("confirm-dialog").waitFor();
  assert.match(await text(a.getByTestId("confirm-dialog")), /Delete 2 worktrees\?/);
  await a.getByTestId("confirm-ok").click();
  await Promise.all(
    [a, b].flatMap((p) => ["one", "two"].map((n) => card(p, n).waitFor({ state: "detached", timeout: 20_000 }))),
  );
  // Delete with only the zone selected removes the zone.
  await zoneEl(a).getByTestId("zone-name").click();
  await a.keyboard.press("Backspace");
  await Promise.all([a, b].map((p) => zoneEl(p).waitFor({ state: "detached" })));
});

test("sign-up and name fields say what the server would refuse before sending", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const sent: string[] = [];
  page.on("request", (r) => {
    if (r.url().includes("/api/auth/register")) sent.push(r.url());
  });
  await page.goto(trellis.url);
  await page.getByTestId("to-register").click();
  await page.fill('input[name="name"]', "N".repeat(121));
  assert.match(await text(page.getByTestId("problem-name")), /at most 120 characters/);
  await page.fill('input[name="name"]', "Nina");
  await page.fill('input[name="email"]', `nina-${Date.now()}@example.com`);
  await page.fill('input[name="password"]', "short");
  assert.match(await text(page.getByTestId("problem-password")), /The password must be at least 10 characters/);
  await page.getByTestId("auth-submit").click();
  await page.waitForTimeout(200);
  assert.deepEqual(sent, [], "a password the server would refuse is never sent");
  await page.fill('input[name="password"]', "correct horse battery");
  await page.getByTestId("auth-submit").click();
  await page.getByTestId("new-board-name").waitFor();

  // A board name past 120 characters is said, not silently cut.
  await page.getByTestId("new-board-name").fill("B".repeat(130));
  assert.match(await text(page.getByTestId("problem-name")), /at most 120 characters/);
  assert.equal(await page.getByTestId("create-board").isDisabled(), true);
  await context.close();
});

test("others see a drag as it happens, and the boards list follows invites, renames and removals", async () => {
  const [ada, grace] = await Promise.all([registerUser(trellis.url, "Ada"), registerUser(trellis.url, "Grace")]);
  const [a, b] = await Promise.all([logInAs(ada), logInAs(grace)]);
  const listed = (name: string) => b.locator('[data-testid="board-card"]', { hasText: name });

  // Grace's list shows a board she is invited to, its new name, and drops one she is removed from.
  const live = await api(trellis.url, "/api/boards", { token: ada.token, json: { name: "Live board" } });
  const temp = await api(trellis.url, "/api/boards", { token: ada.token, json: { name: "Short-lived" } });
  for (const id of [live.id, temp.id]) {
    await api(trellis.url, `/api/boards/${id}/members`, { token: ada.token, json: { email: grace.email } });
  }
  await listed("Live board").waitFor({ timeout: 10_000 });
  await listed("Short-lived").waitFor({ timeout: 10_000 });
  await api(trellis.url, `/api/boards/${live.id}`, { method: "PATCH", token: ada.token, json: { name: "Renamed" } });
  await listed("Renamed").waitFor({ timeout: 10_000 });
  await api(trellis.url, `/api/boards/${temp.id}/members/${grace.user.id}`, { method: "DELETE", token: ada.token });
  await listed("Short-lived").waitFor({ state: "detached", timeout: 10_000 });

  // Both on the board: while Ada drags a zone, Grace's copy moves before Ada lets go.
  await api(trellis.url, `/api/boards/${live.id}/zones`, {
    token: ada.token,
    json: { name: "Drag me", x: 0, y: 0, width: 400, height: 240 },
  });
  const url = `${trellis.url}/b/${live.id}`;
  await Promise.all([a, b].map((p) => p.goto(url)));
  await Promise.all([a, b].map((p) => zoneEl(p).waitFor()));
  await Promise.all([a, b].map((p) => p.locator('[data-testid="connection"][data-status="connected"]').waitFor()));
  const start = await box(zoneEl(b));
  const header = await box(zoneEl(a).locator(".zone-header"));
  await a.mouse.move(header.x + header.width - 30, header.y + header.height / 2);
  await a.mouse.down();
  await a.mouse.move(header.x + header.width + 120, header.y + header.height / 2 + 60, { steps: 10 });
  await b.waitForFunction(
    ([x0]) => {
      const r = document.querySelector('[data-testid="zone"]')?.getBoundingClientRect();
      return !!r && r.x > x0! + 60;
    },
    [start.x],
    { timeout: 5000 },
  );
  await a.mouse.up();
  await b.waitForFunction(() => document.querySelector('[data-testid="zone"]')?.getAttribute("data-x") !== "0");
  await Promise.all([a, b].map((p) => p.context().close()));
});
