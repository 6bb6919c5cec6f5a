import { spawn } from "node:child_process";

/** git failed: the message is git's own stderr, which is what the user sees on the board. */
export class GitError extends Error {
  readonly args: string[];
  readonly exitCode: number | null;
  readonly stderr: string;
  constructor(args: string[], exitCode: number | null, stderr: string) {
    super(stderr.trim() || `git ${args[0]} failed (exit ${exitCode})`);
    this.name = "GitError";
    this.args = args;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

export interface GitOptions {
  cwd?: string;
  /** Aborting kills git and everything it started (hooks, ssh, remote helpers). */
  signal?: AbortSignal;
}

const MAX_OUTPUT = 16 * 1024 * 1024;
const KILL_GRACE_MS = 3000;

/**
 * Run real git with an argument list (never a shell string). git gets its own process group, so a
 * cancel can kill its hooks and helpers too, and a Ctrl-C at the terminal does not interrupt it
 * while the runner drains.
 */
export function git(args: string[], opts: GitOptions = {}): Promise<string> {
  const { signal } = opts;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const child = spawn("git", args, {
      cwd: opts.cwd,
      // Never wait for a password nobody will type: fail instead.
      env: { ...process.env, GIT_TERMINAL_PROMPT: "0" },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      if (stdout.length < MAX_OUTPUT) stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      if (stderr.length < MAX_OUTPUT) stderr += d;
    });
    let killTimer: NodeJS.Timeout | undefined;
    const killGroup = (sig: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, sig);
      } catch {}
    };
    const onAbort = () => {
      killGroup("SIGTERM");
      killTimer = setTimeout(() => killGroup("SIGKILL"), KILL_GRACE_MS);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    child.on("error", (err: NodeJS.ErrnoException) => {
      signal?.removeEventListener("abort", onAbort);
      reject(err.code === "ENOENT" ? new Error("git is not installed or not on PATH: install git and try again") : err);
    });
    child.on("close", (code) => {
      signal?.removeEventListener("abort", onAbort);
      clearTimeout(killTimer);
      if (signal?.aborted) reject(signal.reason);
      else if (code === 0) resolve(stdout);
      else reject(new GitError(args, code, stderr));
    });
  });
}

/** git that answers yes/no: exit 0 is yes, a git error is no. */
export async function gitOk(args: string[], opts: GitOptions = {}): Promise<boolean> {
  try {
    await git(args, opts);
    return true;
  } catch (err) {
    if (err instanceof GitError) return false;
    throw err;
  }
}

export async function gitVersion(): Promise<string> {
  const out = await git(["--version"]);
  return out.trim().replace(/^git version\s+/, "");
}

export function lines(out: string): string[] {
  return out.split("\n").filter((l) => l.length > 0);
}
