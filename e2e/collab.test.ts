/**
 * Working together on the board, end to end: real Chromium (Debian's), a real Worker (`wrangler
 * dev`), a real runner whose Anthropic provider talks through the real SDK to the scripted model
 * server (the one stand-in), and real git worktrees. Two people in two browser contexts:
 *
 * - Ada gives a zone a `new session` trigger in its editor (a bad template is refused as typed)
 *   and drops a card into it; both see the session start with the rendered prompt, and the panel
 *   says which zone started it.
 * - Ada mentions Bea Lee in a comment on the card (autocomplete inserts the full name); Bea's bell
 *   counts it, and clicking it opens the thread.
 * - A session waiting for permission pulses the card for both and changes the tab's title and
 *   favicon.
 * - Bea follows Ada from the facepile: Bea's view moves when Ada pans, and stops when Bea pans,
 *   zooms with the zoom buttons or clicks the minimap.
 * - A finished session pulses the card for both; Bea opening it clears the pulse for her alone.
 * - Bea on the boards list: her bell counts Ada's mention live (from her inbox, no re-read), and
 *   Mark all read clears it.
 * - The chime is Bea's own: off by default, kept by a fresh browser once she turns it on, and it
 *   plays (the page's AudioContext counted) for a permission request; clicking the request in the
 *   bell opens it on the board, where she approves it.
 * - The tab says when agents run, and when one failed.
 * - Threads: another on a card that has one (from its badge), on a zone (from the panel's outline,
 *   which nests zones → worktrees → sessions), on the board unpinned and pinned with the canvas
 *   tool; edit and delete one's own (never another's), resolve, show resolved, reopen; a viewer
 *   comments too.
 * - A copied link to a comment opens Bea's board there: centred on the pin, or on the card with
 *   the session's panel at the message.
 * - An `ask` zone shows Ada (and only Ada) its prompt to edit and send, or cancel; a `latest
 *   session` zone sends its prompt to the card's latest session.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import type { Comment, Session, Worktree, Zone } from "../protocol/index.ts";
import { readyWorktree, until, type World, world } from "../runner/test/session-kit.ts";
import { api } from "../test/server.ts";
import { launchChromium, logIn, PASSWORD } from "./people.ts";

let w: World;
let browser: Browser;
let wt: Worktree;
let zone: Zone;
let askZone: Zone;
let latestZone: Zone;
let ada: Page;
let bea: Page;
/** A viewer, who comments too. */
let cy: Page;
let boardUrl: string;
const SHOTS = !!process.env.TRELLIS_COLLAB_SHOTS;

before(async () => {
  [w, browser] = await Promise.all([world("Ada", { "src/app.ts": "export const x = 1;\n" }), launchChromium()]);
  const owner = w.s.user as unknown as { email: string; token: string };
  // A name with a space: a mention is the whole name.
  const b = { email: `bea-${process.pid}-${Date.now()}@example.com` };
  const c = { email: `cy-${process.pid}-${Date.now()}@example.com` };
  for (const [who, name, role] of [
    [b, "Bea Lee", "member"],
    [c, "Cy", "viewer"],
  ] as const) {
    await api(w.edge.url, "/api/auth/register", { json: { email: who.email, password: PASSWORD, name } });
    await api(w.edge.url, `/api/boards/${w.s.boardId}/members`, {
      token: owner.token,
      json: { email: who.email, role },
    });
  }
  const newZone = (json: Record<string, unknown>) =>
    api<Zone>(w.edge.url, `/api/boards/${w.s.boardId}/zones`, { token: owner.token, json });
  const trigger = { provider: "anthropic", model: "claude-sonnet-4-5", permissionMode: "full" };
  [zone, askZone, latestZone] = await Promise.all([
    newZone({ name: "Review", x: 0, y: 0, width: 480, height: 320 }),
    newZone({
      name: "Ask",
      x: 0,
      y: 400,
      width: 480,
      height: 320,
      promptTemplate: "Check {{worktree.name}} in {{zone.name}}",
      trigger: { ...trigger, behaviour: "ask" },
    }),
    newZone({
      name: "Latest",
      x: 620,
      y: 400,
      width: 480,
      height: 320,
      promptTemplate: "Carry on with {{worktree.branch}}",
      trigger: { ...trigger, behaviour: "latest_session" },
    }),
  ]);
  const made = await readyWorktree(w, "feature");
  wt = await api(w.edge.url, `/api/boards/${w.s.boardId}/worktrees/${made.id}`, {
    method: "PATCH",
    token: owner.token,
    json: { x: 620, y: 100 },
  });
  [ada, bea, cy] = await Promise.all([
    logIn(browser, w.edge.url, owner.email),
    logIn(browser, w.edge.url, b.email),
    logIn(browser, w.edge.url, c.email),
  ]);
  boardUrl = `${w.edge.url}/b/${w.s.boardId}`;
  await Promise.all([ada, bea].map((p) => p.goto(boardUrl)));
  await Promise.all([ada, bea].map((p) => p.locator('[data-testid="connection"][data-status="connected"]').waitFor()));
  await Promise.all([ada, bea].map((p) => p.locator('[data-testid="canvas"][data-loaded="true"]').waitFor()));
});

after(async () => {
  await browser?.close();
  await w?.stop();
});

const card = (p: Page) => p.locator(`[data-testid="worktree"][data-worktree-id="${wt.id}"]`);
const zoneEl = (p: Page) => p.locator(`[data-testid="zone"][data-zone-id="${zone.id}"]`);
const shot = async (p: Page, name: string) => {
  if (SHOTS) await p.screenshot({ path: `/tmp/collab-${name}.png` });
};
const box = async (l: ReturnType<Page["locator"]>) => {
  const b = await l.boundingBox();
  assert.ok(b, "element on screen");
  return b;
};
const sessionsOf = async () =>
  (await api(w.edge.url, `/api/boards/${w.s.boardId}/sessions`, { token: w.s.user.token })).items as Session[];
const allComments = async () =>
  (await api(w.edge.url, `/api/boards/${w.s.boardId}/comments`, { token: w.s.user.token })).items as Comment[];
const sessionComments = async (sessionId: string) =>
  (await allComments()).filter((c) => c.target === "session" && c.targetId === sessionId);
const transformOf = (p: Page) =>
  p.evaluate(() => document.querySelector<HTMLElement>(".react-flow__viewport")!.style.transform);
/** The view's transform once it has stopped moving. */
const settled = (p: Page) =>
  until("the view settles", async () => {
    const a = await transformOf(p);
    await p.waitForTimeout(150);
    return a === (await transformOf(p)) ? a : undefined;
  });
/** Where a flow point is on screen, from React Flow's viewport transform, against the canvas's middle. */
const offCentre = async (p: Page, at: { x: number; y: number }) => {
  const m = /translate\(([-\d.e]+)px, ([-\d.e]+)px\) scale\(([-\d.e]+)\)/.exec(await transformOf(p));
  assert.ok(m, "a viewport transform");
  const [tx, ty, zoom] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const pane = await box(p.locator(".react-flow"));
  return Math.hypot(tx + at.x * zoom - pane.width / 2, ty + at.y * zoom - pane.height / 2);
};
/** Drag the card by its name into a zone's middle, as a person does. */
const dragInto = async (p: Page, target: ReturnType<Page["locator"]>) => {
  const c = await box(card(p).getByTestId("worktree-name"));
  const z = await box(target);
  await p.mouse.move(c.x + 20, c.y + 6);
  await p.mouse.down();
  await p.mouse.move(z.x + z.width / 2, z.y + z.height / 2, { steps: 10 });
  await p.mouse.up();
};
const openBoard = async (pages: Page[], url = boardUrl) => {
  await Promise.all(pages.map((p) => p.goto(url)));
  await Promise.all(pages.map((p) => p.locator('[data-testid="canvas"][data-loaded="true"]').waitFor()));
};
/** Side panels closed and the whole board in view, for a drag. */
const fitBoard = async (p: Page) => {
  if (await p.getByTestId("session-close").count()) await p.getByTestId("session-close").click();
  if (await p.getByTestId("comments-panel").count()) await p.getByTestId("comments-button").click();
  await p.getByRole("button", { name: "Fit the whole board" }).click();
  await settled(p);
};

test("a zone's new-session trigger: set in its editor, fired by a drop, seen by both with the rendered prompt", async () => {
  w.server.script("anthropic", [{ text: "Reviewed: looks fine." }]);
  // Ada selects the zone and opens its trigger editor.
  await zoneEl(ada).getByTestId("zone-name").click();
  await ada.getByTestId("zone-trigger").click();
  const dialog = ada.getByTestId("trigger-dialog");
  await dialog.waitFor();
  await ada.getByTestId("trigger-behaviour-new_session").click();
  assert.equal(await ada.getByTestId("trigger-behaviour-new_session").getAttribute("aria-pressed"), "true");
  // The template is checked as it is typed, in the edge's words.
  await ada.getByTestId("trigger-template").fill("Review {{worktree.nam}}");
  assert.match((await ada.getByTestId("trigger-problem").textContent())!, /unknown variable \{\{worktree\.nam\}\}/);
  assert.equal(await ada.getByTestId("trigger-save").isDisabled(), true);
  await ada.getByTestId("trigger-template").fill("Review ");
  await ada.locator('[data-testid="trigger-variable"][data-variable="worktree.name"]').click();
  await ada.getByTestId("trigger-template").press("End");
  await ada.getByTestId("trigger-template").pressSequentially(" on {{worktree.branch}}, for {{user.name}}.");
  assert.equal(
    await ada.getByTestId("trigger-template").inputValue(),
    "Review {{worktree.name}} on {{worktree.branch}}, for {{user.name}}.",
  );
  await ada.getByTestId("trigger-mode").selectOption("full");
  await shot(ada, "trigger-editor");
  await ada.getByTestId("trigger-save").click();
  await dialog.waitFor({ state: "detached" });
  // Both see the zone's badge, which says what it does.
  for (const p of [ada, bea]) {
    const badge = zoneEl(p).getByTestId("zone-trigger-badge");
    await badge.waitFor();
    assert.match((await badge.getAttribute("title"))!, /starts a new session/);
  }

  // Ada drags the card into the zone.
  await dragInto(ada, zoneEl(ada));
  const started = await until("the trigger's session", async () =>
    (await sessionsOf()).find((s) => s.worktreeId === wt.id && s.zoneId === zone.id),
  );
  assert.equal((await sessionsOf()).filter((s) => s.zoneId === zone.id).length, 1, "one drop, one session");

  // Both see it start on the card, and its first prompt is the template rendered for this card.
  for (const p of [ada, bea]) {
    const row = card(p).locator(`[data-testid="session-row"][data-session-id="${started.id}"]`);
    await row.waitFor({ timeout: 15_000 });
    await row.click();
    const panel = p.locator(`[data-testid="session-panel"][data-session-id="${started.id}"]`);
    await panel.waitFor();
    await panel
      .locator('[data-testid="message"][data-role="user"]', { hasText: "Review feature on feature, for Ada." })
      .waitFor({ timeout: 15_000 });
    assert.match((await panel.getByTestId("session-zone").textContent())!, /started by zone Review/);
  }
  // Watched to its end: it does not call either of them afterwards.
  for (const p of [ada, bea]) {
    await p
      .locator('[data-testid="session-panel"] [data-testid="session-status"]', { hasText: "completed" })
      .waitFor({ timeout: 15_000 });
  }
  await shot(bea, "trigger-session");

  for (const p of [ada, bea]) await p.getByTestId("session-close").click();
});

test("Ada mentions Bea in a comment on the card; Bea's bell counts it and opens the thread", async () => {
  await card(ada).hover();
  await card(ada).getByTestId("comment-badge").click();
  await ada.getByTestId("comment-new").waitFor();
  const input = ada.getByTestId("comment-input");
  await input.pressSequentially("Could you check this, @be");
  await ada.locator('[data-testid="mention-option"][data-name="Bea Lee"]').waitFor();
  await input.press("Enter");
  await input.pressSequentially("please?");
  assert.equal(await input.inputValue(), "Could you check this, @Bea Lee please?");
  await ada.getByTestId("comment-input-send").click();
  const thread = ada.getByTestId("comment-thread");
  await thread.waitFor();
  const threadId = (await thread.getAttribute("data-thread-id"))!;
  await thread.locator(".c-mention", { hasText: "@Bea Lee" }).waitFor();
  // The card shows its open thread, for both.
  for (const p of [ada, bea]) await card(p).locator('[data-testid="comment-badge"][data-count="1"]').waitFor();

  // Bea's bell, live.
  await bea.locator('[data-testid="bell-count"]', { hasText: "1" }).waitFor({ timeout: 10_000 });
  await shot(bea, "bell-count");
  await bea.getByTestId("bell").click();
  const item = bea.locator('[data-testid="bell-item"][data-kind="mention"]');
  await item.waitFor();
  await shot(bea, "bell-list");
  await item.getByTestId("bell-open").click();
  // The link opens that thread in focus (the focus lands a moment after the panel opens).
  await bea.locator(`[data-testid="comment-thread"][data-thread-id="${threadId}"].focused`).waitFor();
  await bea.getByTestId("bell-count").waitFor({ state: "detached" });

  // Bea replies and reacts; Ada sees both.
  await bea.getByTestId("comment-reply").click();
  await bea.getByTestId("reply-input").fill("On it.");
  await bea.getByTestId("reply-input-send").click();
  const first = bea.locator(`[data-testid="comment"]`).first();
  await first.hover();
  await first.getByTestId("comment-react").click();
  await bea.locator('[data-testid="reaction-pick"][data-emoji="👍"]').click();
  await ada.locator('[data-testid="comment-body"]', { hasText: "On it." }).waitFor();
  await ada.locator('[data-testid="reaction"][data-emoji="👍"]', { hasText: "1" }).waitFor();
  await shot(ada, "thread");
  await ada.getByTestId("comments-button").click();
});

test("a session waiting for permission pulses the card for both and marks the tab", async () => {
  w.server.script("anthropic", [
    { text: "Writing the file.", toolCalls: [{ name: "write_file", input: { path: "N.md", content: "n\n" } }] },
    { text: "Done." },
  ]);
  const s = await api<Session>(w.edge.url, `/api/boards/${w.s.boardId}/sessions`, {
    token: w.s.user.token,
    json: {
      worktreeId: wt.id,
      provider: "anthropic",
      model: "claude-sonnet-4-5",
      permissionMode: "ask",
      prompt: "Write N.md",
    },
  });
  for (const p of [ada, bea]) {
    await p
      .locator(`[data-testid="worktree"][data-worktree-id="${wt.id}"][data-attention="permission"]`)
      .waitFor({ timeout: 20_000 });
    await until("the tab says an agent waits", async () => (await p.title()).startsWith("● "));
    assert.equal(await p.locator('link[rel="icon"]').getAttribute("data-state"), "needs-you");
    const href = (await p.locator('link[rel="icon"]').getAttribute("href"))!;
    assert.match(href, /^data:image\/png;base64,/);
  }
  await shot(bea, "attention");
  const pending = await until("the request", async () => (await sessionsOf()).find((x) => x.id === s.id)?.pending[0]);
  await api(w.edge.url, `/api/boards/${w.s.boardId}/sessions/${s.id}/permissions/${pending.requestId}`, {
    token: w.s.user.token,
    json: { decision: "allow" },
  });
  await until("completed", async () => (await sessionsOf()).find((x) => x.id === s.id)?.status === "completed");
  // Answered: the card no longer calls anyone for a permission, and the tabs say so.
  for (const p of [ada, bea]) {
    await p
      .locator(`[data-testid="worktree"][data-worktree-id="${wt.id}"]:not([data-attention="permission"])`)
      .waitFor({ timeout: 15_000 });
    await until("the tab no longer says an agent waits", async () => !(await p.title()).startsWith("● "));
  }
});

test("Bea follows Ada's view from the facepile, until she pans or zooms herself", async () => {
  const transform = transformOf;
  // Room to look around: the side panels closed.
  for (const p of [ada, bea]) {
    if (await p.getByTestId("session-close").count()) await p.getByTestId("session-close").click();
    if (await p.getByTestId("comments-panel").count()) await p.getByTestId("comments-button").click();
  }
  await bea.locator('[data-testid="facepile-peer"][data-name="Ada"]').click();
  await bea.getByTestId("follow-banner").waitFor();
  assert.match((await bea.getByTestId("follow-banner").textContent())!, /Following Ada/);
  const before = await transform(bea);
  // Ada pans with the wheel over the canvas.
  const canvas = await box(ada.getByTestId("canvas"));
  await ada.mouse.move(canvas.x + canvas.width / 2, canvas.y + canvas.height - 60);
  for (let i = 0; i < 5; i++) {
    await ada.mouse.wheel(120, 80);
    await ada.waitForTimeout(40);
  }
  const adaView = await settled(ada);
  await until("Bea's view follows Ada's", async () => (await transform(bea)) === adaView, 10_000);
  assert.notEqual(adaView, before);
  await shot(bea, "following");

  // Bea pans: following stops, and Ada's next move no longer moves her.
  const bc = await box(bea.getByTestId("canvas"));
  await bea.mouse.move(bc.x + bc.width / 2, bc.y + bc.height - 60);
  await bea.mouse.wheel(0, 120);
  await bea.getByTestId("follow-banner").waitFor({ state: "detached" });
  const mine = await settled(bea);
  await ada.mouse.wheel(-200, 0);
  await ada.waitForTimeout(500);
  assert.equal(await transform(bea), mine);

  // The zoom buttons and the minimap move the view without a pointer on the canvas: they are
  // Bea's own moves too, and stop following, while the follow's own easing never does.
  const follows = async () => {
    await bea.locator('[data-testid="facepile-peer"][data-name="Ada"]').click();
    await bea.getByTestId("follow-banner").waitFor();
    const theirs = await settled(ada);
    await until("Bea's view is Ada's", async () => (await transform(bea)) === theirs, 10_000);
    // Ada moves on; Bea still follows once the easing is done.
    await ada.mouse.wheel(60, 0);
    const next = await settled(ada);
    await until("Bea's view follows again", async () => (await transform(bea)) === next, 10_000);
    assert.equal(await bea.getByTestId("follow-banner").count(), 1);
  };
  await follows();
  const zoomed = await transform(bea);
  await bea.locator(".react-flow__controls-zoomin").click();
  await bea.getByTestId("follow-banner").waitFor({ state: "detached" });
  const afterZoom = await settled(bea);
  assert.notEqual(afterZoom, zoomed, "the button zoomed");
  await ada.mouse.wheel(-120, 0);
  await ada.waitForTimeout(400);
  assert.equal(await transform(bea), afterZoom, "no longer following");

  await follows();
  const mm = await box(bea.getByTestId("minimap"));
  await bea.mouse.click(mm.x + mm.width * 0.3, mm.y + mm.height * 0.3);
  await bea.getByTestId("follow-banner").waitFor({ state: "detached" });

  // Ctrl + wheel (a trackpad's pinch) zooms: hers too.
  await follows();
  await bea.mouse.move(bc.x + bc.width / 2, bc.y + bc.height / 2);
  await bea.keyboard.down("Control");
  await bea.mouse.wheel(0, -100);
  await bea.keyboard.up("Control");
  await bea.getByTestId("follow-banner").waitFor({ state: "detached" });
});

test("a comment on one message of a session shows on that message, for both", async () => {
  const s = (await sessionsOf()).find((x) => x.zoneId === zone.id)!;
  // A link to the session opens its panel.
  await Promise.all([ada, bea].map((p) => p.goto(`${w.edge.url}/b/${w.s.boardId}?session=${s.id}`)));
  const prompt = (p: Page) =>
    p.locator('[data-testid="session-panel"] [data-testid="message"][data-role="user"]').first();
  await prompt(ada).waitFor({ timeout: 15_000 });
  await prompt(ada).hover();
  await prompt(ada).getByTestId("message-comment").click();
  await ada.getByTestId("comment-new").getByText("(one message)").waitFor();
  await ada.getByTestId("comment-input").fill("Is this the prompt we want for reviews?");
  await ada.getByTestId("comment-input-send").click();
  await prompt(bea).locator('[data-testid="message-comment"][data-count="1"]').waitFor({ timeout: 15_000 });
  const onMessage = (await sessionComments(s.id)).filter((c) => c.messageId);
  assert.equal(onMessage.length, 1, "one thread, on the message");
  assert.equal(onMessage[0]!.body, "Is this the prompt we want for reviews?");
});

// ---- attention, the bell on any page, and the chime (one person's own) ----

/** Counts the chime's tones in the page: the browser's AudioContext stood in for, Trellis's own code untouched. */
function countTones() {
  const w = window as unknown as { __tones: number; AudioContext: unknown };
  w.__tones = 0;
  const param = { value: 0, setValueAtTime() {}, exponentialRampToValueAtTime() {} };
  w.AudioContext = class {
    currentTime = 0;
    destination = {};
    createOscillator() {
      w.__tones++;
      return { type: "sine", frequency: { ...param }, connect: (n: unknown) => n, start() {}, stop() {} };
    }
    createGain() {
      return { gain: { ...param }, connect: (n: unknown) => n };
    }
  };
}
/** One chime is two notes. */
const chimes = async (p: Page) => (await p.evaluate(() => (window as unknown as { __tones: number }).__tones)) / 2;
const unread = async (p: Page) =>
  (await p.getByTestId("bell-count").count()) ? Number(await p.getByTestId("bell-count").textContent()) : 0;
const beaEmail = async () =>
  (
    (await api(w.edge.url, `/api/boards/${w.s.boardId}/members`, { token: w.s.user.token })).items as {
      name: string;
      email: string;
    }[]
  ).find((m) => m.name === "Bea Lee")!.email;

test("a finished session pulses the card for both; Bea opening it clears the pulse for her alone", async () => {
  const asked = (await sessionsOf()).find((x) => x.permissionMode === "ask" && x.status === "completed")!;
  for (const p of [ada, bea]) {
    await p
      .locator(`[data-testid="worktree"][data-worktree-id="${wt.id}"][data-attention="finished"]`)
      .waitFor({ timeout: 10_000 });
  }
  await card(bea).locator(`[data-testid="session-row"][data-session-id="${asked.id}"]`).click();
  await bea.locator(`[data-testid="session-panel"][data-session-id="${asked.id}"]`).waitFor();
  await bea.locator(`[data-testid="worktree"][data-worktree-id="${wt.id}"][data-attention=""]`).waitFor();
  // Stored for Bea on the edge, for nobody else: Ada's card still calls her.
  const beaToken = (await api(w.edge.url, "/api/auth/login", { json: { email: await beaEmail(), password: PASSWORD } }))
    .accessToken as string;
  await until(
    "Bea's look is kept",
    async () => (await api(w.edge.url, `/api/boards/${w.s.boardId}/seen`, { token: beaToken }))[asked.id],
  );
  assert.equal(await card(ada).getAttribute("data-attention"), "finished");
  assert.equal(
    (await api(w.edge.url, `/api/boards/${w.s.boardId}/seen`, { token: w.s.user.token }))[asked.id],
    undefined,
  );
  await bea.getByTestId("session-close").click();
});

test("Bea on the boards list: her bell moves live when Ada mentions her, and Mark all read clears it", async () => {
  await bea.context().addInitScript(countTones);
  await bea.goto(`${w.edge.url}/`);
  await bea.locator('[data-testid="bell"][data-live="true"]').waitFor();
  const before = await unread(bea);
  // Live, not re-read: the count moves with no request for the list.
  let reads = 0;
  const onRequest = (r: { url(): string; method(): string }) => {
    if (r.method() === "GET" && new URL(r.url()).pathname === "/api/me/notifications") reads++;
  };
  bea.on("request", onRequest);
  await api(w.edge.url, `/api/boards/${w.s.boardId}/comments`, {
    token: w.s.user.token,
    json: { body: "@Bea Lee the list page hears this too", target: "board" },
  });
  await bea.locator('[data-testid="bell-count"]', { hasText: String(before + 1) }).waitFor({ timeout: 10_000 });
  bea.off("request", onRequest);
  assert.equal(reads, 0, "the bell counted it from the inbox, without re-reading");

  await bea.getByTestId("bell").click();
  await bea.locator('[data-testid="bell-item"][data-kind="mention"][data-read="false"]').first().waitFor();
  await bea.getByTestId("bell-read-all").click();
  await bea.getByTestId("bell-count").waitFor({ state: "detached" });
  assert.equal(await bea.locator('[data-testid="bell-item"][data-read="false"]').count(), 0);
  await bea.keyboard.press("Escape");
});

test("the chime: off by default; Bea turns it on, every browser of hers keeps it, and it plays when an agent asks her", async () => {
  w.server.script("anthropic", [
    { text: "First file.", toolCalls: [{ name: "write_file", input: { path: "C1.md", content: "1\n" } }] },
    { text: "Second file.", toolCalls: [{ name: "write_file", input: { path: "C2.md", content: "2\n" } }] },
    { text: "Both written." },
  ]);
  await bea.getByTestId("user-menu").click();
  assert.equal(await bea.getByTestId("chime-toggle").getAttribute("aria-checked"), "false");
  await bea.keyboard.press("Escape");
  const s = await api<Session>(w.edge.url, `/api/boards/${w.s.boardId}/sessions`, {
    token: w.s.user.token,
    json: {
      worktreeId: wt.id,
      provider: "anthropic",
      model: "claude-sonnet-4-5",
      permissionMode: "ask",
      title: "Two files",
      prompt: "Write C1.md and C2.md",
    },
  });
  const pendingOf = async () => (await sessionsOf()).find((x) => x.id === s.id)?.pending[0];
  // The first request reaches Bea on the boards list (her bell was cleared); with the chime off, nothing plays.
  const first = await until("the first request", pendingOf, 20_000);
  await bea.locator('[data-testid="bell-count"]', { hasText: "1" }).waitFor({ timeout: 10_000 });
  assert.equal(await chimes(bea), 0, "off by default: no chime");

  // Bea turns it on (it plays once, so she hears what she chose); a fresh browser of hers has it on.
  await bea.getByTestId("user-menu").click();
  await bea.getByTestId("chime-toggle").click();
  await until(
    "the toggle says on",
    async () => (await bea.getByTestId("chime-toggle").getAttribute("aria-checked")) === "true",
  );
  assert.equal(await chimes(bea), 1);
  await bea.keyboard.press("Escape");
  const elsewhere = await logIn(browser, w.edge.url, await beaEmail());
  await elsewhere.context().addInitScript(countTones);
  await elsewhere.reload();
  await elsewhere.locator('[data-testid="bell"][data-live="true"]').waitFor();
  await elsewhere.getByTestId("user-menu").click();
  await until(
    "the new browser has it on",
    async () => (await elsewhere.getByTestId("chime-toggle").getAttribute("aria-checked")) === "true",
  );
  await elsewhere.keyboard.press("Escape");

  // The next request plays in both of Bea's browsers.
  await api(w.edge.url, `/api/boards/${w.s.boardId}/sessions/${s.id}/permissions/${first.requestId}`, {
    token: w.s.user.token,
    json: { decision: "allow" },
  });
  const second = await until(
    "the second request",
    async () => {
      const p = await pendingOf();
      return p && p.requestId !== first.requestId ? p : undefined;
    },
    20_000,
  );
  await until("it plays in the new browser", async () => (await chimes(elsewhere)) === 1);
  await until("and in the first", async () => (await chimes(bea)) === 2);

  // Clicking the request in the bell goes to it: the board, the session open, the request on screen.
  await elsewhere.getByTestId("bell").click();
  await elsewhere
    .locator('[data-testid="bell-item"][data-kind="permission"][data-read="false"]')
    .first()
    .getByTestId("bell-open")
    .click();
  await until("on the board", async () => new URL(elsewhere.url()).pathname === `/b/${w.s.boardId}`);
  const panel = elsewhere.locator(`[data-testid="session-panel"][data-session-id="${s.id}"]`);
  await panel.locator(`[data-testid="permission"][data-request-id="${second.requestId}"]`).waitFor({ timeout: 15_000 });
  await panel.getByTestId("permission-allow").click();
  await until("completed", async () => (await sessionsOf()).find((x) => x.id === s.id)?.status === "completed");
  await elsewhere.context().close();
});

test("the tab says when agents are running, and when one failed", async () => {
  const start = (title: string) =>
    api<Session>(w.edge.url, `/api/boards/${w.s.boardId}/sessions`, {
      token: w.s.user.token,
      json: { worktreeId: wt.id, provider: "anthropic", model: "claude-sonnet-4-5", title, prompt: title },
    });
  const iconState = () => ada.locator('link[rel="icon"]').getAttribute("data-state");
  w.server.script("anthropic", [{ text: "Taking my time over this one.", chunkDelayMs: 100, chunkSize: 2 }]);
  const slow = await start("Slow");
  await until(
    "the tab says agents run",
    async () => (await ada.title()).startsWith("▸ ") && (await iconState()) === "running",
  );
  await until("done", async () => (await sessionsOf()).find((x) => x.id === slow.id)?.status === "completed");
  await until("the tab is quiet again", async () => (await iconState()) === "idle");

  w.server.script("anthropic", [{ fault: "401" }]);
  const bad = await start("Bad key");
  await until("failed", async () => (await sessionsOf()).find((x) => x.id === bad.id)?.status === "failed");
  await until(
    "the tab says one failed",
    async () => (await ada.title()).startsWith("✕ ") && (await iconState()) === "failed",
  );
  await ada.locator(`[data-testid="worktree"][data-worktree-id="${wt.id}"][data-attention="failed"]`).waitFor();
});

const place = (p: Page, key: string) => p.locator(`[data-testid="comments-place"][data-key="${key}"]`);
const threadWith = (p: Page, text: string) => p.locator('[data-testid="comment-thread"]', { hasText: text });
const commentWith = (p: Page, text: string) => p.locator('[data-testid="comment"]', { hasText: text });
const send = async (p: Page, body: string) => {
  await p.getByTestId("comment-new").waitFor();
  await p.getByTestId("comment-input").fill(body);
  await p.getByTestId("comment-input-send").click();
  await threadWith(p, body).waitFor();
};
const rootWith = async (body: string) => {
  const c = (await allComments()).find((x) => x.body === body && !x.threadId);
  assert.ok(c, `a thread "${body}"`);
  return c;
};

test("threads: another where one is open, on a zone from the outline, on the board pinned or not; edit, delete, resolve", async () => {
  const reviewed = (await sessionsOf()).find((x) => x.zoneId === zone.id)!;
  await openBoard([ada, bea]);
  // The card counts its own thread and the one on its session's message.
  for (const p of [ada, bea]) await card(p).locator('[data-testid="comment-badge"][data-count="2"]').waitFor();

  // A second thread on the card, from its badge.
  await card(ada).hover();
  await card(ada).getByTestId("comment-badge-new").click();
  await send(ada, "A second thread on the card.");
  for (const p of [ada, bea]) await card(p).locator('[data-testid="comment-badge"][data-count="3"]').waitFor();
  assert.equal((await allComments()).filter((c) => c.target === "worktree" && !c.threadId).length, 2);

  // The outline: the zone holds the card, the card its session; each says how many are open.
  const zonePlace = place(ada, `zone:${zone.id}`);
  const cardPlace = zonePlace.locator(`[data-testid="comments-place"][data-key="worktree:${wt.id}"]`);
  await cardPlace.locator(`[data-testid="comments-place"][data-key="session:${reviewed.id}"]`).waitFor();
  const count = (l: ReturnType<Page["locator"]>) =>
    l.locator(":scope > .c-place-head").getByTestId("comments-place-count");
  assert.equal(await count(zonePlace).textContent(), "3");
  assert.equal(await count(cardPlace).textContent(), "3");
  assert.equal(await cardPlace.locator(':scope > [data-testid="comment-thread"]').count(), 2);
  await shot(ada, "outline");

  // A thread on the zone, from its place in the outline.
  await zonePlace.locator(":scope > .c-place-head").getByTestId("comments-place-new").click();
  await send(ada, "Everything in Review waits for Bea.");
  await zoneEl(bea).locator('[data-testid="comment-badge"][data-count="1"]').waitFor();
  assert.equal((await rootWith("Everything in Review waits for Bea.")).target, "zone");

  // A board thread pinned nowhere, from the panel's header.
  await ada.getByTestId("comments-new-board").click();
  await send(ada, "Notes for the whole board.");
  const unpinned = await rootWith("Notes for the whole board.");
  assert.deepEqual([unpinned.target, unpinned.x], ["board", null]);
  await place(ada, "board:").locator(`[data-thread-id="${unpinned.id}"]`).waitFor();

  // The comment tool pins one where Ada clicks on the canvas.
  await ada.getByTestId("comment-tool").click();
  const canvas = await box(ada.getByTestId("canvas"));
  await ada.getByTestId("comment-placing").click({ position: { x: canvas.width * 0.45, y: canvas.height * 0.8 } });
  // (A pin is a point: what shows is its dot.)
  await ada.locator('[data-testid="comment-pin-draft"] .comment-pin-dot').waitFor();
  await send(ada, "Pinned here.");
  for (const p of [ada, bea]) await p.locator('[data-testid="comment-pin"] .comment-pin-dot').waitFor();
  const pin = await rootWith("Pinned here.");
  assert.ok(pin.target === "board" && pin.x !== null && pin.y !== null, "a pinned board thread");

  // Ada edits her own comment; Bea sees it edited.
  await commentWith(ada, "Pinned here.").hover();
  await commentWith(ada, "Pinned here.").getByTestId("comment-edit").click();
  await ada.getByTestId("comment-edit-input").fill("Pinned right here.");
  await ada.getByTestId("comment-edit-input-send").click();
  await bea.getByTestId("comments-button").click();
  await commentWith(bea, "Pinned right here.").getByText("edited").waitFor();

  // Nobody edits another's comment; Bea (a member) deletes only her own, Ada (the owner) any.
  const adas = commentWith(bea, "Could you check this");
  const beas = commentWith(bea, "On it.");
  await beas.waitFor();
  assert.equal(await adas.getByTestId("comment-edit").count(), 0);
  assert.equal(await adas.getByTestId("comment-delete").count(), 0);
  assert.equal(await beas.getByTestId("comment-edit").count(), 1);
  assert.equal(await commentWith(ada, "On it.").getByTestId("comment-edit").count(), 0);
  assert.equal(await commentWith(ada, "On it.").getByTestId("comment-delete").count(), 1);
  await beas.hover();
  await beas.getByTestId("comment-delete").click();
  await bea.getByTestId("confirm-ok").click();
  await commentWith(ada, "On it.").waitFor({ state: "detached" });

  // Ada resolves the board's notes: gone from Bea's list, back with "show resolved", and reopened.
  const notes = (p: Page) => p.locator(`[data-testid="comment-thread"][data-thread-id="${unpinned.id}"]`);
  await notes(ada).getByTestId("comment-resolve").click();
  await notes(bea).waitFor({ state: "detached" });
  await bea.getByTestId("comments-show-resolved").check();
  await bea.locator(`[data-thread-id="${unpinned.id}"][data-resolved="true"]`).waitFor();
  await notes(bea).getByTestId("comment-reopen").click();
  await ada.locator(`[data-thread-id="${unpinned.id}"][data-resolved="false"]`).waitFor();
  await bea.getByTestId("comments-show-resolved").uncheck();

  // Cy only views the board, and comments all the same: another thread on the card.
  await openBoard([cy]);
  await card(cy).hover();
  await card(cy).getByTestId("comment-badge-new").click();
  await send(cy, "Seen from the viewer's seat: fine.");
  await commentWith(ada, "Seen from the viewer's seat: fine.").waitFor();
  // Not Cy's to resolve, nor to edit.
  const others = threadWith(cy, "A second thread on the card.");
  assert.equal(await others.getByTestId("comment-resolve").count(), 0);
  assert.equal(await others.getByTestId("comment-edit").count(), 0);
  await cy.context().close();
});

test("a copied link to a comment opens Bea's board at its place, the thread shown", async () => {
  await ada.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: w.edge.url });
  const copy = async (text: string) => {
    const c = commentWith(ada, text);
    await c.hover();
    await c.getByTestId("comment-copy-link").click();
    return ada.evaluate(() => navigator.clipboard.readText());
  };
  const pin = await rootWith("Pinned right here.");
  const link = await copy("Pinned right here.");
  assert.equal(link, `${boardUrl}?comment=${pin.id}`);
  await openBoard([bea], link);
  const shown = bea.locator(`[data-testid="comment-thread"][data-thread-id="${pin.id}"][data-focused="true"]`);
  await shown.waitFor();
  assert.equal(await bea.evaluate(() => document.activeElement?.getAttribute("data-thread-id")), pin.id);
  await until("the view is centred on the pin", async () => (await offCentre(bea, { x: pin.x!, y: pin.y! })) < 3);

  // A comment on a session's message: the card in the middle, the session open at that message.
  const onMessage = (await allComments()).find((c) => c.messageId && !c.threadId)!;
  const messageLink = await copy("Is this the prompt we want for reviews?");
  assert.equal(messageLink, `${boardUrl}?comment=${onMessage.id}`);
  await openBoard([bea], messageLink);
  const panel = bea.locator(`[data-testid="session-panel"][data-session-id="${onMessage.targetId}"]`);
  await panel
    .locator(`[data-testid="message"][data-message-id="${onMessage.messageId}"][data-targeted="true"]`)
    .waitFor();
  await bea.locator(`[data-testid="comment-thread"][data-thread-id="${onMessage.id}"][data-focused="true"]`).waitFor();
  // The card's box on screen, against the canvas's.
  await until("the card is in the middle", async () => {
    const [c, pane] = await Promise.all([box(card(bea)), box(bea.locator(".react-flow"))]);
    return (
      Math.hypot(c.x + c.width / 2 - (pane.x + pane.width / 2), c.y + c.height / 2 - (pane.y + pane.height / 2)) < 3
    );
  });
  await shot(bea, "link");
});

test("an ask zone shows the dropper its prompt to edit and send, or cancel; a latest-session zone prompts the latest", async () => {
  const askEl = (p: Page) => p.locator(`[data-testid="zone"][data-zone-id="${askZone.id}"]`);
  const latestEl = (p: Page) => p.locator(`[data-testid="zone"][data-zone-id="${latestZone.id}"]`);
  const asked = async () => (await sessionsOf()).filter((x) => x.zoneId === askZone.id);
  const messagesOf = async (id: string) =>
    (await api(w.edge.url, `/api/boards/${w.s.boardId}/sessions/${id}/messages`, { token: w.s.user.token })).items as {
      role: string;
      content: { type: string; text?: string }[];
    }[];
  const prompts = async (id: string) =>
    (await messagesOf(id)).filter((m) => m.role === "user").map((m) => m.content.map((b) => b.text ?? "").join(""));
  w.server.script("anthropic", [{ text: "Checked." }, { text: "Carried on." }]);
  await fitBoard(ada);

  // Ada drops the card in Ask: she, and only she, sees its prompt rendered for the card.
  await dragInto(ada, askEl(ada));
  const dialog = ada.getByTestId("zone-ask");
  await dialog.waitFor();
  assert.equal(await ada.getByTestId("zone-ask-prompt").inputValue(), "Check feature in Ask");
  await bea.waitForTimeout(300);
  assert.equal(await bea.getByTestId("zone-ask").count(), 0, "the ask is the dropper's alone");
  await shot(ada, "ask");
  await ada.getByTestId("zone-ask-prompt").fill("Check feature in Ask, and the tests.");
  await ada.getByTestId("zone-ask-send").click();
  await dialog.waitFor({ state: "detached" });
  const [started] = await until("the asked session", async () => {
    const xs = await asked();
    return xs.length ? xs : undefined;
  });
  assert.deepEqual(await prompts(started!.id), ["Check feature in Ask, and the tests."]);
  await until(
    "it answered",
    async () => (await sessionsOf()).find((x) => x.id === started!.id)?.status === "completed",
  );

  // Into Latest: its prompt goes to the card's latest session, the one just asked.
  await fitBoard(ada);
  await dragInto(ada, latestEl(ada));
  await until("the latest session got the prompt", async () =>
    (await prompts(started!.id)).includes("Carry on with feature") ? true : undefined,
  );
  assert.equal((await sessionsOf()).filter((x) => x.zoneId === latestZone.id).length, 0, "no new session");

  // Back into Ask, and Ada cancels: nothing is sent.
  const before = (await sessionsOf()).length;
  await fitBoard(ada);
  await dragInto(ada, askEl(ada));
  await dialog.waitFor();
  await ada.getByTestId("zone-ask-cancel").click();
  await dialog.waitFor({ state: "detached" });
  await ada.waitForTimeout(300);
  assert.equal((await sessionsOf()).length, before, "a cancelled ask sends nothing");
});
