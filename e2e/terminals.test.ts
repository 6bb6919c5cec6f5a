/**
 * Shared terminals end to end: real Chromium (Debian's), a real Worker (`wrangler dev`), a real
 * runner process with real tmux, two people in two browser contexts.
 *
 * Ada owns the runner; she lets the board's members in from the runners panel (with its warning),
 * opens a terminal on the card, and types `echo hello`: she and Grace both see it. Grace reloads
 * and her panel comes back with the screen as it was. Ada ends the terminal and both panels say so.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import type { Repo, Worktree } from "../protocol/index.ts";
import { makeRepo, tempDir } from "../runner/test/git-fixtures.ts";
import { RunnerProcess, until } from "../runner/test/harness.ts";
import { api, ROOT, registerUser, startTrellis, type Trellis } from "../test/server.ts";
import { launchChromium, logIn } from "./people.ts";

const SOCKET = `trellis-e2e-${process.pid}`;
let trellis: Trellis;
let browser: Browser;
let tmp: ReturnType<typeof tempDir>;
let runner: RunnerProcess | undefined;

before(async () => {
  tmp = tempDir("trellis-e2e-term-");
  [trellis, browser] = await Promise.all([startTrellis({ singleUser: false }), launchChromium()]);
});

after(async () => {
  runner?.kill("SIGKILL");
  try {
    execFileSync("tmux", ["-L", SOCKET, "kill-server"], { stdio: "ignore" });
  } catch {}
  await browser?.close();
  await trellis?.stop();
  tmp?.cleanup();
});

/** What the panel's xterm shows (its DOM renderer's rows), as text. */
const screenText = (p: Page) =>
  // biome-ignore lint/performance/useDomNodeTextContent: innerText breaks lines between xterm's row divs; textContent runs the rows together.
  p.locator('[data-testid="terminal-screen"] .xterm-rows').evaluate((el) => (el as HTMLElement).innerText);

async function seeOnScreen(p: Page, re: RegExp, timeoutMs = 15_000) {
  await until(`${re} in the terminal`, async () => re.test(await screenText(p)), timeoutMs);
}

test("two people share a terminal: one types, both see it; a reload brings the screen back; ending it tells both", async () => {
  // Ada and Grace have accounts; Ada's board has Grace as a member, and Ada's runner holds a
  // worktree on it. (The board UI for all of that has its own tests: here it is set up by API.)
  const [ada, grace] = await Promise.all([registerUser(trellis.url, "Ada"), registerUser(trellis.url, "Grace")]);
  const as = (token: string) => (path: string, json?: unknown, method?: string) =>
    api(trellis.url, path, { token, json, ...(method ? { method } : {}) });
  const asAda = as(ada.token);
  const board = await asAda("/api/boards", { name: "Shells" });
  await asAda(`/api/boards/${board.id}/members`, { email: grace.email, role: "member" });
  const reg = await asAda("/api/runners", { name: "ada-laptop" });
  const home = join(tmp.dir, "home");
  mkdirSync(home);
  const env = {
    ...process.env,
    TRELLIS_CONFIG_DIR: join(tmp.dir, "config"),
    TRELLIS_DATA_DIR: join(tmp.dir, "data"),
    TRELLIS_TMUX_SOCKET: SOCKET,
    // A scratch HOME: the shell runs no one's ~/.bashrc.
    HOME: home,
    SHELL: "/bin/bash",
  };
  execFileSync(
    join(ROOT, "node_modules/.bin/node"),
    [join(ROOT, "runner/src/cli.ts"), "register", "--url", trellis.url, "--token", reg.registrationToken],
    { env },
  );
  runner = new RunnerProcess(["start"], env, tmp.dir);
  await runner.waitFor(/connected to /);
  await asAda(`/api/runners/${reg.runner.id}/boards`, { boardId: board.id });
  const repoDir = makeRepo(join(tmp.dir, "shop"));
  const repo = await asAda(`/api/runners/${reg.runner.id}/repos`, { source: { kind: "path", path: repoDir } });
  await until("repo ready", async () =>
    ((await asAda(`/api/runners/${reg.runner.id}/repos`)) as { items: Repo[] }).items.some(
      (r) => r.id === repo.id && r.status === "ready",
    ),
  );
  const wt = await asAda(`/api/boards/${board.id}/worktrees`, {
    repoId: repo.id,
    name: "checkout",
    branch: "checkout",
  });
  await until("worktree ready", async () =>
    ((await asAda(`/api/boards/${board.id}/worktrees`)) as { items: Worktree[] }).items.some(
      (w) => w.id === wt.id && w.status === "ready",
    ),
  );

  const [a, b] = await Promise.all([logIn(browser, trellis.url, ada.email), logIn(browser, trellis.url, grace.email)]);
  const boardUrl = `${trellis.url}/b/${board.id}`;
  await Promise.all([a, b].map((p) => p.goto(boardUrl)));
  await Promise.all([a, b].map((p) => p.locator('[data-testid="connection"][data-status="connected"]').waitFor()));
  const card = (p: Page) => p.locator(`[data-testid="worktree"][data-name="checkout"]`);

  // Grace may not open one yet: the runner is Ada's, and terminals are hers alone by default.
  await card(b).hover();
  await b.waitForTimeout(200);
  assert.equal(await card(b).getByTestId("worktree-open-terminal").count(), 0);

  // Ada lets the board's members in, from the runner's settings, after reading what it gives away.
  await a.getByTestId("runners-button").click();
  await a.getByTestId("terminal-access-toggle").click();
  const ask = a.getByTestId("confirm-dialog");
  await ask.waitFor();
  assert.match((await ask.textContent())!, /shell on this machine, running as your OS user/);
  await a.getByTestId("confirm-ok").click();
  await a.locator('[data-testid="terminal-access-toggle"]:checked').waitFor();
  await a.getByTestId("runners-button").click();

  // Ada opens a terminal from the card; Grace sees it appear on the card and opens it too.
  await card(a).hover();
  await card(a).getByTestId("worktree-open-terminal").click();
  await a.getByTestId("terminal-panel").waitFor();
  await a.locator('[data-testid="terminal-status"][data-status="live"]').waitFor({ timeout: 15_000 });
  await card(b).locator('[data-testid="card-terminal"][data-name="shell"]').click();
  await b.locator('[data-testid="terminal-status"][data-status="live"]').waitFor({ timeout: 15_000 });
  await b.getByTestId("terminal-end").waitFor();

  // Ada types; both see the command and what it printed.
  await a.getByTestId("terminal-screen").click();
  await a.keyboard.type("echo hello");
  await a.keyboard.press("Enter");
  for (const p of [a, b]) await seeOnScreen(p, /echo hello\s*\n\s*hello\b/);
  // Grace's panel says who is typing.
  await a.keyboard.type("# still here");
  await b.getByTestId("terminal-typing").waitFor();
  assert.match((await b.getByTestId("terminal-typing").textContent())!, /Ada is typing/);
  await a.keyboard.press("Control+U");

  // Grace reloads: her panel comes back by itself, with the screen as it was.
  await b.reload();
  await b.locator('[data-testid="terminal-status"][data-status="live"]').waitFor({ timeout: 15_000 });
  await seeOnScreen(b, /echo hello\s*\n\s*hello\b/);

  // Ada ends it: both panels say so, and the card no longer lists it.
  await a.getByTestId("terminal-end").click();
  await a.getByTestId("confirm-ok").click();
  for (const p of [a, b]) {
    await p.getByTestId("terminal-ended").waitFor({ timeout: 10_000 });
    assert.match((await p.getByTestId("terminal-ended").textContent())!, /ended.*Ended by Ada/s);
    await card(p).locator('[data-testid="card-terminal"]').waitFor({ state: "detached" });
  }
});
