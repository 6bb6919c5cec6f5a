/**
 * Cursor fan-out benchmark (issue 2, DESIGN "Budgets": 50 clients × 10 Hz on one board, p99 < 25 ms
 * send-to-receive, no drops). Runs the same load against a real Trellis edge (`wrangler dev`) and
 * against a minimal Socket.IO broadcast server on loopback, then prints both and their ratio.
 *
 *   npm run bench:presence -- [--clients 50] [--seconds 20] [--hz 10] [--warmup 2]
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { cpus } from "node:os";
import { createInterface } from "node:readline";
import { api, registerUser, startTrellis } from "../../test/server.ts";
import { intOptions } from "../lib/args.ts";
import { onCleanup, withDeadline } from "../lib/cleanup.ts";
import { watchChildCpu, watchMachineCpu } from "../lib/proc-cpu.ts";
import { watchProcessLoad } from "../lib/process-load.ts";
import { formatFigure as f, note, printFigures } from "../lib/report.ts";
import type { LatencySummary } from "../lib/stats.ts";
import { type Connect, type LoadOptions, runLoad } from "./load.ts";
import { socketioConnector } from "./socketio-client.ts";
import { trellisConnector } from "./trellis-client.ts";

const BUDGET_P99_MS = 25;

const opts = intOptions(
  { clients: 50, seconds: 20, hz: 10, warmup: 2 },
  "npm run bench:presence -- [--clients N] [--seconds S] [--hz R] [--warmup S]",
);
if (opts.clients < 2 || opts.hz < 1 || opts.seconds < 1) {
  console.error("need --clients ≥ 2, --hz ≥ 1 and --seconds ≥ 1");
  process.exit(2);
}
const load: LoadOptions = {
  clients: opts.clients,
  hz: opts.hz,
  warmupSeconds: opts.warmup,
  seconds: opts.seconds,
  drainMs: 2000,
};

interface Phase {
  latency: LatencySummary;
  delivered: number;
  dropped: number;
}

async function measure(name: string, connect: Connect): Promise<Phase> {
  const proc = watchProcessLoad();
  const children = watchChildCpu();
  const machine = watchMachineCpu();
  const r = await runLoad(connect, load);
  const self = proc.stop();
  const childCpu = children.stop();
  const machinePct = machine.stop();
  const lat = r.latency.summary();
  note(
    `${name}: ${r.sent} sent; over ${f(r.measuredSeconds)} s measured ${r.delivered} delivered in ${r.frames} frames, ` +
      `${r.superseded} coalesced away, ${r.dropped} dropped, ${r.outOfOrder} out of order`,
  );
  note(
    `${name}: latency ms p50=${f(lat.p50)} p95=${f(lat.p95)} p99=${f(lat.p99)} max=${f(lat.max)} mean=${f(lat.mean)}`,
  );
  note(`${name}: p99 ms for each second of the run: ${r.perSecond.map((s) => f(s.summary().p99)).join(" ")}`);
  note(
    `${name}: bench process cpu=${f(self.cpuPct)}%, event-loop lag ms p50=${f(self.lagP50Ms)} ` +
      `p99=${f(self.lagP99Ms)} max=${f(self.lagMaxMs)}`,
  );
  const busy = Object.entries(childCpu)
    .filter(([, pct]) => pct >= 1)
    .map(([comm, pct]) => `${comm}=${f(pct)}%`);
  note(`${name}: server processes cpu ${busy.join(" ") || "(not measurable here)"}`);
  const ours = self.cpuPct + Object.values(childCpu).reduce((a, b) => a + b, 0);
  const others = Math.max(0, machinePct - ours);
  note(
    `${name}: machine cpu=${f(machinePct)}% of ${cpus().length * 100}%, other work ${f(others)}%` +
      (others > 25 ? " (a busy machine skews the figures: rerun when it is quiet)" : ""),
  );
  for (const failure of r.failures.slice(0, 3)) note(`${name}: FAILURE ${failure}`);
  if (r.failures.length > 3) note(`${name}: ... and ${r.failures.length - 3} more failures`);
  if (r.failures.length >= load.clients && r.failures.every((x) => x.includes("closed 1006"))) {
    note(`${name}: every socket dropped at once: wrangler dev reloads the Worker when a source file changes`);
  }
  return { latency: lat, delivered: r.delivered, dropped: r.dropped };
}

/**
 * wrangler dev (4.x) records a trace of every Worker and Durable Object invocation into a local
 * SQLite store and fsyncs it on workerd's main thread: one commit per cursor message, each ~0.3 ms
 * and sometimes 40-150 ms when the disk is busy, stalling the room with it, and close to half of
 * workerd's CPU at this load. The deployed edge has no such store, so it is off unless the caller
 * sets X_LOCAL_OBSERVABILITY itself (`X_LOCAL_OBSERVABILITY=true` measures wrangler's default).
 */
process.env.X_LOCAL_OBSERVABILITY ??= "false";

async function benchTrellis(): Promise<Phase> {
  const edge = await startTrellis();
  const forget = onCleanup(() => edge.stop());
  try {
    const user = await registerUser(edge.url, "Bench");
    const board = await api<{ id: string }>(edge.url, "/api/boards", {
      token: user.token,
      json: { name: "presence bench" },
    });
    const traced = process.env.X_LOCAL_OBSERVABILITY !== "false";
    note(`trellis: wrangler dev on ${edge.url}, board ${board.id}, local trace store ${traced ? "on" : "off"}`);
    return await measure("trellis", trellisConnector(edge.url, board.id, user.token));
  } finally {
    forget();
    await edge.stop();
  }
}

async function benchSocketio(): Promise<Phase> {
  const child = spawn(process.execPath, [new URL("./socketio-server.ts", import.meta.url).pathname], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const exited = once(child, "exit");
  // Closing its stdin is how the server is told to stop; it also stops if this process dies.
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin!.end();
      await exited;
    }
  };
  const forget = onCleanup(stop);
  try {
    let url: string | null = null;
    for await (const line of createInterface({ input: child.stdout! })) {
      const m = /^listening (\d+)$/.exec(line);
      if (m) {
        url = `http://127.0.0.1:${m[1]}`;
        break;
      }
    }
    if (!url) throw new Error("the Socket.IO server exited before listening");
    note(`socketio: broadcast server on ${url}`);
    return await measure("socketio", socketioConnector(url, "presence-bench"));
  } finally {
    forget();
    await stop();
  }
}

// Two phases of load plus start-up, drain and a generous allowance for a slow wrangler start.
const boundMs = 2 * (load.warmupSeconds + load.seconds) * 1000 + 2 * load.drainMs + 180_000;
await withDeadline(boundMs, async () => {
  note(
    `presence: ${load.clients} clients × ${load.hz} Hz for ${load.seconds} s (+${load.warmupSeconds} s warm-up); ` +
      "latency per (sender, receiver) pair, until the receiver holds that update or a newer one",
  );
  const trellis = await benchTrellis();
  const socketio = await benchSocketio();
  const met = trellis.latency.p99 < BUDGET_P99_MS && trellis.dropped === 0;
  note(`budget (p99 < ${BUDGET_P99_MS} ms, no drops): ${met ? "met" : "MISSED"}`);
  printFigures("presence", {
    p50_ms: trellis.latency.p50,
    p95_ms: trellis.latency.p95,
    p99_ms: trellis.latency.p99,
    delivered: trellis.delivered,
    dropped: trellis.dropped,
    socketio_p50_ms: socketio.latency.p50,
    socketio_p99_ms: socketio.latency.p99,
    ratio_p99: trellis.latency.p99 / socketio.latency.p99,
  });
});
