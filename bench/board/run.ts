/**
 * Board benchmark (issue 3, DESIGN "Budgets": a board of 3,000 worktree cards, cold mount in Chromium
 * < 1.5 s to interactive, ≥ 50 fps panning).
 *
 *   npm run bench:board -- [--cards 3000] [--zones 30] [--seconds 5] [--runs 3]
 *
 * Starts a real edge (`wrangler dev`), seeds a board's rows straight into its local D1, then opens
 * the board cold in headless Chromium (a new browser context each run: no HTTP cache, no state) and
 * measures, from navigation start, the frame after every page of cards is loaded and drawn. Then it
 * pans with wheel events, one per animation frame, and counts the frames the page produced.
 */
import { cpus } from "node:os";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { launchChromium } from "../../test/chromium.ts";
import { api, registerUser, startTrellis } from "../../test/server.ts";
import { intOptions } from "../lib/args.ts";
import { onCleanup, withDeadline } from "../lib/cleanup.ts";
import { watchChildCpu, watchMachineCpu } from "../lib/proc-cpu.ts";
import { formatFigure as f, note, printFigures } from "../lib/report.ts";
import { percentile } from "../lib/stats.ts";
import { idleFps, installMountProbe, type MountMarks, type PanResult, pan, zoomTo } from "./page.ts";
import { seed } from "./seed.ts";

const BUDGET_MOUNT_MS = 1500;
const BUDGET_FPS = 50;

const opts = intOptions(
  { cards: 3000, zones: 30, seconds: 5, runs: 3 },
  "npm run bench:board -- [--cards N] [--zones N] [--seconds S] [--runs N]",
);
if (opts.zones < 1 || opts.runs < 1 || opts.seconds < 1) {
  console.error("need --zones ≥ 1, --runs ≥ 1 and --seconds ≥ 1");
  process.exit(2);
}

/**
 * Headless Chromium paces animation frames like a 60 Hz display, so `pan_fps` reads like a
 * laptop's (60 at best). Software rendering (`--disable-gpu`, in the shared flags) is the slower,
 * honest case here. On top of those flags: keep a hidden or backgrounded page drawing at full rate.
 */
const CHROMIUM_ARGS = [
  "--disable-renderer-backgrounding",
  "--disable-background-timer-throttling",
  "--disable-backgrounding-occluded-windows",
];
const VIEWPORT = { width: 1440, height: 900 };

async function openCold(browser: Browser, url: string, email: string, password: string) {
  const context = await browser.newContext({ viewport: VIEWPORT });
  // Log in through the API: the refresh cookie lands in this context, as after a real login.
  const login = await context.request.post(`${url}/api/auth/login`, { data: { email, password } });
  if (!login.ok()) throw new Error(`login failed: ${login.status()} ${await login.text()}`);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  const requests: string[] = [];
  page.on("request", (r) => {
    if (new URL(r.url()).pathname.startsWith("/api/"))
      requests.push(new URL(r.url()).pathname + new URL(r.url()).search);
  });
  await page.addInitScript(installMountProbe);
  return { context, page, errors, requests };
}

async function mountOnce(page: Page, boardUrl: string): Promise<MountMarks> {
  await page.goto(boardUrl, { waitUntil: "commit" });
  return page.evaluate(() => window.__mount!);
}

/** No API request for `quietMs`: the board's second read (after joining its room) is done. */
async function settle(page: Page, requests: string[], quietMs = 600, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  let seen = requests.length;
  let since = Date.now();
  while (Date.now() < deadline) {
    await page.waitForTimeout(100);
    if (requests.length !== seen) {
      seen = requests.length;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) return;
  }
}

function summarizePan(name: string, r: PanResult) {
  const fps = (r.frames * 1000) / r.elapsedMs;
  const sorted = Float64Array.from(r.frameMs).sort();
  const slow = r.frameMs.filter((ms) => ms > 1000 / BUDGET_FPS).length;
  note(
    `${name}: ${f(fps)} fps (${r.frames} frames in ${f(r.elapsedMs / 1000)} s) at zoom ${f(r.zoom)}; frame ms ` +
      `p50=${f(percentile(sorted, 50))} p95=${f(percentile(sorted, 95))} p99=${f(percentile(sorted, 99))} ` +
      `max=${f(sorted.at(-1) ?? Number.NaN)}; ${slow} frames over ${f(1000 / BUDGET_FPS)} ms; ` +
      `up to ${r.cardsInDomMax} cards in the DOM`,
  );
  return fps;
}

async function main() {
  const edge = await startTrellis();
  onCleanup(() => edge.stop());
  const user = await registerUser(edge.url, "Bench");
  const me = await api<{ id: string }>(edge.url, "/api/me", { token: user.token });
  const board = await api<{ id: string }>(edge.url, "/api/boards", { token: user.token, json: { name: "Big board" } });
  const t0 = performance.now();
  const seeded = seed(edge.stateDir, { boardId: board.id, userId: me.id, cards: opts.cards, zones: opts.zones });
  // The API's own view of it, paged as the board pages it.
  let count = 0;
  let cursor: string | null = null;
  do {
    const page: { items: unknown[]; nextCursor: string | null } = await api(
      edge.url,
      `/api/boards/${board.id}/worktrees?limit=500${cursor ? `&cursor=${cursor}` : ""}`,
      { token: user.token },
    );
    count += page.items.length;
    cursor = page.nextCursor;
  } while (cursor);
  if (count !== opts.cards) throw new Error(`seeded ${opts.cards} cards but the API lists ${count}`);
  note(
    `seeded ${count} worktree cards in ${opts.zones} zones (board ${f(seeded.bounds.width)} × ${f(seeded.bounds.height)} ` +
      `canvas px) in ${f((performance.now() - t0) / 1000)} s; edge ${edge.url}`,
  );

  const browser = await launchChromium(CHROMIUM_ARGS);
  onCleanup(() => browser.close());
  const boardUrl = `${edge.url}/b/${board.id}`;

  const mounts: MountMarks[] = [];
  let last: { context: BrowserContext; page: Page; errors: string[]; requests: string[] } | null = null;
  const machine = watchMachineCpu();
  const children = watchChildCpu();
  for (let i = 0; i < opts.runs; i++) {
    await last?.context.close();
    last = await openCold(browser, edge.url, user.email, user.password);
    const m = await mountOnce(last.page, boardUrl);
    mounts.push(m);
    const cardReads = last.requests.filter((r) => r.includes("/worktrees")).length;
    note(
      `cold mount ${i + 1}: first cards ${f(m.firstCard)} ms, all ${opts.cards} loaded ${f(m.loaded)} ms, ` +
        `interactive ${f(m.interactive)} ms; ${m.cardsInDom} card nodes in the DOM; ${cardReads} card page requests; ` +
        `long tasks ${m.longTasks} (${f(m.longTaskMs)} ms)`,
    );
  }
  const { page, requests, errors } = last!;
  await settle(page, requests);
  const biggest = requests.reduce((n, r) => Math.max(n, Number(/[?&]limit=(\d+)/.exec(r)?.[1] ?? 0)), 0);
  const unbounded = requests.filter((r) => r.includes("/worktrees") && !/[?&]limit=\d+/.test(r));
  note(
    `requests after settling: ${requests.length} API calls, card pages of at most ${biggest}` +
      (unbounded.length ? `, ${unbounded.length} WITHOUT a limit` : ", none unbounded"),
  );

  const idle = await page.evaluate(idleFps, 1000);
  note(
    `idle page: ${f(idle)} fps: headless Chromium paces frames like a 60 Hz display, so that is the most any pan ` +
      "can show; software rendering (--disable-gpu) on this machine's cores",
  );

  const across = {
    seconds: opts.seconds,
    speed: 1400,
    path: [
      [1, 0.15],
      [1, -0.15],
    ],
  };
  /** Back to the whole board, then zoom around a spot in the first zone (it stays put on screen). */
  const zoomAt = async (...steps: number[]) => {
    await page.getByRole("button", { name: "Fit the whole board" }).click();
    await page.waitForTimeout(400);
    let z = Number.NaN;
    for (const target of steps) z = await page.evaluate(zoomTo, { target, x: 700, y: 800 });
    await page.waitForTimeout(300);
    return z;
  };

  // 1. The view the board opens with: the whole board, every card drawn on the overview canvas.
  const overview = summarizePan(
    "pan, whole board in view (cards on the overview canvas)",
    await page.evaluate(pan, {
      seconds: opts.seconds,
      speed: 500,
      path: [
        [1, 0],
        [0, 1],
        [-1, 0],
        [0, -1],
      ],
    }),
  );
  // 2. Zoomed out but close enough for names: the canvas at its busiest (names and branches).
  const zCanvas = await zoomAt(0.55);
  const canvas = summarizePan(
    `pan across the board at zoom ${f(zCanvas)} (canvas, names drawn)`,
    await page.evaluate(pan, across),
  );
  // 3. Cards as real nodes, at the farthest zoom they stay nodes (coming in from closer, past the
  //    switch back to the canvas): the most card nodes on screen, mounting and unmounting every frame.
  const zCards = await zoomAt(1, 0.62);
  const cards = summarizePan(
    `pan across the board at zoom ${f(zCards)} (card nodes)`,
    await page.evaluate(pan, across),
  );
  // 4. Reading distance.
  const zNear = await zoomAt(1);
  const near = summarizePan(`pan across the board at zoom ${f(zNear)} (card nodes)`, await page.evaluate(pan, across));
  const cpu = machine.stop();
  const servers = children.stop();
  const busy = Object.entries(servers)
    .filter(([, pct]) => pct >= 1)
    .map(([comm, pct]) => `${comm}=${f(pct)}%`)
    .join(" ");
  note(`machine cpu ${f(cpu)}% of ${cpus().length * 100}% over the browser phases; started processes: ${busy}`);
  if (errors.length) note(`PAGE ERRORS: ${errors.join(" | ")}`);

  const sorted = mounts.map((m) => m.interactive).sort((a, b) => a - b);
  const mountMs = sorted[Math.floor(sorted.length / 2)]!;
  const panFps = Math.min(overview, canvas, cards, near);
  note(
    `mount_ms is the median of ${opts.runs} cold opens (navigation start → the frame after all cards are loaded and drawn); ` +
      `pan_fps is the slowest of the four pans. Budgets: mount < ${BUDGET_MOUNT_MS} ms ` +
      `(${mountMs < BUDGET_MOUNT_MS ? "met" : "MISSED"}), pan ≥ ${BUDGET_FPS} fps (${panFps >= BUDGET_FPS ? "met" : "MISSED"})`,
  );
  printFigures("board", {
    mount_ms: mountMs,
    first_cards_ms: mounts.map((m) => m.firstCard).sort((a, b) => a - b)[Math.floor(mounts.length / 2)]!,
    pan_fps: panFps,
    pan_overview_fps: overview,
    pan_canvas_fps: canvas,
    pan_cards_fps: cards,
    pan_near_fps: near,
    cards: opts.cards,
  });
}

await withDeadline(240_000, main);
