/**
 * Shared terminal benchmark (issue 10, DESIGN "Budgets": keystroke → echo through the edge p99 <
 * 30 ms on loopback; ≥ 10 MB/s output to 3 viewers; memory growth < 50 MB). A real edge
 * (`wrangler dev`), the bundled runner (`runner/dist/cli.js`) with real tmux and a real git
 * worktree, and viewers that open the same ticketed socket the board's panel opens
 * (`test/terminal-client.ts`: the same frames, the same acknowledgements).
 *
 *   npm run bench:terminal -- [--keys 1000] [--mb 50] [--viewers 3]
 *
 * Two phases on one terminal:
 * - latency: `cat >/dev/null` runs in the shell and one viewer, rendering with @xterm/headless as the
 *   panel's xterm does, types `--keys` single letters one at a time, each timed from its `input`
 *   frame to the letter being on that viewer's screen (the tty's echo, back through tmux, the
 *   runner, the link and the edge);
 * - throughput: `--viewers` viewers (counting, not rendering) watch while the shell runs `cat` of a
 *   `--mb` MB file of numbered lines; each viewer's characters over its own time from the command
 *   to the marker printed after it. Every line carries its number, so lines a viewer never got
 *   are counted. Three passes: at 80x24 (tmux drops and redraws a flood it cannot write at once),
 *   at 500x300 (tmux's drop threshold is then 1.2 MB, so the path through Trellis is what is
 *   measured; `mb_per_s` is this pass), and at 500x300 with the file paced at 10 MB/s.
 * The runner's and workerd's RSS are read before and after the throughput phase.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Repo, Terminal, Worktree } from "../../protocol/index.ts";
import { makeRepo } from "../../runner/test/git-fixtures.ts";
import { api, ROOT, registerUser, startTrellis } from "../../test/server.ts";
import { TerminalViewer } from "../../test/terminal-client.ts";
import { intOptions } from "../lib/args.ts";
import { onCleanup, withDeadline } from "../lib/cleanup.ts";
import { watchChildCpu, watchMachineCpu } from "../lib/proc-cpu.ts";
import { watchProcessLoad } from "../lib/process-load.ts";
import { formatFigure as f, note, printFigures } from "../lib/report.ts";
import { Samples } from "../lib/stats.ts";

const opts = intOptions(
  { keys: 1000, mb: 50, viewers: 3 },
  "npm run bench:terminal -- [--keys N] [--mb MB] [--viewers N]",
);
if (opts.keys < 1 || opts.mb < 1 || opts.viewers < 1) {
  console.error("need --keys ≥ 1, --mb ≥ 1 and --viewers ≥ 1");
  process.exit(2);
}

const NODE = join(ROOT, "node_modules/.bin/node");
const CLI = join(ROOT, "runner/dist/cli.js");
const MB = 1024 * 1024;
const SOCKET = `trellis-bench-${process.pid}`;
/** Letters typed per line of `cat`'s input before an (untimed) Enter keeps the line short. */
const KEYS_PER_LINE = 60;
const WARMUP_KEYS = 20;
const ECHO_TIMEOUT_MS = 5000;
/** Each line of the file: `L<8 digits> ` and 69 characters that change from line to line, then `\n`. */
const LINE_BYTES = 80;
const MARKER = "BENCH-42-DONE";
const PACED_MB_S = 10;
/** Writes a file to stdout at a steady rate (MB/s), 16 KB at a time. */
const PACED_WRITER = `import { readFileSync, writeSync } from "node:fs";
const [path, rate] = process.argv.slice(2);
const data = readFileSync(path);
const perMs = (Number(rate) * 1024 * 1024) / 1000;
const nap = new Int32Array(new SharedArrayBuffer(4));
const t0 = performance.now();
for (let at = 0; at < data.length; ) {
  const wait = t0 + at / perMs - performance.now();
  if (wait > 0) Atomics.wait(nap, 0, 0, wait);
  at += writeSync(1, data, at, Math.min(16384, data.length - at));
}
`;

const wait = async <T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 30_000) => {
  const by = Date.now() + timeoutMs;
  while (Date.now() < by) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
};

/** `p`, or an error naming what did not happen within `ms`. */
async function within<T>(what: string, p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

function rssMb(pid: number): number {
  try {
    const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+) kB/m);
    return m ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** The workerd processes this bench started (wrangler dev's), by walking /proc from our pid down. */
function workerdPids(): number[] {
  const parent = new Map<number, number>();
  const comm = new Map<number, string>();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const raw = readFileSync(`/proc/${d}/stat`, "utf8");
      const close = raw.lastIndexOf(")");
      comm.set(Number(d), raw.slice(raw.indexOf("(") + 1, close));
      parent.set(Number(d), Number(raw.slice(close + 2).split(" ")[1]));
    } catch {}
  }
  const mine = (pid: number): boolean => {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) if (p === process.pid) return true;
    return false;
  };
  return [...comm].filter(([pid, c]) => c === "workerd" && mine(pid)).map(([pid]) => pid);
}

const workerdRss = () => workerdPids().reduce((sum, pid) => sum + rssMb(pid), 0);

/** `size` bytes of numbered lines that never repeat a run of characters tmux could abbreviate. */
function writeNumberedFile(path: string, size: number): number {
  const lines = Math.floor(size / LINE_BYTES);
  const alpha = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".repeat(3);
  const buf = Buffer.alloc(lines * LINE_BYTES);
  for (let i = 0; i < lines; i++) {
    const at = i * LINE_BYTES;
    buf.write(`L${String(i).padStart(8, "0")} ${alpha.slice(i % 62, (i % 62) + 69)}\n`, at, "latin1");
  }
  writeFileSync(path, buf);
  return lines;
}

function buildRunner(): void {
  execFileSync(NODE, [join(ROOT, "runner/build.ts")], { stdio: "inherit" });
}

/** The line the cursor is on, as the viewer's xterm shows it. */
function cursorLine(v: TerminalViewer): string {
  const b = v.screen.term.buffer.active;
  return b.getLine(b.baseY + b.cursorY)?.translateToString(true) ?? "";
}

/** What one throughput viewer saw after the command went in. */
interface Watch {
  /** Bytes (output and fresh screens) until the end marker, and in all until the pass ended. */
  chars: number;
  total: number;
  screens: number;
  /** The highest line number seen so far, lines seen in order, and numbers skipped over. */
  last: number;
  seen: number;
  gaps: number;
  doneAt: number | null;
  tail: Buffer;
}

const L = 0x4c;
const SPACE = 0x20;
const MARKER_BYTES = Buffer.from(MARKER);
/** `L` and 8 digits and a space at `i`: the line number, or -1. */
function lineNumberAt(b: Uint8Array, i: number): number {
  if (i + 9 >= b.length || b[i] !== L || b[i + 9] !== SPACE) return -1;
  let n = 0;
  for (let k = i + 1; k <= i + 8; k++) {
    const d = b[k]! - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

function watchStream(v: TerminalViewer): { w: Watch; stop(): void } {
  const w: Watch = {
    chars: 0,
    total: 0,
    screens: 0,
    last: -1,
    seen: 0,
    gaps: 0,
    doneAt: null,
    tail: Buffer.alloc(0),
  };
  const number = (n: number) => {
    // Lower or equal: a redraw of lines already seen (or the carried-over tail): not news.
    if (n <= w.last) return;
    w.gaps += n - w.last - 1;
    w.seen++;
    w.last = n;
  };
  /** Every `L<8 digits> ` in `b`: a line is 80 bytes, so the next one is looked for there first. */
  const scan = (b: Buffer) => {
    let i = b.indexOf(L);
    while (i >= 0) {
      const n = lineNumberAt(b, i);
      if (n < 0) {
        i = b.indexOf(L, i + 1);
        continue;
      }
      number(n);
      const next = i + LINE_BYTES;
      i = lineNumberAt(b, next) >= 0 ? next : b.indexOf(L, i + 10);
    }
  };
  const take = (data: Uint8Array) => {
    w.total += data.byteLength;
    if (w.doneAt !== null) return;
    w.chars += data.byteLength;
    const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    // What straddles two frames: the last bytes of the one before and the first of this one.
    const seam = Buffer.concat([w.tail, b.subarray(0, 16)]);
    scan(seam);
    scan(b);
    if (seam.includes(MARKER_BYTES) || b.includes(MARKER_BYTES)) w.doneAt = performance.now();
    w.tail = Buffer.from(b.subarray(-16));
  };
  v.onOutput = take;
  const from = v.messages.length;
  // A viewer that fell behind is sent the screen afresh: those characters count as received too.
  const poll = setInterval(() => {
    for (const m of v.messages.splice(from)) {
      if (m.type !== "screen") continue;
      w.screens++;
      take(Buffer.from(m.data));
    }
  }, 10);
  const stop = () => {
    clearInterval(poll);
    v.onOutput = null;
  };
  onCleanup(async () => stop());
  return { w, stop };
}

async function main() {
  buildRunner();
  const dir = mkdtempSync(join(tmpdir(), "trellis-bench-term-"));
  onCleanup(async () => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "out.txt");
  const lines = writeNumberedFile(file, opts.mb * MB);
  const fileBytes = lines * LINE_BYTES;

  const edge = await startTrellis();
  onCleanup(() => edge.stop());
  note(`edge on ${edge.url}; workerd pids ${workerdPids().join(",")}`);

  const user = await registerUser(edge.url, "Bench");
  const call = <T>(path: string, json?: unknown) => api<T>(edge.url, path, { token: user.token, json });
  const board = await call<{ id: string }>("/api/boards", { name: "Terminal bench" });
  const reg = await call<{ runner: { id: string }; registrationToken: string }>("/api/runners", {
    name: "bench-runner",
  });
  const runnerId = reg.runner.id;

  const home = join(dir, "home");
  mkdirSync(home);
  // A scratch HOME: the shell runs no one's ~/.bashrc. The bench's own tmux server, killed after.
  const env = {
    ...process.env,
    TRELLIS_CONFIG_DIR: join(dir, "config"),
    TRELLIS_DATA_DIR: join(dir, "data"),
    TRELLIS_TMUX_SOCKET: SOCKET,
    HOME: home,
    SHELL: "/bin/bash",
  };
  execFileSync(NODE, [CLI, "register", "--url", edge.url, "--token", reg.registrationToken], { env, stdio: "ignore" });
  await call(`/api/runners/${runnerId}/boards`, { boardId: board.id });

  let output = "";
  const runner: ChildProcess = spawn(NODE, [CLI, "start"], { env, stdio: ["ignore", "pipe", "pipe"] });
  runner.stdout!.setEncoding("utf8").on("data", (d: string) => (output += d));
  runner.stderr!.setEncoding("utf8").on("data", (d: string) => (output += d));
  onCleanup(async () => {
    if (runner.exitCode === null) {
      const exited = new Promise((r) => runner.once("exit", r));
      runner.kill("SIGKILL");
      await exited;
    }
    try {
      execFileSync("tmux", ["-L", SOCKET, "kill-server"], { stdio: "ignore" });
    } catch {}
  });
  await wait("the runner to connect", async () => {
    if (runner.exitCode !== null) throw new Error(`the runner exited:\n${output}`);
    return output.includes("connected to");
  });

  const repoDir = makeRepo(join(dir, "repo"));
  const repo = await call<Repo>(`/api/runners/${runnerId}/repos`, {
    name: "bench-repo",
    source: { kind: "path", path: repoDir },
  });
  await wait("repo ready", async () =>
    (await call<{ items: Repo[] }>(`/api/runners/${runnerId}/repos`)).items.some(
      (r) => r.id === repo.id && r.status === "ready",
    ),
  );
  const card = await call<Worktree>(`/api/boards/${board.id}/worktrees`, {
    repoId: repo.id,
    name: "bench",
    branch: "bench",
  });
  await wait("worktree ready", async () =>
    (await call<{ items: Worktree[] }>(`/api/boards/${board.id}/worktrees`)).items.some(
      (w) => w.id === card.id && w.status === "ready",
    ),
  );
  const term = await call<Terminal>(`/api/boards/${board.id}/worktrees/${card.id}/terminals`, { name: "bench" });

  const viewers: TerminalViewer[] = [];
  onCleanup(async () => {
    for (const v of viewers) v.close();
  });
  // The panel pings every 10 s; a viewer silent for 30 s is closed as stale.
  const ping = setInterval(() => {
    for (const v of viewers) if (v.ws.readyState === WebSocket.OPEN) v.ws.send("ping");
  }, 10_000);
  onCleanup(async () => clearInterval(ping));
  const view = async (countOnly: boolean) => {
    const v = await within(
      "a viewer's socket to open",
      TerminalViewer.open(edge.url, user.token, term.id, { origin: true, countOnly }),
      15_000,
    );
    viewers.push(v);
    await v.next("screen", () => true, 15_000);
    return v;
  };

  // ---- latency: one keystroke at a time, each until it is on the screen ----
  const typist = await view(false);
  note(`viewer socket extensions: ${typist.ws.extensions || "none"}`);
  typist.type("cat >/dev/null\r");
  await typist.until(
    "cat waiting for input",
    () => /cat >\/dev\/null/.test(typist.screen.text()) && cursorLine(typist) === "",
  );
  await sleep(300);

  const onScreen = new Samples();
  const onWire = new Samples();
  let sentAt = 0;
  let frameAt: number | null = null;
  typist.onOutput = () => {
    frameAt ??= performance.now();
  };
  let lost = 0;
  let line = "";
  const load = watchProcessLoad();
  const cpu = watchChildCpu();
  const machine = watchMachineCpu();
  for (let i = 0; i < WARMUP_KEYS + opts.keys; i++) {
    if (line.length >= KEYS_PER_LINE) {
      typist.type("\r");
      line = "";
      await typist.until("a fresh line", () => cursorLine(typist) === "", ECHO_TIMEOUT_MS);
    }
    const key = String.fromCharCode(97 + (i % 26));
    const want = line + key;
    frameAt = null;
    sentAt = performance.now();
    typist.type(key);
    try {
      await typist.until(`the echo of key ${i}`, () => cursorLine(typist) === want, ECHO_TIMEOUT_MS);
    } catch {
      lost++;
      // Start a clean line so one lost echo does not fail every key after it.
      typist.type("\x15");
      line = "";
      await sleep(200);
      continue;
    }
    const done = performance.now();
    line = want;
    if (i < WARMUP_KEYS) continue;
    onScreen.add(done - sentAt);
    if (frameAt !== null) onWire.add(frameAt - sentAt);
  }
  const latLoad = load.stop();
  const latCpu = cpu.stop();
  const latMachine = machine.stop();
  const lat = onScreen.summary();
  const wire = onWire.summary();
  note(`latency: ${onScreen.count} keystrokes echoed, ${lost} lost (after ${WARMUP_KEYS} warm-up keys)`);
  note(
    `latency on screen ms: p50=${f(lat.p50)} p95=${f(lat.p95)} p99=${f(lat.p99)} max=${f(lat.max)} mean=${f(lat.mean)}`,
  );
  note(`latency first frame ms: p50=${f(wire.p50)} p95=${f(wire.p95)} p99=${f(wire.p99)} max=${f(wire.max)}`);
  note(`latency: ${busy(latCpu)}; machine ${f(latMachine)}%; bench ${ownLoad(latLoad)}`);
  typist.type("\x03");
  await sleep(300);
  debug("cat ended; attaching the throughput viewers");

  // ---- throughput: N viewers while `cat` streams the file ----
  const watchers = await Promise.all(Array.from({ length: opts.viewers }, () => view(true)));
  debug(`${watchers.length} throughput viewers attached`);
  // The typist renders with xterm; at this volume it would measure this process, not the path.
  typist.close();
  viewers.splice(viewers.indexOf(typist), 1);
  const closed = await Promise.race([typist.closed.then(() => true), sleep(5000).then(() => false)]);
  if (!closed) note(`the typist's socket did not finish closing within 5 s (readyState ${typist.ws.readyState})`);

  const tmux = (...args: string[]) => execFileSync("tmux", ["-L", SOCKET, ...args], { encoding: "utf8" });
  /** What tmux wrote to the runner's PTY, and what it threw away because that PTY was behind. */
  const tmuxClient = () => {
    const out = { written: 0, discarded: 0 };
    for (const row of tmux("list-clients", "-F", "#{client_written} #{client_discarded}").trim().split("\n")) {
      const [w, d] = row.split(" ").map(Number);
      out.written += w ?? 0;
      out.discarded += d ?? 0;
    }
    return out;
  };
  const windowSize = () =>
    tmux("display-message", "-p", "-t", `=${term.id}:`, "#{window_width}x#{window_height}").trim();

  const pass = async (label: string, cols: number, rows: number, command = `cat ${file}`) => {
    if (windowSize() !== `${cols}x${rows}`) {
      watchers[0]!.resize(cols, rows);
      await wait(`the window at ${cols}x${rows}`, async () => windowSize() === `${cols}x${rows}`, 10_000);
    }
    await sleep(1000);
    const tmux0 = tmuxClient();
    const watches = watchers.map((v) => watchStream(v));
    const load = watchProcessLoad();
    const cpu = watchChildCpu();
    const machine = watchMachineCpu();
    const t0 = performance.now();
    // `$((6*7))`: the marker is only in what the command prints, never in its echo.
    watchers[0]!.type(`${command}; echo BENCH-$((6*7))-DONE\r`);
    const by = Date.now() + 180_000;
    while (watches.some(({ w }) => w.doneAt === null) && Date.now() < by) {
      await sleep(20);
      debug(watches.map(({ w }) => `${w.chars}/${w.seen}`).join(" "));
    }
    const streamed = performance.now() - t0;
    const own = load.stop();
    const children = cpu.stop();
    const machinePct = machine.stop();
    // tmux redraws once the flood is over; let that arrive before counting what was lost.
    await sleep(1000);
    for (const { stop } of watches) stop();
    const tmux1 = tmuxClient();
    const written = tmux1.written - tmux0.written;
    const discarded = tmux1.discarded - tmux0.discarded;

    let wireRate = Number.POSITIVE_INFINITY;
    let slowestMs = 0;
    let complete = true;
    for (const [i, { w }] of watches.entries()) {
      const ms = (w.doneAt ?? performance.now()) - t0;
      const rate = w.chars / MB / (ms / 1000);
      wireRate = w.doneAt === null ? 0 : Math.min(wireRate, rate);
      slowestMs = Math.max(slowestMs, ms);
      const missing = lines - w.seen;
      // tmux counts in `client_written` what it queued, also what it later drops at a block: only
      // without a discard must a viewer have had all of it.
      if (missing > 0 || w.doneAt === null || (discarded === 0 && w.total < written)) complete = false;
      note(
        `${label} viewer ${i + 1}: ${f(w.chars / MB)} MB in ${f(ms)} ms = ${f(rate)} MB/s; ` +
          `${w.total} bytes (tmux queued ${written} for the runner's PTY)` +
          `${w.screens ? `, ${w.screens} fresh screens` : ""}; ` +
          `lines ${w.seen}/${lines}${missing ? ` (${missing} never came)` : " (all)"}` +
          (w.doneAt === null ? "; NEVER saw the end marker" : ""),
      );
    }
    note(
      `${label}: the file's ${f(fileBytes / MB)} MB on every viewer's screen after ${f(slowestMs)} ms = ` +
        `${f(fileBytes / MB / (slowestMs / 1000))} MB/s of shell output; tmux queued ${f(written / MB)} MB for the ` +
        `runner's PTY and discarded ${f(discarded / MB)} MB (its own drop-and-redraw for a terminal behind it)`,
    );
    note(`${label}: ${busy(children)}; machine ${f(machinePct)}%; bench ${ownLoad(own)}; all done ${f(streamed)} ms`);
    return { wireRate: Number.isFinite(wireRate) ? wireRate : 0, complete };
  };

  await sleep(1000);
  const before = { runner: rssMb(runner.pid!), workerd: workerdRss() };
  note(`memory before: runner ${f(before.runner)} MB, workerd ${f(before.workerd)} MB`);
  const peak = { ...before };
  const sampler = setInterval(() => {
    peak.runner = Math.max(peak.runner, rssMb(runner.pid!));
    peak.workerd = Math.max(peak.workerd, workerdRss());
  }, 200);
  onCleanup(async () => clearInterval(sampler));

  // At the panel's usual size tmux renders a flood as drop-and-redraw: it throws away what it
  // cannot write to the PTY at once (more than cols×rows×8 bytes pending), so this pass measures
  // what a person watching gets. At the largest size a typist can set, that threshold is 1.2 MB and
  // tmux passes every byte on, so the second pass measures the path through Trellis itself.
  await pass("80x24", 80, 24);
  const full = await pass("500x300", 500, 300);
  // The same bytes at the budget's rate, in 16 KB writes: does the path carry that, every byte?
  const paced = join(dir, "paced.mjs");
  writeFileSync(paced, PACED_WRITER);
  await pass(`500x300 paced ${PACED_MB_S} MB/s`, 500, 300, `${NODE} ${paced} ${file} ${PACED_MB_S}`);
  clearInterval(sampler);
  note(`memory peak during: runner ${f(peak.runner)} MB, workerd ${f(peak.workerd)} MB`);
  await sleep(2000);
  const after = { runner: rssMb(runner.pid!), workerd: workerdRss() };
  note(`memory after (+2 s): runner ${f(after.runner)} MB, workerd ${f(after.workerd)} MB`);
  const growth = Math.max(after.runner - before.runner, after.workerd - before.workerd);
  if (!full.complete) note("NOTE: at 500x300 not every viewer got every byte tmux wrote (see above)");
  if (lost > 0) note(`NOTE: ${lost} keystrokes never echoed within ${ECHO_TIMEOUT_MS} ms`);

  printFigures("terminal", {
    p50_ms: lat.p50,
    p99_ms: lat.p99,
    mb_per_s: full.wireRate,
    rss_growth_mb: growth,
  });
}

/** Progress lines, with BENCH_DEBUG=1 set. */
function debug(message: string): void {
  if (process.env.BENCH_DEBUG) note(`debug: ${message}`);
}

function busy(cpu: Record<string, number>): string {
  const list = Object.entries(cpu)
    .filter(([, pct]) => pct >= 1)
    .sort((a, b) => b[1] - a[1])
    .map(([comm, pct]) => `${comm}=${f(pct)}%`);
  return `cpu ${list.join(" ") || "(not measurable here)"}`;
}

function ownLoad(l: ReturnType<ReturnType<typeof watchProcessLoad>["stop"]>): string {
  return `cpu ${f(l.cpuPct)}%, event-loop lag p99 ${f(l.lagP99Ms)} ms max ${f(l.lagMaxMs)} ms`;
}

await withDeadline(10 * 60_000, main);
