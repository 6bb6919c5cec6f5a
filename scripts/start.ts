/**
 * `npm start`: the whole of Trellis on this machine. Generates local secrets, applies D1
 * migrations (idempotent), builds the board, runs `wrangler dev` with local D1 and Durable Objects,
 * and connects a local runner. Ctrl-C stops everything.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { ensureDevVars } from "./dev-vars.ts";
import { connectLocalRunner } from "./local-runner.ts";

const port = process.env.PORT ?? "8787";
const singleUser = process.env.TRELLIS_SINGLE_USER !== "0";
const root = new URL("..", import.meta.url).pathname;

function run(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit" });
  if (r.status !== 0) {
    console.error(`trellis: \`${cmd} ${args.join(" ")}\` failed (exit ${r.status}).`);
    process.exit(r.status ?? 1);
  }
}

ensureDevVars(`${root}.dev.vars`, singleUser);
run("npx", ["wrangler", "d1", "migrations", "apply", "DB", "--local"]);
run("npx", ["vite", "build", "--config", "web/vite.config.ts", "--logLevel", "warn"]);

const wrangler = spawn(
  "npx",
  ["wrangler", "dev", "--port", port, "--ip", "127.0.0.1", "--show-interactive-dev-session=false"],
  {
    cwd: root,
    stdio: "inherit",
  },
);
const children: ChildProcess[] = [wrangler];
let stopping = false;
const stop = () => {
  stopping = true;
  for (const c of children) if (c.exitCode === null) c.kill("SIGINT");
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
wrangler.on("exit", async (code) => {
  stop();
  // Let the runner finish draining (it hands its jobs back) before we go.
  await Promise.race([
    Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once("exit", r)) : null))),
    new Promise((r) => setTimeout(r, 10_000)),
  ]);
  process.exit(code ?? 0);
});

console.log(
  `\ntrellis: starting on http://localhost:${port} (${singleUser ? "single-user local mode" : "accounts, as deployed"})\n`,
);

// ---- the local runner ----

const base = `http://127.0.0.1:${port}`;

async function ready(): Promise<boolean> {
  for (let i = 0; i < 600 && !stopping && wrangler.exitCode === null; i++) {
    try {
      if ((await fetch(`${base}/api/health`)).ok) return true;
    } catch {}
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

ready()
  .then(async (ok) => {
    if (!ok || stopping) return;
    const runner = await connectLocalRunner({ base, singleUser, appUrl: `http://localhost:${port}` });
    if (!runner) return;
    children.push(runner);
    runner.on("exit", (code) => {
      if (!stopping) console.error(`trellis: the local runner exited (${code}); jobs wait until it runs again.`);
    });
  })
  .catch((err) => console.error(`trellis: could not start the local runner: ${err.message}`));
