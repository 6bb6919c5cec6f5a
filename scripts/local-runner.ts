/**
 * The runner half of `npm start`: in single-user mode, register this machine's runner with the local
 * edge on first start (as the local owner) and run it as a child process; in accounts mode, a runner
 * belongs to whoever registers it, so say how.
 */
import { type ChildProcess, type StdioOptions, spawn, spawnSync } from "node:child_process";
import { hostname } from "node:os";
import { RUNNER_CLI } from "../protocol/index.ts";
import { configDir, findRegistration } from "../runner/src/config.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const CLI = `${ROOT}runner/src/cli.ts`;

export interface LocalRunnerOptions {
  /** The edge's origin, e.g. http://127.0.0.1:8787. */
  base: string;
  singleUser: boolean;
  /** Where the user opens the app (for the accounts-mode hint). */
  appUrl?: string;
  /** Environment for the runner (TRELLIS_CONFIG_DIR, TRELLIS_DATA_DIR, ...). */
  env?: NodeJS.ProcessEnv;
  stdio?: StdioOptions;
}

async function json(base: string, path: string, init: { token?: string; body?: unknown } = {}) {
  const res = await fetch(`${base}${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
    },
    body: JSON.stringify(init.body ?? {}),
  });
  if (!res.ok) throw new Error(`${path} answered ${res.status}: ${await res.text()}`);
  return res.json() as Promise<Record<string, unknown>>;
}

/** A registration for this edge that it still accepts (a reset local database forgets runners). */
async function registered(base: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  const reg = await findRegistration(base, configDir(env));
  if (!reg) return false;
  const res = await fetch(`${base}/runner/me`, { headers: { authorization: `Bearer ${reg.credential}` } });
  return res.ok;
}

async function shareWithAllBoards(base: string, token: string, runnerId: string): Promise<void> {
  let cursor: string | null = null;
  do {
    const res = await fetch(`${base}/api/boards?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    if (!res.ok) throw new Error(`/api/boards answered ${res.status}: ${await res.text()}`);
    const page = (await res.json()) as { items: { id: string }[]; nextCursor: string | null };
    for (const board of page.items) {
      await json(base, `/api/runners/${runnerId}/boards`, { token, body: { boardId: board.id } });
    }
    cursor = page.nextCursor;
  } while (cursor);
}

/** The runner's start command as printed, run from the clone's root (tests run it exactly so). */
export const START_COMMAND = `${RUNNER_CLI} start`;

/** What `npm start` says in accounts mode, where a runner belongs to whoever registers it. */
export const accountsModeHint = (appUrl: string) =>
  `trellis: to run jobs on this machine, sign in at ${appUrl}, choose "Add runner", and run the command it shows in this folder; then \`${START_COMMAND}\`.`;

/** Returns the running runner, or null in accounts mode. */
export async function connectLocalRunner(opts: LocalRunnerOptions): Promise<ChildProcess | null> {
  const env = opts.env ?? process.env;
  if (!opts.singleUser) {
    console.log(accountsModeHint(opts.appUrl ?? opts.base));
    return null;
  }
  if (!(await registered(opts.base, env))) {
    const session = await json(opts.base, "/api/auth/local");
    const name = hostname() || "this machine";
    const created = await json(opts.base, "/api/runners", { token: String(session.accessToken), body: { name } });
    const r = spawnSync(
      process.execPath,
      [CLI, "register", "--url", opts.base, "--token", String(created.registrationToken), "--name", name],
      { cwd: ROOT, env, stdio: opts.stdio ?? "inherit" },
    );
    if (r.status !== 0) throw new Error(`registering the local runner failed (exit ${r.status})`);
    // New boards get it by themselves in single-user mode; boards made before it existed (a config
    // folder reset under a kept database) get it here.
    await shareWithAllBoards(opts.base, String(session.accessToken), String((created.runner as { id: string }).id));
  }
  return spawn(process.execPath, [CLI, "start", "--url", opts.base], {
    cwd: ROOT,
    env,
    stdio: opts.stdio ?? "inherit",
  });
}
