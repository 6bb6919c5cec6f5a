/**
 * `npm test`: every lane, in order of speed, then one closing line `N passed, N failed`.
 *   lint + format (Biome) → type check (every part) → room/link cores in Node → worker + rooms in
 *   workerd → runner in Node
 *   with real git against a real Worker → the board end to end in Chromium.
 * `npm test -- worker e2e` runs only the named lanes.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureWebBuilt } from "../test/server.ts";

const root = new URL("..", import.meta.url).pathname;
const bin = join(root, "node_modules/.bin");
const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, WRANGLER_SEND_METRICS: "false" };
const tmp = mkdtempSync(join(tmpdir(), "trellis-test-"));

type Lane = { name: string; run: () => Promise<{ ok: boolean; passed: number; failed: number }> };

function exec(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      process.stdout.write(d);
    });
    child.stderr.on("data", (d) => {
      out += d;
      process.stderr.write(d);
    });
    child.on("close", (code) => resolve({ code: code ?? 1, out }));
  });
}

const check = (cmd: string, args: string[]) => async () => {
  const { code } = await exec(cmd, args);
  return { ok: code === 0, passed: 0, failed: 0 };
};

const vitest = (config: string) => async () => {
  const report = join(tmp, `${config}.json`);
  const { code } = await exec(join(bin, "vitest"), [
    "run",
    "--config",
    config,
    "--reporter=default",
    "--reporter=json",
    `--outputFile.json=${report}`,
  ]);
  if (!existsSync(report)) return { ok: false, passed: 0, failed: 1 };
  const r = JSON.parse(readFileSync(report, "utf8"));
  return { ok: code === 0, passed: r.numPassedTests, failed: r.numFailedTests };
};

const nodeTests = (dir: string) => async () => {
  const files = existsSync(join(root, dir)) ? readdirSync(join(root, dir)).filter((f) => f.endsWith(".test.ts")) : [];
  if (files.length === 0) return { ok: true, passed: 0, failed: 0 };
  const { code, out } = await exec(join(bin, "node"), [
    "--test",
    "--test-concurrency=1",
    ...files.map((f) => join(dir, f)),
  ]);
  const count = (k: string) => Number(out.match(new RegExp(`^(?:ℹ|#) ${k} (\\d+)$`, "m"))?.[1] ?? 0);
  return { ok: code === 0, passed: count("pass"), failed: count("fail") };
};

const lanes: Lane[] = [
  { name: "lint", run: check(join(bin, "biome"), ["ci", "."]) },
  { name: "typecheck", run: check("npm", ["run", "--silent", "typecheck"]) },
  { name: "unit", run: vitest("vitest.unit.config.ts") },
  { name: "worker", run: vitest("vitest.worker.config.ts") },
  ...(existsSync(join(root, "vitest.runner.config.ts"))
    ? [{ name: "runner", run: vitest("vitest.runner.config.ts") }]
    : []),
  { name: "e2e", run: nodeTests("e2e") },
];

const only = process.argv.slice(2);
// The runner and browser lanes start Workers that serve the board: build it once, here, if its
// sources changed, rather than in several test processes at once.
if (!only.length || only.includes("runner") || only.includes("e2e")) ensureWebBuilt();
let passed = 0;
let failed = 0;
const failedLanes: string[] = [];
for (const lane of lanes) {
  if (only.length && !only.includes(lane.name)) continue;
  console.log(`\n━━ ${lane.name} ━━`);
  const r = await lane.run();
  passed += r.passed;
  failed += r.failed;
  if (!r.ok) {
    failedLanes.push(lane.name);
    if (r.failed === 0) failed += 1; // a lane that failed without failing tests (lint, types, crash) still counts
  }
}
console.log(`\n${failedLanes.length ? `failed lanes: ${failedLanes.join(", ")}` : "all lanes green"}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failedLanes.length ? 1 : 0);
