/**
 * Agent stream benchmark (issue 7, DESIGN "Budgets": agent text delta, model server → board client,
 * p99 < 100 ms added by Trellis; board canvas renders while 5 sessions stream < 10 per second).
 *
 *   npm run bench:stream -- [--sessions 20] [--seconds 10] [--chunk-ms 20] [--browser-sessions 5] [--browser-seconds 10]
 *
 * A real edge (`wrangler dev`), the bundled runner (`runner/dist/cli.js`) started as a child with its
 * providers pointed at the scripted model server (test/model-server.ts, in this process), a real git
 * repo and worktrees. Phase 1: `--sessions` sessions on one board stream at once, each text delta
 * one unique 8-character token, while a board client (a WebSocket of the board room, as the CLI
 * opens one) watches them all; each token is timed from the model server writing it to the client
 * receiving it, and a token written but never received is lost. The runner's RSS and CPU are read
 * from /proc meanwhile. Phase 2: the board open in Chromium (`?bench=1` turns on the canvas's
 * render counter, web/src/lib/renderCount.ts) while `--browser-sessions` sessions stream.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import WebSocket from "ws";
import type { ServerMessage, StreamFrame } from "../../protocol/index.ts";
import { makeRepo } from "../../runner/test/git-fixtures.ts";
import { launchChromium } from "../../test/chromium.ts";
import { startModelServer } from "../../test/model-server.ts";
import { api, ROOT, registerUser, startTrellis } from "../../test/server.ts";
import { intOptions } from "../lib/args.ts";
import { onCleanup, withDeadline } from "../lib/cleanup.ts";
import { processCpuMs, watchChildCpu, watchMachineCpu } from "../lib/proc-cpu.ts";
import { watchProcessLoad } from "../lib/process-load.ts";
import { formatFigure as f, note, printFigures } from "../lib/report.ts";
import { Samples } from "../lib/stats.ts";

declare global {
  interface Window {
    /** The board canvas's render count, kept by web/src/lib/renderCount.ts on `?bench=1`. */
    __trellisCanvasRenders?: number;
  }
}

const BUDGET_P99_MS = 100;
const BUDGET_RENDERS_PER_S = 10;
/** Every delta the model server writes is one token of exactly this many characters. */
const TOKEN = 8;
const WORKTREES = 4;
const MODEL = "claude-sonnet-4-5";

const opts = intOptions(
  { sessions: 20, seconds: 10, "chunk-ms": 20, "browser-sessions": 5, "browser-seconds": 10 },
  "npm run bench:stream -- [--sessions N] [--seconds S] [--chunk-ms MS] [--browser-sessions N] [--browser-seconds S]",
);
if (opts.sessions < 1 || opts.seconds < 1 || opts["chunk-ms"] < 1 || opts["browser-sessions"] > opts.sessions) {
  console.error("need --sessions ≥ 1, --seconds ≥ 1, --chunk-ms ≥ 1 and --browser-sessions ≤ --sessions");
  process.exit(2);
}

/** As bench:presence: wrangler's local trace store fsyncs every invocation, which the deployed edge never does. */
process.env.X_LOCAL_OBSERVABILITY ??= "false";

const NODE = join(ROOT, "node_modules/.bin/node");
const CLI = join(ROOT, "runner/dist/cli.js");
const now = () => performance.timeOrigin + performance.now();

function rssMb(pid: number): number {
  const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+) kB/m);
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/** A text of `count` unique tokens, `TOKEN` characters each: `T<run><session><n> `. */
function tokens(run: string, session: number, count: number): string {
  let s = "";
  for (let i = 0; i < count; i++) s += `${run}${String(session).padStart(2, "0")}${String(i).padStart(4, "0")} `;
  return s;
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, ms = 30_000) {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
}

/** The board client: watches sessions, times each token it receives against when it was written. */
class BoardClient {
  readonly latency = new Samples();
  readonly received = new Set<string>();
  frames = 0;
  batches = 0;
  /** Tokens whose stream piece came after their stored message (see below). */
  fromMessages = 0;
  ended = new Set<string>();
  private readonly ws: WebSocket;
  private readonly written: Map<string, number>;

  /** Latency by the second of the run it was received in, to tell a steady tail from a few stalls. */
  readonly perSecond: Samples[] = [];
  startedAt = 0;
  private readonly pinger: NodeJS.Timeout;

  constructor(ws: WebSocket, written: Map<string, number>) {
    this.ws = ws;
    this.written = written;
    // The room ends a socket that has not pinged for 20 s, as it would a closed laptop.
    this.pinger = setInterval(() => ws.send("ping"), 5000);
    ws.on("message", (data: Buffer) => {
      const at = now();
      const raw = data.toString();
      if (raw === "pong") return;
      const msg = JSON.parse(raw) as ServerMessage;
      if (msg.type === "stream") this.take([msg], at);
      else if (msg.type === "streams") {
        this.batches++;
        this.take(msg.pieces, at);
      } else if (msg.type === "entity" && msg.entity === "message" && msg.row?.role === "assistant") {
        // A piece that reaches the room after its stored message is dropped there (the message
        // holds its text): its tokens count as received with the message, at the message's time.
        const text = msg.row.content.map((b) => (b.type === "text" ? b.text : "")).join("");
        const before = this.received.size;
        this.take([{ sessionId: msg.row.sessionId, messageId: msg.row.id, seq: 0, part: "text", delta: text }], at);
        this.fromMessages += this.received.size - before;
        this.frames--;
      } else if (msg.type === "entity" && msg.entity === "task" && msg.row) {
        if (["completed", "failed", "stopped"].includes(msg.row.status)) this.ended.add(msg.row.id);
      }
    });
  }

  static open(base: string, boardId: string, token: string): Promise<WebSocket> {
    const ws = new WebSocket(`${base.replace(/^http/, "ws")}/parties/board-room/${boardId}?v=1`, {
      headers: { authorization: `Bearer ${token}` },
      perMessageDeflate: false,
    });
    return new Promise((resolve, reject) => {
      ws.once("error", reject);
      ws.once("message", () => resolve(ws));
    });
  }

  watch(ids: string[]) {
    this.ws.send(JSON.stringify({ type: "watch", sessionIds: ids }));
  }

  private take(pieces: StreamFrame[], at: number) {
    for (const p of pieces) {
      this.frames++;
      if (p.part !== "text" || !p.delta) continue;
      for (let i = 0; i + TOKEN <= p.delta.length; i += TOKEN) {
        const token = p.delta.slice(i, i + TOKEN);
        if (this.received.has(token)) continue;
        this.received.add(token);
        const sent = this.written.get(token);
        if (sent === undefined) continue;
        this.latency.add(at - sent);
        const second = Math.max(0, Math.floor((at - this.startedAt) / 1000));
        const bucket = this.perSecond[second] ?? new Samples();
        this.perSecond[second] = bucket;
        bucket.add(at - sent);
      }
    }
  }

  close() {
    clearInterval(this.pinger);
    this.ws.terminate();
  }
}

async function main() {
  execFileSync(NODE, [join(ROOT, "runner/build.ts")], { stdio: "inherit" });
  const [edge, model] = await Promise.all([startTrellis(), startModelServer()]);
  onCleanup(() => edge.stop());
  onCleanup(() => model.close());
  const written = new Map<string, number>();
  model.onDelta = (text, at) => {
    for (let i = 0; i + TOKEN <= text.length; i += TOKEN) written.set(text.slice(i, i + TOKEN), at);
  };

  const user = await registerUser(edge.url, "Bench");
  const call = <T>(path: string, json?: unknown) => api<T>(edge.url, path, { token: user.token, json });
  const board = await call<{ id: string }>("/api/boards", { name: "stream bench" });
  const reg = await call<{ runner: { id: string }; registrationToken: string }>("/api/runners", {
    name: "bench-runner",
  });
  const runnerId = reg.runner.id;
  const dir = mkdtempSync(join(tmpdir(), "trellis-bench-stream-"));
  onCleanup(async () => rmSync(dir, { recursive: true, force: true }));
  const env = {
    ...process.env,
    TRELLIS_CONFIG_DIR: join(dir, "config"),
    TRELLIS_DATA_DIR: join(dir, "data"),
    ANTHROPIC_BASE_URL: model.anthropicUrl,
    ANTHROPIC_API_KEY: "sk-ant-bench",
  };
  execFileSync(NODE, [CLI, "register", "--url", edge.url, "--token", reg.registrationToken], { env, stdio: "ignore" });
  await call(`/api/runners/${runnerId}/boards`, { boardId: board.id });

  let output = "";
  const runner: ChildProcess = spawn(NODE, [CLI, "start", "--concurrency", String(Math.min(64, opts.sessions + 2))], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  runner.stdout!.setEncoding("utf8").on("data", (d: string) => (output += d));
  runner.stderr!.setEncoding("utf8").on("data", (d: string) => (output += d));
  onCleanup(async () => {
    if (runner.exitCode !== null) return;
    const exited = new Promise((r) => runner.once("exit", r));
    runner.kill("SIGKILL");
    await exited;
  });
  await until("the runner connected", () => {
    if (runner.exitCode !== null) throw new Error(`the runner exited:\n${output}`);
    return output.includes("connected to");
  });

  const repoPath = makeRepo(join(dir, "project"), { "README.md": "bench\n" });
  const repo = await call<{ id: string }>(`/api/runners/${runnerId}/repos`, {
    name: "project",
    source: { kind: "path", path: repoPath },
  });
  await until("repo ready", async () => {
    const r = (await call<{ items: { id: string; status: string }[] }>(`/api/runners/${runnerId}/repos`)).items;
    return r.find((x) => x.id === repo.id)?.status === "ready";
  });
  await until("the runner reports its providers", async () => {
    const list = await call<{ items: { id: string; info: { agents?: { provider: string; ready: boolean }[] } }[] }>(
      "/api/runners",
    );
    return list.items.find((x) => x.id === runnerId)?.info.agents?.some((a) => a.provider === "anthropic" && a.ready);
  });
  const wts = await Promise.all(
    Array.from({ length: WORKTREES }, (_, i) =>
      call<{ id: string }>(`/api/boards/${board.id}/worktrees`, {
        repoId: repo.id,
        name: `agents-${i}`,
        branch: `agents-${i}`,
      }),
    ),
  );
  await until("worktrees ready", async () => {
    const page = await call<{ items: { id: string; status: string }[] }>(`/api/boards/${board.id}/worktrees`);
    return wts.every((w) => page.items.find((x) => x.id === w.id)?.status === "ready");
  });
  const sessions: { id: string }[] = [];
  for (let i = 0; i < opts.sessions; i++) {
    sessions.push(
      await call(`/api/boards/${board.id}/sessions`, {
        worktreeId: wts[i % WORKTREES]!.id,
        provider: "anthropic",
        model: MODEL,
        permissionMode: "full",
        title: `agent ${i}`,
      }),
    );
  }
  note(
    `edge ${edge.url}, runner ${runnerId}, ${opts.sessions} sessions on ${WORKTREES} worktrees; local trace store ` +
      (process.env.X_LOCAL_OBSERVABILITY === "false" ? "off" : "on"),
  );

  const client = new BoardClient(await BoardClient.open(edge.url, board.id, user.token), written);
  onCleanup(async () => client.close());
  client.watch(sessions.map((s) => s.id));
  await sleep(300);

  /** Prompt these sessions at once, each streaming its own tokens; resolves when every task ended. */
  const stream = async (run: string, ids: string[], seconds: number) => {
    const count = Math.round((seconds * 1000) / opts["chunk-ms"]);
    model.script(
      "anthropic",
      ids.map((_, i) => ({ text: tokens(run, i, count), chunkSize: TOKEN, chunkDelayMs: opts["chunk-ms"] })),
    );
    const t0 = performance.now();
    const tasks = await Promise.all(
      ids.map((id, i) => call<{ id: string }>(`/api/boards/${board.id}/sessions/${id}/prompts`, { text: `Go ${i}.` })),
    );
    await until(`${ids.length} tasks ended`, () => tasks.every((t) => client.ended.has(t.id)), seconds * 1000 + 60_000);
    return { tasks, seconds: (performance.now() - t0) / 1000, tokens: count * ids.length };
  };

  // ---- phase 1: every session streaming at once, timed at the board client ----
  const proc = watchProcessLoad();
  const children = watchChildCpu();
  const machine = watchMachineCpu();
  let peakRss = 0;
  const rssTimer = setInterval(() => {
    peakRss = Math.max(peakRss, rssMb(runner.pid!));
  }, 250);
  const cpu0 = processCpuMs(runner.pid!);
  const w0 = performance.now();
  client.startedAt = now();
  const one = await stream(
    "A",
    sessions.map((s) => s.id),
    opts.seconds,
  );
  const runnerCpuPct = ((processCpuMs(runner.pid!) - cpu0) / (performance.now() - w0)) * 100;
  clearInterval(rssTimer);
  peakRss = Math.max(peakRss, rssMb(runner.pid!));
  await sleep(1000); // anything still on the way
  const self = proc.stop();
  const childCpu = children.stop();
  const machinePct = machine.stop();
  const writtenA = [...written.keys()].filter((t) => t.startsWith("A"));
  const lostA = writtenA.filter((t) => !client.received.has(t)).length;
  const lat = client.latency.summary();
  note(
    `phase 1: ${opts.sessions} sessions × ${one.tokens / opts.sessions} deltas (one per ${opts["chunk-ms"]} ms each, ` +
      `${f((opts.sessions * 1000) / opts["chunk-ms"])} deltas/s) in ${f(one.seconds)} s; ${writtenA.length} written, ` +
      `${client.latency.count} received (${client.fromMessages} of them first in their stored message), ${lostA} lost; ` +
      `${client.frames} pieces in ${client.batches} batched frames`,
  );
  note(
    `phase 1: model server write → board client ms p50=${f(lat.p50)} p95=${f(lat.p95)} p99=${f(lat.p99)} ` +
      `max=${f(lat.max)} mean=${f(lat.mean)} (the runner's 16 ms coalescing window is part of it)`,
  );
  note(
    `phase 1: p99 ms for each second of the run: ${client.perSecond.map((x) => (x ? f(x.summary().p99) : "-")).join(" ")}`,
  );
  note(`phase 1: runner rss peak ${f(peakRss)} MB, cpu ${f(runnerCpuPct)}% of a core`);
  const busy = Object.entries(childCpu)
    .filter(([, pct]) => pct >= 1)
    .map(([comm, pct]) => `${comm}=${f(pct)}%`);
  note(
    `phase 1: bench process cpu ${f(self.cpuPct)}% (it is the model server and the client), event-loop lag ms ` +
      `p99=${f(self.lagP99Ms)} max=${f(self.lagMaxMs)}; started processes ${busy.join(" ")}; machine ` +
      `${f(machinePct)}% of ${cpus().length * 100}%`,
  );

  // ---- phase 2: the board in Chromium while a few sessions stream ----
  const browser = await launchChromium(["--disable-renderer-backgrounding", "--disable-background-timer-throttling"]);
  onCleanup(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const login = await context.request.post(`${edge.url}/api/auth/login`, {
    data: { email: user.email, password: user.password },
  });
  if (!login.ok()) throw new Error(`login failed: ${login.status()} ${await login.text()}`);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  // The first streaming session's panel is open, as a person watching an agent has it: its pieces
  // reach the page, and must reach only the panel.
  const watched = sessions[0]!.id;
  await page.goto(`${edge.url}/b/${board.id}?bench=1&session=${watched}`);
  await page.waitForFunction(() => (window.__trellisCanvasRenders ?? 0) > 0, undefined, { timeout: 20_000 });
  await page.locator('[data-testid="session-panel"]').waitFor({ timeout: 20_000 });
  await page.waitForTimeout(2000);
  const renders = () => page.evaluate(() => window.__trellisCanvasRenders ?? 0);
  const idle0 = await renders();
  await page.waitForTimeout(2000);
  const idlePerS = ((await renders()) - idle0) / 2;
  const r0 = await renders();
  const two = await stream(
    "B",
    sessions.slice(0, opts["browser-sessions"]).map((s) => s.id),
    opts["browser-seconds"],
  );
  const canvasRenders = (await renders()) - r0;
  const panelText = (await page.locator('[data-testid="transcript"]').textContent()) ?? "";
  const panelTokens = [...written.keys()].filter((t) => t.startsWith("B") && panelText.includes(t)).length;
  const rendersPerS = canvasRenders / two.seconds;
  await sleep(500);
  const writtenB = [...written.keys()].filter((t) => t.startsWith("B"));
  const lostB = writtenB.filter((t) => !client.received.has(t)).length;
  note(
    `phase 2: board open in Chromium while ${opts["browser-sessions"]} sessions streamed for ${f(two.seconds)} s: ` +
      `${canvasRenders} canvas renders (${f(rendersPerS)}/s; ${f(idlePerS)}/s before the prompts); ` +
      `${writtenB.length} deltas written, ${lostB} lost at the board client`,
  );
  note(
    `phase 2: the page has session ${watched}'s panel open (its transcript shows ${panelTokens} of the streamed ` +
      "tokens) and gets every session's and task's entity events, as every open board does; stream pieces go " +
      "only to the open panel's view, never the canvas",
  );
  if (errors.length) note(`PAGE ERRORS: ${errors.join(" | ")}`);
  note(
    `budgets: p99 < ${BUDGET_P99_MS} ms (${lat.p99 < BUDGET_P99_MS ? "met" : "MISSED"}), lost 0 ` +
      `(${lostA + lostB === 0 ? "met" : "MISSED"}), canvas < ${BUDGET_RENDERS_PER_S} renders/s ` +
      `(${rendersPerS < BUDGET_RENDERS_PER_S ? "met" : "MISSED"})`,
  );
  await context.close();
  printFigures("stream", {
    p50_ms: lat.p50,
    p99_ms: lat.p99,
    lost: lostA + lostB,
    rss_mb: peakRss,
    canvas_renders_per_s: rendersPerS,
  });
}

await withDeadline(10 * 60_000, main);
