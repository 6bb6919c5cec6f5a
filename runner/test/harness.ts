/**
 * A real runner process against a real Worker: register a user and a runner, run
 * `runner/src/cli.ts` as a child with its own config and data folders, and read its log lines.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Job, Page, Repo, Worktree } from "../../protocol/index.ts";
import { api, ROOT, registerUser } from "../../test/server.ts";
import { detectSandbox } from "../src/agent/sandbox.ts";
import { makeRepo, tempDir } from "./git-fixtures.ts";

const NODE = join(ROOT, "node_modules/.bin/node");
const CLI = join(ROOT, "runner/src/cli.ts");
const run = promisify(execFile);

/**
 * This machine's sandbox. The runners under test run their agents' commands unconfined by their
 * owner's choice (TRELLIS_SANDBOX=off, which asks nothing and says nothing) unless a test starts
 * one with `TRELLIS_SANDBOX: "on"`: the sandbox has tests of its own, and the others then behave
 * the same on a machine without one.
 */
export const SANDBOX = await detectSandbox({ ...process.env, TRELLIS_SANDBOX: "on" });
const SANDBOX_ENV: NodeJS.ProcessEnv = { TRELLIS_SANDBOX: "off" };

export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A user with a board, a runner registered through the CLI and shared with the board. */
export interface Setup {
  base: string;
  user: { token: string };
  boardId: string;
  runnerId: string;
  dir: string;
  configDir: string;
  dataDir: string;
  env: NodeJS.ProcessEnv;
  registerOutput: CliResult;
  cli(args: string[], env?: NodeJS.ProcessEnv): Promise<CliResult>;
  start(args?: string[], env?: NodeJS.ProcessEnv): RunnerProcess;
  cleanup(): void;
  api<T = unknown>(path: string, init?: { method?: string; json?: unknown }): Promise<T>;
}

export async function setup(base: string, name = "Runner owner"): Promise<Setup> {
  const tmp = tempDir("trellis-runner-it-");
  const configDir = join(tmp.dir, "config");
  const dataDir = join(tmp.dir, "data");
  const env = { ...process.env, ...SANDBOX_ENV, TRELLIS_CONFIG_DIR: configDir, TRELLIS_DATA_DIR: dataDir };
  const user = await registerUser(base, name.replace(/\W/g, ""));
  const board = await api(base, "/api/boards", { token: user.token, json: { name: "Board" } });
  const reg = await api(base, "/api/runners", { token: user.token, json: { name: "test-runner" } });

  const cli = async (args: string[], extra: NodeJS.ProcessEnv = {}): Promise<CliResult> => {
    try {
      const r = await run(NODE, [CLI, ...args], { env: { ...env, ...extra }, cwd: tmp.dir });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };
  const registerOutput = await cli(["register", "--url", base, "--token", reg.registrationToken]);
  if (registerOutput.code !== 0) throw new Error(`register failed: ${registerOutput.stderr}`);
  await api(base, `/api/runners/${reg.runner.id}/boards`, { token: user.token, json: { boardId: board.id } });
  const processes: RunnerProcess[] = [];
  return {
    base,
    user,
    boardId: board.id,
    runnerId: reg.runner.id,
    dir: tmp.dir,
    configDir,
    dataDir,
    env,
    registerOutput,
    cli,
    start(args = [], extra = {}) {
      // Verbose: tests follow jobs through the runner's per-job log lines.
      const p = new RunnerProcess(["start", "--verbose", ...args], { ...env, ...extra }, tmp.dir);
      processes.push(p);
      return p;
    },
    cleanup() {
      for (const p of processes) p.kill("SIGKILL");
      tmp.cleanup();
    },
    api: (path, init = {}) => api(base, path, { ...init, token: user.token }),
  };
}

export const jobOf = (s: Setup, id: string) => s.api<Job>(`/api/jobs/${id}`);
export const cardOf = async (s: Setup, id: string) =>
  (await s.api<Page<Worktree>>(`/api/boards/${s.boardId}/worktrees`)).items.find((w) => w.id === id);
export const repoOf = async (s: Setup, id: string) =>
  (await s.api<Page<Repo>>(`/api/runners/${s.runnerId}/repos`)).items.find((r) => r.id === id);

/** A fresh local repo added to the setup's runner, once the runner has it ready. */
export async function readyRepo(s: Setup, name: string): Promise<Repo> {
  const path = makeRepo(join(s.dir, name));
  const repo = await s.api<Repo>(`/api/runners/${s.runnerId}/repos`, {
    json: { name, source: { kind: "path", path } },
  });
  return until(`repo ${name} ready`, async () => {
    const r = await repoOf(s, repo.id);
    return r?.status === "ready" ? r : undefined;
  });
}

/** `trellis-runner start` as a child process in its own process group. */
export class RunnerProcess {
  readonly child: ChildProcess;
  output = "";
  readonly exited: Promise<number | null>;

  constructor(args: string[], env: NodeJS.ProcessEnv, cwd: string) {
    this.child = spawn(NODE, [CLI, ...args], { env, cwd, stdio: ["ignore", "pipe", "pipe"], detached: true });
    this.child.stdout!.setEncoding("utf8").on("data", (d: string) => (this.output += d));
    this.child.stderr!.setEncoding("utf8").on("data", (d: string) => (this.output += d));
    this.exited = new Promise((r) => this.child.once("exit", (code) => r(code)));
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Wait for a log line matching `re`, counting only output after `from` characters. */
  waitFor(re: RegExp, timeoutMs = 15_000, from = 0): Promise<RegExpMatchArray> {
    return until(
      `runner output ${re}\n--- output so far ---\n${this.output}`,
      () => this.output.slice(from).match(re),
      timeoutMs,
    );
  }

  /** Process ids of everything this runner started, at any depth (git runs in its own groups). */
  descendants(): { pid: number; pgid: number }[] {
    const rows = execFileSync("ps", ["-eo", "pid=,ppid=,pgid="], { encoding: "utf8" })
      .trim()
      .split("\n")
      .map((l) => l.trim().split(/\s+/).map(Number) as [number, number, number]);
    const found: { pid: number; pgid: number }[] = [];
    const parents = new Set([this.pid]);
    for (let grew = true; grew; ) {
      grew = false;
      for (const [pid, ppid, pgid] of rows) {
        if (parents.has(ppid) && !parents.has(pid)) {
          parents.add(pid);
          found.push({ pid, pgid });
          grew = true;
        }
      }
    }
    return found;
  }

  /** `kill -9` the runner and everything it started, as a crash or power cut would. */
  crash(): void {
    const children = this.descendants();
    this.kill("SIGKILL");
    for (const { pid, pgid } of children) {
      for (const target of [-pgid, pid]) {
        try {
          process.kill(target, "SIGKILL");
        } catch {}
      }
    }
  }

  kill(signal: NodeJS.Signals = "SIGTERM"): void {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    try {
      process.kill(this.pid, signal);
    } catch {}
  }
}
