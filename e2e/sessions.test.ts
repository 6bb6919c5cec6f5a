/**
 * Agent sessions end to end: real Chromium (Debian's), a real Worker (`wrangler dev`), a real
 * runner process whose Anthropic provider talks, through the real SDK, to the scripted model
 * server (test/model-server.ts, the one stand-in), and a real git worktree.
 *
 * Ada starts a session from a worktree card in `ask` mode with a prompt. Grace, a member, opens
 * it from her own browser and watches the answer stream in; the agent asks to write a file, and
 * Grace approves it; the card's changed-file count moves for both and the transcript shows the
 * call, who approved it, and the final answer. Vic, a viewer, sees the request with its buttons
 * greyed and cannot prompt. Then: a prompt to the busy session queues and is removed, Stop stops
 * it, and a fork at a message holds that many messages.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import type { MessagePage, Runner, Session, Worktree } from "../protocol/index.ts";
import { providerEnv, readyWorktree, until, type World, world } from "../runner/test/session-kit.ts";
import { api, registerUser } from "../test/server.ts";
import { launchChromium, logIn } from "./people.ts";

let w: World;
let browser: Browser;
let wt: Worktree;
let ada: Page;
let grace: Page;
let vic: Page;

const SHOTS = process.env.TRELLIS_SESSION_SHOTS;

before(async () => {
  [w, browser] = await Promise.all([
    world("Ada", { "src/app.ts": 'export const greeting = "hello";\n' }),
    launchChromium(),
  ]);
  const owner = w.s.user as unknown as { email: string; token: string };
  const [g, v] = await Promise.all([registerUser(w.edge.url, "Grace"), registerUser(w.edge.url, "Vic")]);
  for (const [u, role] of [
    [g, "member"],
    [v, "viewer"],
  ] as const) {
    await api(w.edge.url, `/api/boards/${w.s.boardId}/members`, { token: owner.token, json: { email: u.email, role } });
  }
  wt = await readyWorktree(w, "greet");
  [ada, grace, vic] = await Promise.all([
    logIn(browser, w.edge.url, owner.email),
    logIn(browser, w.edge.url, g.email),
    logIn(browser, w.edge.url, v.email),
  ]);
  const boardUrl = `${w.edge.url}/b/${w.s.boardId}`;
  await Promise.all([ada, grace, vic].map((p) => p.goto(boardUrl)));
  await Promise.all(
    [ada, grace, vic].map((p) => p.locator('[data-testid="connection"][data-status="connected"]').waitFor()),
  );
});

after(async () => {
  await browser?.close();
  await w?.stop();
});

const card = (p: Page) => p.locator(`[data-testid="worktree"][data-worktree-id="${wt.id}"]`);
const panel = (p: Page) => p.getByTestId("session-panel");
const shot = async (p: Page, name: string) => {
  if (SHOTS) await p.screenshot({ path: `/tmp/session-ui-${name}.png` });
};
const sessionsOf = async () =>
  (await api(w.edge.url, `/api/boards/${w.s.boardId}/sessions`, { token: w.s.user.token })).items as Session[];
const messagesOf = async (id: string) =>
  (
    (await api(w.edge.url, `/api/boards/${w.s.boardId}/sessions/${id}/messages`, {
      token: w.s.user.token,
    })) as MessagePage
  ).items;

/** Where a test's time goes, printed with its output (a slow run says which step was slow). */
function stopwatch() {
  const t0 = Date.now();
  return (what: string) => console.log(`${what}: ${Date.now() - t0} ms`);
}

const ANSWER =
  "I will add a notes file for the team. First I look at what is there, then I write NOTES.md with a short line, and then I check it. ".repeat(
    3,
  );
let sessionId = "";

test("Ada starts a session on a card; Grace watches it stream, approves the write, and both see the card change", async () => {
  w.server.script("anthropic", [
    {
      text: ANSWER,
      chunkSize: 6,
      chunkDelayMs: 25,
      toolCalls: [{ name: "write_file", input: { path: "NOTES.md", content: "# Notes\nhello from the agent\n" } }],
    },
    { text: "Done: **NOTES.md** is written.\n\n```md\n# Notes\n```" },
  ]);
  const mark = stopwatch();
  await card(ada).locator('[data-testid="worktree-changed"]', { hasText: "clean" }).waitFor();
  mark("card clean");

  // Ada: "New session" on the card, mode ask, a first prompt.
  await card(ada).hover();
  await card(ada).getByTestId("session-new").click();
  const dialog = ada.getByTestId("start-session");
  await dialog.waitFor();
  // Typing goes straight into the first prompt.
  assert.equal(await ada.evaluate(() => document.activeElement?.getAttribute("data-testid")), "session-prompt");
  assert.equal(await ada.getByTestId("session-model").inputValue(), "claude-sonnet-4-5");
  await ada.getByTestId("session-mode").selectOption("ask");
  await ada.getByTestId("session-title").fill("Notes file");
  await ada.getByTestId("session-prompt").fill("Add a NOTES.md for the team.");
  await shot(ada, "start-dialog");
  await ada.getByTestId("session-start").click();
  await dialog.waitFor({ state: "detached" });
  await panel(ada).waitFor();
  mark("session started");

  // Grace sees the session on the card and opens it while the answer is still being written.
  const row = card(grace).getByTestId("session-row");
  await row.waitFor();
  sessionId = (await row.getAttribute("data-session-id"))!;
  await row.click();
  await panel(grace).waitFor();
  const liveText = panel(grace).locator('[data-testid="message"][data-live="true"] .md');
  await liveText.waitFor({ timeout: 15_000 });
  const early = (await liveText.textContent()) ?? "";
  assert.ok(early.length < ANSWER.length && ANSWER.startsWith(early), `not the answer so far: ${early}`);
  await until("more text streams in", async () => ((await liveText.textContent()) ?? "").length > early.length + 20);
  mark("Grace saw it stream");
  await shot(grace, "streaming");

  // Vic, a viewer, opens it too.
  await card(vic).getByTestId("session-row").click();
  await panel(vic).waitFor();

  // The agent asks to write the file: the card says it waits, for everyone; Grace sees the diff.
  for (const p of [ada, grace, vic]) {
    await card(p).getByTestId("worktree-awaiting").waitFor({ timeout: 15_000 });
    await card(p).locator('[data-testid="session-row"][data-status="awaiting_permission"]').waitFor();
  }
  mark("everyone sees it wait");
  const request = panel(grace).getByTestId("permission");
  await request.waitFor();
  assert.match((await request.textContent())!, /create NOTES\.md/);
  assert.match((await request.getByTestId("diff").textContent())!, /hello from the agent/);
  // Vic sees it but cannot act, and is told why.
  const vicAllow = panel(vic).getByTestId("permission-allow");
  await vicAllow.waitFor();
  assert.equal(await vicAllow.isDisabled(), true);
  assert.match((await vicAllow.getAttribute("title"))!, /viewer/);
  assert.equal(await panel(vic).getByTestId("composer-input").isDisabled(), true);
  assert.equal(await panel(vic).getByTestId("composer-send").isDisabled(), true);
  assert.equal(await panel(vic).getByTestId("session-stop").isDisabled(), true);
  await card(vic).hover();
  assert.equal(await card(vic).getByTestId("session-new").isDisabled(), true);
  assert.equal(readFileSync(join(wt.path!, "src/app.ts"), "utf8"), 'export const greeting = "hello";\n');
  await shot(grace, "permission");

  await request.getByTestId("permission-allow").click();
  await request.waitFor({ state: "detached" });

  // The file lands; the card's changed-file count moves, for Ada too.
  await until("NOTES.md written", () => readFileSync(join(wt.path!, "NOTES.md"), "utf8").includes("hello"));
  for (const p of [ada, grace]) {
    await card(p).locator('[data-testid="worktree-changed"]', { hasText: "1 changed" }).waitFor({ timeout: 15_000 });
  }

  mark("card changed");
  // The transcript: the call with who approved it, then the final answer (markdown rendered).
  for (const p of [ada, grace]) {
    await panel(p).locator('[data-testid="session-status"]', { hasText: "completed" }).waitFor({ timeout: 15_000 });
    const call = panel(p).locator('[data-testid="tool-call"][data-tool="write_file"]');
    await call.waitFor();
    assert.equal(await call.getAttribute("data-state"), "ok");
    assert.match((await call.getByTestId("decision").textContent())!, /Approved once by Grace/);
    const last = panel(p).locator('[data-testid="message"][data-role="assistant"]').last();
    await last.locator("strong", { hasText: "NOTES.md" }).waitFor();
    await last.locator("pre code", { hasText: "# Notes" }).waitFor();
  }
  await card(ada).locator('[data-testid="session-row"][data-status="completed"]').waitFor();
  await ada.getByTestId("board-usage").waitFor();
  assert.match((await ada.getByTestId("board-cost").textContent())!, /^\$/);
  mark("transcript complete");
  await shot(ada, "completed");
});

test("a prompt to a busy session queues, visible to everyone, and is removed; Stop stops it", async () => {
  assert.ok(sessionId);
  w.server.script("anthropic", [{ text: "Working on it. ".repeat(200), chunkSize: 4, chunkDelayMs: 40 }]);
  const input = panel(ada).getByTestId("composer-input");
  await input.fill("Now write a long essay.");
  await panel(ada).getByTestId("composer-send").click();
  await panel(ada).locator('[data-testid="session-status"]', { hasText: "running" }).waitFor({ timeout: 10_000 });
  await panel(ada).locator('[data-testid="message"][data-live="true"]').waitFor({ timeout: 10_000 });

  // The mode can change while it runs; everyone's panel follows.
  await panel(ada).getByTestId("session-mode-select").selectOption("full");
  await until(
    "mode is full",
    async () => (await sessionsOf()).find((s) => s.id === sessionId)?.permissionMode === "full",
  );
  await until(
    "Grace sees the mode",
    async () => (await panel(grace).getByTestId("session-mode-select").inputValue()) === "full",
  );

  // Busy: the next prompt queues, and Grace sees who queued it.
  assert.equal((await panel(ada).getByTestId("composer-send").textContent())?.trim(), "Queue");
  await input.fill("Then shorten it.");
  await input.press("Enter");
  for (const p of [ada, grace]) {
    const item = panel(p).getByTestId("queue-item");
    await item.waitFor();
    assert.match((await item.textContent())!, /Ada.*Then shorten it\./s);
  }
  await shot(ada, "queue");
  await panel(grace).getByTestId("queue-remove").click();
  for (const [who, p] of [
    ["Grace", grace],
    ["Ada", ada],
  ] as const) {
    await until(`the queued prompt gone for ${who}`, async () => {
      const left = await panel(p).getByTestId("queue-item").allTextContents();
      if (left.length) throw new Error(`still queued: ${left.join(" | ")}`);
      return true;
    });
  }

  await panel(ada).getByTestId("session-stop").click();
  for (const p of [ada, grace]) {
    await panel(p).locator('[data-testid="session-status"]', { hasText: "stopped" }).waitFor({ timeout: 5_000 });
  }
  await panel(ada).locator('[data-testid="session-notice"][data-kind="stopped"]').waitFor({ timeout: 5_000 });
});

test("a fork at a message holds that many messages, and shows under its parent on the card", async () => {
  assert.ok(sessionId);
  // The first agent turn with its tool result is one row: forking there holds messages 1…3.
  const row = panel(grace).locator('[data-testid="message"][data-role="assistant"]').first();
  const upTo = Number(await row.getAttribute("data-last-seq"));
  assert.equal(upTo, 3);
  await row.hover();
  await row.getByTestId("message-fork").click();
  await grace.getByTestId("fork-dialog").waitFor();
  await grace.getByTestId("fork-confirm").click();
  await grace.getByTestId("fork-dialog").waitFor({ state: "detached" });

  const fork = await until("the fork exists", async () =>
    (await sessionsOf()).find((s) => s.parentId === sessionId && s.origin === "fork"),
  );
  assert.equal(fork.forkedFromMessageId, (await messagesOf(sessionId))[upTo - 1]!.id);
  assert.equal((await messagesOf(fork.id)).length, upTo);
  // Grace's panel now shows the fork, with its three messages; the card shows it under its parent.
  await grace.locator(`[data-testid="session-panel"][data-session-id="${fork.id}"]`).waitFor();
  await until("fork transcript", async () => (await panel(grace).locator('[data-testid="message"]').count()) === 2);
  for (const p of [ada, grace]) {
    await card(p).locator(`[data-testid="session-row"][data-session-id="${fork.id}"][data-depth="1"]`).waitFor();
  }
  await shot(grace, "fork");

  // A child spawned from the fork's panel runs and shows under it.
  await panel(grace).getByTestId("session-spawn").click();
  await panel(grace).getByTestId("spawn-prompt").fill("Check the notes file.");
  await panel(grace).getByTestId("spawn-confirm").click();
  const child = await until("the child exists", async () =>
    (await sessionsOf()).find((s) => s.parentId === fork.id && s.origin === "spawn"),
  );
  await card(ada).locator(`[data-testid="session-row"][data-session-id="${child.id}"][data-depth="2"]`).waitFor();

  // Ada forks the original into a new worktree: its card appears, made from this one's branch.
  const first = panel(ada).locator('[data-testid="message"][data-role="assistant"]').first();
  await first.hover();
  await first.getByTestId("message-fork").click();
  await ada.getByTestId("fork-new").check();
  await ada.getByTestId("fork-wt-name").fill("greet-fork");
  assert.equal(await ada.getByTestId("fork-wt-branch").inputValue(), "greet-fork");
  assert.equal(await ada.getByTestId("fork-wt-base").inputValue(), wt.branch);
  await ada.getByTestId("fork-confirm").click();
  await ada.getByTestId("fork-dialog").waitFor({ state: "detached" });
  const moved = await until("the fork in a new worktree", async () =>
    (await sessionsOf()).find((s) => s.parentId === sessionId && s.worktreeId !== wt.id),
  );
  // Ada's view goes to the new card; Grace's stays where it was, so she frames the board first.
  await grace.getByRole("button", { name: "Fit the whole board" }).click();
  for (const p of [ada, grace]) {
    const made = p.locator(`[data-testid="worktree"][data-worktree-id="${moved.worktreeId}"]`);
    await made.locator('[data-testid="worktree-name"]', { hasText: "greet-fork" }).waitFor();
    await made.locator(`[data-testid="session-row"][data-session-id="${moved.id}"]`).waitFor();
  }
  await ada
    .locator(`[data-testid="worktree"][data-worktree-id="${moved.worktreeId}"][data-status="ready"]`)
    .waitFor({ timeout: 15_000 });
});

test("the agent's todo list shows in the panel; Always allow lets its next write through; a queued prompt is edited before it runs", async () => {
  await until(
    "no session busy",
    async () => (await sessionsOf()).every((x) => !["running", "queued", "awaiting_permission"].includes(x.status)),
    30_000,
  );
  w.server.script("anthropic", [
    {
      text: "Two files, one after the other.",
      toolCalls: [
        {
          name: "todo_write",
          input: {
            todos: [
              { text: "Write A.md", status: "in_progress" },
              { text: "Write B.md", status: "pending" },
            ],
          },
        },
        { name: "write_file", input: { path: "A.md", content: "a\n" } },
      ],
    },
    { toolCalls: [{ name: "write_file", input: { path: "B.md", content: "b\n" } }] },
    { text: "Both files are written. ".repeat(20), chunkSize: 4, chunkDelayMs: 25 },
    (body) => {
      const asked = JSON.stringify(body.messages);
      return {
        text: asked.includes("Then say hi, twice.") ? "Hi. Hi." : `not the edited prompt: ${asked.slice(-200)}`,
      };
    },
  ]);
  const s = (await api(w.edge.url, `/api/boards/${w.s.boardId}/sessions`, {
    token: w.s.user.token,
    json: {
      worktreeId: wt.id,
      provider: "anthropic",
      model: "claude-sonnet-4-5",
      permissionMode: "ask",
      title: "Two files",
      prompt: "Write A.md, then B.md.",
    },
  })) as Session;
  await card(ada).locator(`[data-testid="session-row"][data-session-id="${s.id}"]`).click();
  const p = ada.locator(`[data-testid="session-panel"][data-session-id="${s.id}"]`);
  await p.waitFor();

  // The todo list the agent wrote, with each item's state.
  const todos = p.getByTestId("todo");
  await p.getByTestId("todos").waitFor({ timeout: 15_000 });
  assert.deepEqual(await todos.allTextContents(), ["▸Write A.md", "○Write B.md"]);
  assert.deepEqual(await todos.evaluateAll((els) => els.map((e) => e.getAttribute("data-status"))), [
    "in_progress",
    "pending",
  ]);

  // Always allow: the first write waits for Ada; the second goes through without asking.
  await p.getByTestId("permission").waitFor({ timeout: 15_000 });
  await p.getByTestId("permission-allow-always").click();
  await until("B.md written", () => readFileSync(join(wt.path!, "B.md"), "utf8") === "b\n");
  const calls = p.locator('[data-testid="tool-call"][data-tool="write_file"]');
  await until("both writes shown", async () => (await calls.count()) === 2);
  assert.match(
    (await calls.first().getByTestId("decision").textContent())!,
    /Approved for the rest of the session by Ada/,
  );
  // Ada's answer, then the session's standing approval (hers): nobody was asked a second time.
  const writes = (await messagesOf(s.id)).flatMap((m) =>
    m.content.flatMap((b) => (b.type === "tool_result" && b.name === "write_file" ? [b.meta?.decision] : [])),
  );
  assert.deepEqual(
    writes.map((d) => [d?.decision, d?.byName]),
    [
      ["allow_always", "Ada"],
      ["allow_always", "Ada"],
    ],
  );

  // While it writes its answer, Ada queues a prompt, then edits it in the queue before it runs.
  await p.locator('[data-testid="message"][data-live="true"]').waitFor({ timeout: 10_000 });
  await p.getByTestId("composer-input").fill("Then say hi.");
  await p.getByTestId("composer-send").click();
  const item = p.getByTestId("queue-item");
  await item.waitFor();
  await item.getByTestId("queue-edit").click();
  await item.getByTestId("queue-edit-input").fill("Then say hi, twice.");
  await item.getByRole("button", { name: "Save" }).click();
  await item.locator('[data-testid="queue-text"]', { hasText: "Then say hi, twice." }).waitFor();
  await p
    .locator('[data-testid="message"][data-role="assistant"]', { hasText: "Hi. Hi." })
    .waitFor({ timeout: 15_000 });
  const prompts = (await messagesOf(s.id)).filter((m) => m.role === "user");
  assert.equal(prompts.length, 2);
  assert.match(JSON.stringify(prompts[1]!.content), /Then say hi, twice\./);
});

// A thousand messages, made for real: ten tasks of fifty quick model calls each (the runner does
// not wait for the edge between calls, so this takes seconds).
test("a 1,000-message transcript opens at once and scrolls smoothly", async () => {
  const owner = w.s.user.token;
  // The spawned child's answer wakes its parent: let that settle, so nothing else takes these turns.
  await until(
    "no session busy",
    async () => (await sessionsOf()).every((x) => !["running", "queued", "awaiting_permission"].includes(x.status)),
    30_000,
  );
  // Nobody watches while it is made: the pages would only compete with the runner for the CPU.
  await Promise.all([ada, grace, vic].map((p) => p.goto("about:blank")));
  const base = `/api/boards/${w.s.boardId}/sessions`;
  const s = (await api(w.edge.url, base, {
    token: owner,
    json: {
      worktreeId: wt.id,
      provider: "anthropic",
      model: "claude-haiku-4-5",
      permissionMode: "full",
      title: "Long",
    },
  })) as Session;
  const turns = [];
  for (let t = 0; t < 10; t++) {
    for (let i = 0; i < 49; i++)
      turns.push({ text: `Looking, step ${i}.`, toolCalls: [{ name: "list_files", input: {} }] });
    turns.push({ text: `Task ${t} done:\n\n- one\n- two\n\n\`\`\`ts\nconst x = ${t};\n\`\`\`` });
  }
  w.server.script("anthropic", turns);
  for (let t = 0; t < 10; t++) {
    await api(w.edge.url, `${base}/${s.id}/prompts`, { token: owner, json: { text: `Task ${t}: look around.` } });
  }
  const made = stopwatch();
  await until(
    "1,000 messages",
    async () => (await sessionsOf()).find((x) => x.id === s.id)?.messageCount === 1000,
    60_000,
  );
  made("1,000 messages made");
  await ada.goto(`${w.edge.url}/b/${w.s.boardId}`);
  await card(ada).locator(`[data-testid="session-row"][data-session-id="${s.id}"]`).waitFor();
  const t0 = Date.now();
  await card(ada).locator(`[data-testid="session-row"][data-session-id="${s.id}"]`).click();
  await panel(ada).locator('[data-testid="message"][data-seq="1000"]').waitFor();
  const openMs = Date.now() - t0;
  const drawn = await panel(ada).locator('[data-testid="message"]').count();
  // Scroll from the end to the top over a second, counting frames.
  const { frames, ms } = await panel(ada)
    .getByTestId("transcript")
    .evaluate(async (el) => {
      const start = performance.now();
      let frames = 0;
      const from = el.scrollTop;
      await new Promise<void>((done) => {
        const step = () => {
          frames++;
          const f = Math.min(1, (performance.now() - start) / 1000);
          el.scrollTop = from * (1 - f);
          if (f < 1) requestAnimationFrame(step);
          else done();
        };
        requestAnimationFrame(step);
      });
      return { frames, ms: performance.now() - start };
    });
  await panel(ada).locator('[data-testid="message"][data-seq="1"]').waitFor();
  const fps = Math.round((frames * 1000) / ms);
  console.log(`long transcript: open_ms=${openMs} rows_in_dom=${drawn} scroll_fps=${fps}`);
  assert.ok(openMs < 3000, `opened in ${openMs} ms`);
  assert.ok(drawn < 120, `${drawn} rows in the DOM`);
  await shot(ada, "long");
});

test("a provider the runner cannot serve is offered disabled, saying what to set", async () => {
  // The runner starts again without its Anthropic key (last: the sessions above need it).
  w.runner.kill();
  await w.runner.exited;
  const bare = w.s.start([], { ...providerEnv(w.server), ANTHROPIC_API_KEY: undefined });
  await bare.waitFor(/connected to /);
  await until("the runner says it has no Anthropic key", async () => {
    const list = await w.s.api<{ items: Runner[] }>("/api/runners");
    return list.items
      .find((r) => r.id === w.s.runnerId)
      ?.info.agents?.some((a) => a.provider === "anthropic" && !a.ready);
  });
  await ada.reload();
  await card(ada).hover();
  await card(ada).getByTestId("session-new").click();
  const dialog = ada.getByTestId("start-session");
  await dialog.waitFor();
  assert.equal(await ada.getByTestId("session-provider-anthropic").isDisabled(), true);
  assert.equal(
    (await ada.getByTestId("session-provider-why-anthropic").textContent())?.trim(),
    "runner 'test-runner' has no ANTHROPIC_API_KEY: set it and restart the runner",
  );
  // The other provider is offered and picked instead.
  assert.equal(await ada.getByTestId("session-provider-openai").isDisabled(), false);
  // Picked once the dialog has the runner's readiness, a moment after it opens.
  await until("the other provider picked", () => ada.getByTestId("session-provider-openai").isChecked());
  await ada.keyboard.press("Escape");
  await dialog.waitFor({ state: "detached" });
});
