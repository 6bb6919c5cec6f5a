/**
 * `npm start`: the whole of Trellis on this machine. Generates local secrets, applies D1
 * migrations (idempotent), builds the board, runs `wrangler dev` with local D1 and Durable Objects,
 * and connects a local runner. Ctrl-C stops everything.
 */
import { spawn, spawnSync } from "node:child_process";
import { ensureDevVars } from "./dev-vars.ts";

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
const children = [wrangler];
const stop = () => {
  for (const c of children) c.kill("SIGINT");
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
wrangler.on("exit", (code) => {
  stop();
  process.exit(code ?? 0);
});

console.log(
  `\ntrellis: starting on http://localhost:${port} (${singleUser ? "single-user local mode" : "accounts, as deployed"})\n`,
);
