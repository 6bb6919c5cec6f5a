/**
 * `npm start`: the whole of Trellis on this machine. Generates local secrets, applies D1
 * migrations (idempotent), builds the board, runs `wrangler dev` with local D1 and Durable Objects,
 * and connects a local runner. Ctrl-C stops everything.
 *
 * Single-user mode and accounts mode (`TRELLIS_SINGLE_USER=0`) keep apart everything local: each
 * has its own secrets file and its own D1 and Durable Object folder, so nothing made in one (the
 * passwordless local owner, its boards, a refresh-token cookie, an access token) exists or verifies
 * in the other. `TRELLIS_LOCAL_DIR` moves both elsewhere (default: this folder).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { ensureDevVars } from "./dev-vars.ts";
import { connectLocalRunner } from "./local-runner.ts";

const port = process.env.PORT ?? "8787";
const singleUser = process.env.TRELLIS_SINGLE_USER !== "0";
const root = new URL("..", import.meta.url).pathname;
const local = resolve(process.env.TRELLIS_LOCAL_DIR ?? root);
/** Single-user keeps the places it always had (wrangler's defaults), so existing local data stays. */
const state = singleUser
  ? { vars: `${local}/.dev.vars`, persist: `${local}/.wrangler/state` }
  : { vars: `${local}/.dev.vars.accounts`, persist: `${local}/.wrangler/accounts` };

function run(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit" });
  if (r.status !== 0) {
    console.error(`trellis: \`${cmd} ${args.join(" ")}\` failed (exit ${r.status}).`);
    process.exit(r.status ?? 1);
  }
}

mkdirSync(local, { recursive: true });
ensureDevVars(state.vars, singleUser);
run("npx", ["wrangler", "d1", "migrations", "apply", "DB", "--local", "--persist-to", state.persist]);
// Tests that start many edges build the board once and say so; everyone else gets a fresh build.
if (!(process.env.TRELLIS_WEB_BUILT === "1" && existsSync(`${root}web/dist/index.html`))) {
  run("npx", ["vite", "build", "--config", "web/vite.config.ts", "--logLevel", "warn"]);
}

const wrangler = spawn(
  "npx",
  [
    "wrangler",
    "dev",
    "--port",
    port,
    "--ip",
    "127.0.0.1",
    "--show-interactive-dev-session=false",
    // Given an env file, wrangler reads it instead of `.dev.vars`.
    "--env-file",
    state.vars,
    "--persist-to",
    state.persist,
  ],
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

const appUrl = `http://localhost:${port}`;
const sayReady = () => console.log(`\ntrellis: ready — open ${appUrl}\n`);

ready()
  .then(async (ok) => {
    if (!ok || stopping) return;
    const runner = await connectLocalRunner({ base, singleUser, appUrl }).catch((err) => {
      console.error(`trellis: could not start the local runner: ${err.message}`);
      return null;
    });
    if (runner) {
      children.push(runner);
      runner.on("exit", (code) => {
        if (!stopping) console.error(`trellis: the local runner exited (${code}); jobs wait until it runs again.`);
      });
    }
    sayReady();
  })
  .catch((err) => console.error(`trellis: ${err.message}`));
