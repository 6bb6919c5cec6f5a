/**
 * Access, as people meet it in Chromium against a real Worker (`wrangler dev`, local D1 and
 * Durable Objects): a new password signs the person's other browser out, board socket included;
 * and a script link already stored in the database is never rendered as a link.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { api, ROOT, startTrellis, type Trellis } from "../test/server.ts";
import { launchChromium, logIn, PASSWORD, signUp } from "./people.ts";

let trellis: Trellis;
let browser: Browser;

before(async () => {
  [trellis, browser] = await Promise.all([startTrellis({ singleUser: false }), launchChromium()]);
});

after(async () => {
  await browser?.close();
  await trellis?.stop();
});

async function createBoard(page: Page, name: string): Promise<string> {
  await page.getByTestId("new-board-name").fill(name);
  await page.getByTestId("new-board-name").press("Enter");
  await page.locator('[data-testid="connection"][data-status="connected"]').waitFor();
  return page.url();
}

/** Write straight into the Worker's local D1, as a row stored before today's rules would be. */
function sql(command: string) {
  const run = spawnSync(
    join(ROOT, "node_modules/.bin/wrangler"),
    ["d1", "execute", "DB", "--local", "--persist-to", trellis.stateDir, "--command", command],
    {
      cwd: ROOT,
      encoding: "utf8",
      // node_modules/.bin first: wrangler needs the Node 22 the project ships.
      env: { ...process.env, PATH: `${join(ROOT, "node_modules/.bin")}:${process.env.PATH}`, NO_COLOR: "1" },
    },
  );
  assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
}

test("a new password signs the person's other browser out, board socket and all; this browser carries on", async () => {
  const ann = await signUp(browser, trellis.url, "Ann Account");
  const boardUrl = await createBoard(ann.page, "Password board");
  const laptop = await logIn(browser, trellis.url, ann.email);
  await laptop.goto(boardUrl);
  await laptop.locator('[data-testid="connection"][data-status="connected"]').waitFor();

  await ann.page.getByTestId("user-menu").click();
  await ann.page.getByTestId("account-link").click();
  await ann.page.getByTestId("current-password").fill(PASSWORD);
  await ann.page.getByTestId("new-password").fill("short");
  await ann.page.getByTestId("change-password-submit").click();
  await ann.page.getByText("The new password must be at least 10 characters.").waitFor();

  const started = Date.now();
  await ann.page.getByTestId("new-password").fill("a completely new passphrase");
  await ann.page.getByTestId("change-password-submit").click();
  // The other browser's board closes and it lands on the sign-in screen, within seconds.
  await laptop.getByTestId("auth-submit").waitFor({ timeout: 10_000 });
  const signedOutMs = Date.now() - started;

  // This browser is still signed in: its board connects again.
  await ann.page.goto(boardUrl);
  await ann.page.locator('[data-testid="connection"][data-status="connected"]').waitFor();
  assert.deepEqual(ann.errors, []);
  console.log(`other browser signed out ${signedOutMs} ms after the password change`);
});

test("an issue link with a script scheme stored in the database is not rendered as a link", async () => {
  const eve = await signUp(browser, trellis.url, "Eve Links");
  const boardUrl = await createBoard(eve.page, "Links board");
  const boardId = boardUrl.split("/b/")[1]!;
  const me = await api(trellis.url, "/api/auth/login", { json: { email: eve.email, password: PASSWORD } });
  const userId = me.user.id as string;
  // A runner, a repo and two cards, one with a link from before the API refused script schemes.
  sql(
    [
      `insert into runners (id, owner_id, name, status) values ('run-1', '${userId}', 'old box', 'offline')`,
      `insert into runner_boards (runner_id, board_id) values ('run-1', '${boardId}')`,
      `insert into repos (id, runner_id, name, status, data, created_by) values ('repo-1', 'run-1', 'app', 'ready', '{"source":{"kind":"path","path":"/x"}}', '${userId}')`,
      `insert into worktrees (id, board_id, repo_id, runner_id, name, branch, status, x, y, data, created_by) values ('wt-1', '${boardId}', 'repo-1', 'run-1', 'evil-card', 'evil', 'ready', 0, 0, '{"issueUrl":"javascript:alert(document.domain)"}', '${userId}')`,
      `insert into worktrees (id, board_id, repo_id, runner_id, name, branch, status, x, y, data, created_by) values ('wt-2', '${boardId}', 'repo-1', 'run-1', 'good-card', 'good', 'ready', 300, 0, '{"issueUrl":"https://github.com/o/r/issues/7"}', '${userId}')`,
    ].join("; "),
  );
  await eve.page.reload();
  const evil = eve.page.locator('[data-testid="worktree"][data-name="evil-card"]');
  const good = eve.page.locator('[data-testid="worktree"][data-name="good-card"]');
  await evil.waitFor();
  await good.locator("a.wt-issue").waitFor();
  assert.equal(await good.locator("a.wt-issue").getAttribute("href"), "https://github.com/o/r/issues/7");
  assert.equal(await evil.locator("a").count(), 0);
  const hrefs = await eve.page.$$eval("a[href]", (as) => as.map((a) => a.getAttribute("href") ?? ""));
  assert.ok(!hrefs.some((h) => /^\s*(javascript|data|vbscript):/i.test(h)), hrefs.join(", "));

  // The notes dialog shows the stored text, not a link.
  await evil.click();
  await eve.page.getByTestId("worktree-toolbar").getByText("Notes").click();
  await eve.page.getByTestId("unsafe-issue-url").waitFor();
  assert.equal(await eve.page.locator('dialog a[href^="javascript"], .notes-text ~ a').count(), 0);
});
