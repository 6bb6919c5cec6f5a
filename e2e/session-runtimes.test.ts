/**
 * Session runtimes and allowed hosts from the board, end to end: real Chromium, a real Worker
 * (`wrangler dev`), a real runner that has both SDKs (the repo's devDependencies) and whose Claude
 * Code binary talks to the scripted Messages server (ANTHROPIC_BASE_URL, the one stand-in), and a
 * real git worktree.
 *
 * Ada sees on the runner card which runtimes her runner has. In the start dialog Claude Code and
 * Codex are offered with their versions; Codex narrows the provider to OpenAI-compatible and warns
 * that it runs read-only in ask mode; a bad allowed host is refused before anything is sent. She
 * starts a Claude Code session, reads its answer in the panel under a header that names the
 * runtime and its version, then gives the session an allowed host from the panel, which is still
 * there after a reload. A Codex session's panel says plainly what its mode means for Codex (it asks
 * nothing; the sandbox decides). Last, her runner restarts without the SDKs (TRELLIS_RUNTIMES=none):
 * its card shows how to add Codex, and the dialog's Codex choice is off with the same words.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import type { Runner, Session, SessionDetail, Worktree } from "../protocol/index.ts";
import { providerEnv, readyWorktree, until, type World, world } from "../runner/test/session-kit.ts";
import { type ResponsesServer, startResponsesServer } from "../test/responses-server.ts";
import { api } from "../test/server.ts";
import { launchChromium, logIn } from "./people.ts";

let w: World;
let rs: ResponsesServer;
let browser: Browser;
let wt: Worktree;
let ada: Page;
// A scratch HOME: Claude Code keeps its sessions under ~/.claude, never the machine's own.
const home = mkdtempSync(join(tmpdir(), "trellis-e2e-cc-home-"));

const SHOTS = process.env.TRELLIS_SESSION_SHOTS;
const shot = async (p: Page, name: string) => {
  if (SHOTS) await p.screenshot({ path: `/tmp/session-runtimes-${name}.png` });
};

before(async () => {
  [w, browser, rs] = await Promise.all([
    world("Ada", { "src/app.ts": 'export const greeting = "hello";\n' }, { HOME: home }),
    launchChromium(),
    startResponsesServer(),
  ]);
  wt = await readyWorktree(w, "runtimes");
  const owner = w.s.user as unknown as { email: string };
  ada = await logIn(browser, w.edge.url, owner.email);
  await ada.goto(`${w.edge.url}/b/${w.s.boardId}`);
  await ada.locator('[data-testid="connection"][data-status="connected"]').waitFor();
});

after(async () => {
  await browser?.close();
  await Promise.allSettled([w?.stop(), rs?.close()]);
  rmSync(home, { recursive: true, force: true });
});

const card = (p: Page) => p.locator(`[data-testid="worktree"][data-worktree-id="${wt.id}"]`);
const panel = (p: Page) => p.getByTestId("session-panel");

function stopwatch() {
  const t0 = Date.now();
  return (what: string) => console.log(`${what}: ${Date.now() - t0} ms`);
}

test("the runner card lists its runtimes; a Claude Code session started from the dialog answers in the panel", async () => {
  const mark = stopwatch();
  const runners = await w.s.api<{ items: Runner[] }>("/api/runners");
  const versions = new Map(
    (runners.items.find((r) => r.id === w.s.runnerId)!.info.runtimes ?? []).map((r) => [r.runtime, r.version]),
  );
  const cc = versions.get("claude-code");
  const codex = versions.get("codex");
  assert.ok(cc && codex, `the test runner should find both SDKs in node_modules: ${JSON.stringify([...versions])}`);

  mark("runtimes reported");
  // The runner card: both runtimes with their versions, no install hint.
  await ada.getByTestId("runners-button").click();
  const line = ada.getByTestId("runner-runtimes");
  await line.waitFor();
  await shot(ada, "runner-card");
  assert.equal((await line.textContent())?.trim(), `Runtimes: Trellis · Claude Code ${cc} · Codex ${codex}`);
  await ada.getByTestId("runners-button").click();
  mark("runner card");

  w.server.script("anthropic", [{ text: "Hello from Claude Code: the greeting is **hello**." }]);
  await card(ada).hover();
  await card(ada).getByTestId("session-new").click();
  const dialog = ada.getByTestId("start-session");
  await dialog.waitFor();
  mark("dialog open");
  assert.equal(await ada.getByTestId("session-runtime-version-claude-code").textContent(), cc);
  assert.equal(await ada.getByTestId("session-runtime-version-codex").textContent(), codex);
  assert.equal(await ada.getByTestId("session-runtime-claude-code").isDisabled(), false);
  assert.equal(await ada.getByTestId("session-runtime-builtin").isChecked(), true);

  // Codex: OpenAI-compatible only, a GPT-5 model, and the ask-mode caution.
  await ada.getByTestId("session-mode").selectOption("ask");
  await ada.getByTestId("session-runtime-codex").check();
  assert.equal(await ada.getByTestId("session-provider-openai").isChecked(), true);
  assert.equal(await ada.getByTestId("session-provider-anthropic").isDisabled(), true);
  assert.equal(await ada.getByTestId("session-provider-why-anthropic").textContent(), "Codex does not talk to it");
  assert.equal(await ada.getByTestId("session-model").inputValue(), "gpt-5-mini");
  assert.match((await ada.getByTestId("session-runtime-caution").textContent()) ?? "", /Codex runs read-only/);
  await shot(ada, "dialog-codex");
  await ada.getByTestId("session-mode").selectOption("auto-edit");
  assert.equal(await ada.getByTestId("session-runtime-caution").count(), 0);

  // Claude Code: back to Anthropic and its default model.
  await ada.getByTestId("session-runtime-claude-code").check();
  assert.equal(await ada.getByTestId("session-provider-anthropic").isChecked(), true);
  assert.equal(await ada.getByTestId("session-provider-openai").isDisabled(), true);
  assert.equal(await ada.getByTestId("session-model").inputValue(), "claude-sonnet-4-5");
  assert.match((await ada.getByTestId("session-runtime-about").textContent()) ?? "", /Claude Code/);

  // A host the edge would refuse is said before anything is sent.
  await ada.getByTestId("session-advanced").locator("summary").click();
  await ada.getByTestId("session-hosts").fill("https://registry.npmjs.org");
  assert.match(
    (await ada.getByTestId("problem-hosts").textContent()) ?? "",
    /^"https:\/\/registry\.npmjs\.org" must be/,
  );
  await ada.getByTestId("session-start").click();
  assert.equal(await dialog.isVisible(), true);
  await ada.getByTestId("session-hosts").fill("registry.npmjs.org");
  assert.match(
    (await ada.getByTestId("session-hosts-note").textContent()) ?? "",
    /has its sandbox off \(TRELLIS_SANDBOX=off\)/,
  );
  await ada.getByTestId("session-title").fill("Claude Code hello");
  await ada.getByTestId("session-prompt").fill("Say hello.");
  await shot(ada, "dialog");
  await ada.getByTestId("session-start").click();
  await dialog.waitFor({ state: "detached" });
  mark("session started");

  // The answer in the panel, under a header that names the runtime and its version.
  const reply = panel(ada).locator('[data-testid="message"] .md', { hasText: "Hello from Claude Code" });
  await reply.waitFor({ timeout: 30_000 });
  mark("Claude Code answered");
  const runtime = panel(ada).getByTestId("session-runtime");
  assert.equal(await runtime.getAttribute("data-runtime"), "claude-code");
  assert.equal((await runtime.textContent())?.trim(), `Claude Code ${cc}`);
  await ada.locator('[data-testid="session-panel"][data-status="completed"]').waitFor({ timeout: 30_000 });
  mark("task completed");
  assert.deepEqual(w.server.failures, []);
  const sessions = (await api(w.edge.url, `/api/boards/${w.s.boardId}/sessions`, { token: w.s.user.token }))
    .items as Session[];
  const s = sessions.find((x) => x.title === "Claude Code hello")!;
  assert.equal(s.runtime, "claude-code");
  assert.deepEqual(s.allowedHosts, ["registry.npmjs.org"]);
  await shot(ada, "panel");
});

test("an allowed host set on a session from its panel is still there after a reload", async () => {
  const mark = stopwatch();
  const id = (await panel(ada).getAttribute("data-session-id"))!;
  const hosts = panel(ada).getByTestId("session-hosts");
  assert.equal((await hosts.textContent())?.trim(), "Hosts · 1");
  await hosts.click();
  const input = panel(ada).getByTestId("session-hosts-input");
  assert.equal(await input.inputValue(), "registry.npmjs.org");
  await input.fill("registry.npmjs.org, api.github.com:443, not a host!");
  assert.match((await panel(ada).getByTestId("session-hosts-problem").textContent()) ?? "", /^"host!" must be/);
  assert.equal(await panel(ada).getByTestId("session-hosts-save").isDisabled(), true);
  await input.fill("registry.npmjs.org, API.github.com:443");
  await shot(ada, "hosts-menu");
  await panel(ada).getByTestId("session-hosts-save").click();
  await panel(ada).getByTestId("session-hosts-menu").waitFor({ state: "detached" });
  await until("the button counts two hosts", async () => (await hosts.textContent())?.trim() === "Hosts · 2");
  mark("hosts saved");

  await ada.reload();
  const row = card(ada).locator(`[data-testid="session-row"][data-session-id="${id}"]`);
  await row.waitFor();
  await row.click();
  await ada.locator(`[data-testid="session-panel"][data-session-id="${id}"]`).waitFor();
  assert.equal((await panel(ada).getByTestId("session-hosts").textContent())?.trim(), "Hosts · 2");
  await panel(ada).getByTestId("session-hosts").click();
  assert.equal(
    await panel(ada).getByTestId("session-hosts-input").inputValue(),
    "registry.npmjs.org, api.github.com:443",
  );
  const detail = (await api(w.edge.url, `/api/boards/${w.s.boardId}/sessions/${id}`, {
    token: w.s.user.token,
  })) as SessionDetail;
  assert.deepEqual(detail.session.allowedHosts, ["registry.npmjs.org", "api.github.com:443"]);
  mark("still there after a reload");
});

test("a Codex session's panel says what its permission mode means for Codex", async () => {
  const mark = stopwatch();
  rs.script([{ text: "Hello from Codex." }]);
  const s = (await api(w.edge.url, `/api/boards/${w.s.boardId}/sessions`, {
    token: w.s.user.token,
    json: {
      worktreeId: wt.id,
      provider: "openai",
      baseUrl: rs.url,
      model: "gpt-5",
      runtime: "codex",
      permissionMode: "auto-edit",
      title: "Codex hello",
      prompt: "Say hello.",
    },
  })) as Session;
  const row = card(ada).locator(`[data-testid="session-row"][data-session-id="${s.id}"]`);
  await row.waitFor();
  await row.click();
  await ada.locator(`[data-testid="session-panel"][data-session-id="${s.id}"]`).waitFor();
  const note = panel(ada).getByTestId("session-mode-note");
  // The test runner's sandbox is off: Codex's own decides.
  assert.match(
    (await note.textContent()) ?? "",
    /^Codex cannot ask first: in auto-edit its edits and commands run unasked, Codex's own sandbox/,
  );
  await panel(ada).getByTestId("session-mode-select").selectOption("ask");
  await until("the note follows the mode", async () =>
    /in ask mode it runs read-only/.test((await note.textContent()) ?? ""),
  );
  assert.match((await note.textContent()) ?? "", /Nobody is asked before a command/);
  await shot(ada, "codex-panel");
  await panel(ada).getByTestId("session-mode-select").selectOption("full");
  await note.waitFor({ state: "detached" });
  await panel(ada).locator('[data-testid="message"] .md', { hasText: "Hello from Codex" }).waitFor({ timeout: 30_000 });
  mark("Codex panel");
});

test("a runner without the SDKs shows how to add Codex, and the dialog offers it disabled with the reason", async () => {
  const mark = stopwatch();
  const old = w.runner;
  old.kill("SIGTERM");
  assert.equal(await old.exited, 0);
  w.runner = w.s.start([], { ...providerEnv(w.server), HOME: home, TRELLIS_RUNTIMES: "none" });
  await w.runner.waitFor(/connected to /, 30_000);
  await until("the runner reports no runtimes", async () => {
    const r = (await w.s.api<{ items: Runner[] }>("/api/runners")).items.find((x) => x.id === w.s.runnerId);
    return r?.status === "online" && r.info.runtimes?.length === 0;
  });
  mark("runner restarted without runtimes");

  await ada.reload();
  await ada.locator('[data-testid="connection"][data-status="connected"]').waitFor();
  await ada.getByTestId("runners-button").click();
  const missing = ada.locator('[data-testid="runner-runtime-codex"][data-has="false"]');
  await missing.waitFor();
  assert.equal((await missing.textContent())?.trim(), "· Codex: npm i -g @openai/codex-sdk");
  await shot(ada, "runner-card-missing");
  await ada.getByTestId("runners-button").click();

  await card(ada).hover();
  await card(ada).getByTestId("session-new").click();
  await ada.getByTestId("start-session").waitFor();
  assert.equal(await ada.getByTestId("session-runtime-codex").isDisabled(), true);
  assert.equal(
    await ada.getByTestId("session-runtime-why-codex").textContent(),
    "Codex: runner 'test-runner' does not have @openai/codex-sdk: run `npm i -g @openai/codex-sdk` on that machine and restart the runner",
  );
  await shot(ada, "dialog-missing");
  mark("dialog");
});
