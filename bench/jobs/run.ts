/**
 * Job pickup benchmark (issue 3, DESIGN "Budgets": job created → runner starts it, p50 < 50 ms,
 * p99 < 200 ms; idle runner RSS < 80 MB). A real edge (`wrangler dev`), the bundled runner
 * (`runner/dist/cli.js`, what `npx trellis-runner` installs) registered and started as a child, and
 * `ping` jobs (a no-op type) queued over the REST API as a user would.
 *
 *   npm run bench:jobs -- [--jobs 1000] [--rate 10] [--burst 1000] [--idle 5]
 *
 * Two phases: `--jobs` pings queued at a steady `--rate` per second, each timed from the row's
 * `created_at` (D1's clock) to the moment the runner began it (the runner's clock: same machine);
 * then `--burst` pings queued all at once, timed from the first queue request to the last
 * completion, for jobs per second.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { api, ROOT, registerUser, startTrellis } from "../../test/server.ts";
import { intOptions } from "../lib/args.ts";
import { onCleanup, withDeadline } from "../lib/cleanup.ts";
import { processCpuMs, watchChildCpu, watchMachineCpu } from "../lib/proc-cpu.ts";
import { formatFigure as f, note, printFigures } from "../lib/report.ts";
import { Samples } from "../lib/stats.ts";

const opts = intOptions(
  { jobs: 1000, rate: 10, burst: 1000, idle: 5 },
  "npm run bench:jobs -- [--jobs N] [--rate PER_S] [--burst N] [--idle S]",
);
if (opts.jobs < 1 || opts.rate < 1) {
  console.error("need --jobs ≥ 1 and --rate ≥ 1");
  process.exit(2);
}

const NODE = join(ROOT, "node_modules/.bin/node");
const CLI = join(ROOT, "runner/dist/cli.js");

interface QueuedJob {
  id: string;
  createdAt: number;
}

/** Bundle the runner from the current source (esbuild: well under a second). */
function buildRunner(): void {
  execFileSync(NODE, [join(ROOT, "runner/build.ts")], { stdio: "inherit" });
}

/** Resident set size of a process, from /proc (Linux). */
function rssMb(pid: number): number {
  const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+) kB/m);
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/** Run `n` async tasks with at most `width` in flight. */
async function pool<T>(n: number, width: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, n) }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await task(i);
      }
    }),
  );
  return out;
}

async function main() {
  buildRunner();
  const edge = await startTrellis();
  onCleanup(() => edge.stop());
  note(`edge on ${edge.url}${process.env.X_LOCAL_OBSERVABILITY === "true" ? " (local trace store on)" : ""}`);

  const user = await registerUser(edge.url, "Bench");
  const call = <T>(path: string, json?: unknown) => api<T>(edge.url, path, { token: user.token, json });
  const reg = await call<{ runner: { id: string }; registrationToken: string }>("/api/runners", {
    name: "bench-runner",
  });
  const runnerId = reg.runner.id;

  const dir = mkdtempSync(join(tmpdir(), "trellis-bench-jobs-"));
  onCleanup(async () => rmSync(dir, { recursive: true, force: true }));
  const env = { ...process.env, TRELLIS_CONFIG_DIR: join(dir, "config"), TRELLIS_DATA_DIR: join(dir, "data") };
  execFileSync(NODE, [CLI, "register", "--url", edge.url, "--token", reg.registrationToken], { env, stdio: "ignore" });

  let output = "";
  // --verbose: the bench counts completions from the per-job lines, which a quiet runner leaves out.
  const runner: ChildProcess = spawn(NODE, [CLI, "start", "--verbose"], { env, stdio: ["ignore", "pipe", "inherit"] });
  runner.stdout!.setEncoding("utf8").on("data", (d: string) => (output += d));
  onCleanup(async () => {
    if (runner.exitCode !== null) return;
    const exited = new Promise((r) => runner.once("exit", r));
    runner.kill("SIGKILL");
    await exited;
  });
  const succeeded = () => output.match(/ ping succeeded /g)?.length ?? 0;

  const t0 = Date.now();
  while (!output.includes("connected to")) {
    if (runner.exitCode !== null) throw new Error(`the runner exited:\n${output}`);
    if (Date.now() - t0 > 15_000) throw new Error(`the runner did not connect:\n${output}`);
    await sleep(50);
  }
  note(`runner ${runnerId} connected ${Date.now() - t0} ms after start`);

  // Idle: connected, no work. Highest RSS seen over the idle window.
  let idleRss = 0;
  const idleCpu0 = processCpuMs(runner.pid!);
  for (let s = 0; s < opts.idle * 4; s++) {
    await sleep(250);
    idleRss = Math.max(idleRss, rssMb(runner.pid!));
  }
  const idleCpuPct = ((processCpuMs(runner.pid!) - idleCpu0) / (opts.idle * 1000)) * 100;
  note(`runner idle for ${opts.idle} s: rss ${f(idleRss)} MB, cpu ${f(idleCpuPct)}%`);

  const queue = () => call<QueuedJob>(`/api/runners/${runnerId}/jobs`, { type: "ping" });

  // ---- phase 1: pickup latency at a steady rate ----
  const children = watchChildCpu();
  const machine = watchMachineCpu();
  const paced: Promise<QueuedJob>[] = [];
  const start = performance.now();
  for (let i = 0; i < opts.jobs; i++) {
    const due = start + (i * 1000) / opts.rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    paced.push(queue());
  }
  const pacedJobs = await Promise.all(paced);
  const doneBy = Date.now() + 30_000;
  while (succeeded() < opts.jobs && Date.now() < doneBy) await sleep(50);
  const cpu = children.stop();
  const machinePct = machine.stop();

  const pickup = new Samples();
  let missing = 0;
  const finished = await pool(pacedJobs.length, 8, (i) =>
    call<{ status: string; createdAt: number; result: { startedAt?: number } | null }>(`/api/jobs/${pacedJobs[i]!.id}`),
  );
  for (const job of finished) {
    if (job.status !== "succeeded" || typeof job.result?.startedAt !== "number") missing++;
    else pickup.add(job.result.startedAt - job.createdAt);
  }
  const lat = pickup.summary();
  note(`paced: ${opts.jobs} pings at ${opts.rate}/s; ${pickup.count} ran, ${missing} did not finish in time`);
  note(`paced: pickup ms p50=${f(lat.p50)} p95=${f(lat.p95)} p99=${f(lat.p99)} max=${f(lat.max)} mean=${f(lat.mean)}`);
  const busy = Object.entries(cpu)
    .filter(([, pct]) => pct >= 1)
    .map(([comm, pct]) => `${comm}=${f(pct)}%`);
  note(`paced: cpu ${busy.join(" ") || "(not measurable here)"}; whole machine ${f(machinePct)}%`);

  // ---- phase 2: throughput, everything queued at once ----
  let jobsPerS = 0;
  if (opts.burst > 0) {
    const before = succeeded();
    const b0 = performance.now();
    await pool(opts.burst, 16, () => queue());
    const queuedIn = performance.now() - b0;
    const burstBy = Date.now() + 120_000;
    while (succeeded() < before + opts.burst && Date.now() < burstBy) await sleep(20);
    const took = performance.now() - b0;
    const ran = succeeded() - before;
    jobsPerS = (ran * 1000) / took;
    note(`burst: ${opts.burst} pings queued in ${f(queuedIn)} ms; ${ran} done in ${f(took)} ms: ${f(jobsPerS)} jobs/s`);
  }

  if (missing > 0 || lat.count === 0) note("FAILURE: not every paced ping ran; the figures are incomplete");
  printFigures("jobs", { p50_ms: lat.p50, p99_ms: lat.p99, jobs_per_s: jobsPerS, rss_mb: idleRss });
}

await withDeadline(10 * 60_000, main);
