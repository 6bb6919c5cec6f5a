import { spawn } from "node:child_process";
import { envNameProblem } from "../../../protocol/index.ts";

/** Credentials the runner holds are never handed to what the agent runs. */
const SECRET_PREFIXES = ["ANTHROPIC_", "OPENAI_", "TRELLIS_"];
const SECRET_WORDS = ["KEY", "TOKEN", "SECRET", "PASSWORD"];

export function isSecretVar(name: string): boolean {
  const upper = name.toUpperCase();
  return SECRET_PREFIXES.some((p) => upper.startsWith(p)) || SECRET_WORDS.some((w) => upper.includes(w));
}

/**
 * The runner's environment minus credentials, for every process the agent starts, plus the
 * prompter's own variables (theirs to give, credentials included). A name that would take over
 * how processes start (PATH, LD_PRELOAD, …) is dropped here too, whatever the edge sent.
 */
export function agentEnv(
  env: Record<string, string | undefined>,
  userEnv: Record<string, string> = {},
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && !isSecretVar(k)) out[k] = v;
  for (const [k, v] of Object.entries(userEnv)) if (!envNameProblem(k)) out[k] = v;
  // Nobody is at a terminal to type a password: a git command that wants one fails instead of hanging.
  out.GIT_TERMINAL_PROMPT = "0";
  return out;
}

export const OUTPUT_CAP = 30_000;

/**
 * 1234567 → "1,234,567". Not toLocaleString: its first call loads ICU's data, ~7 MB the idle
 * runner cannot spare when a tool description is built at import time.
 */
export function thousands(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/**
 * Keeps the first and last halves of a stream within `cap` characters, however much goes through,
 * so a flood of output costs bounded memory and the model still sees how it started and ended.
 */
export class OutputCap {
  private head = "";
  private tail = "";
  private total = 0;
  private readonly cap: number;
  constructor(cap = OUTPUT_CAP) {
    this.cap = cap;
  }

  push(s: string): void {
    this.total += s.length;
    const half = Math.floor(this.cap / 2);
    if (this.head.length < half) {
      const room = half - this.head.length;
      this.head += s.slice(0, room);
      s = s.slice(room);
    }
    if (!s) return;
    this.tail += s;
    if (this.tail.length > this.cap) this.tail = this.tail.slice(-half);
  }

  get truncated(): boolean {
    return this.total > this.cap;
  }

  text(): string {
    if (!this.truncated) return this.head + this.tail;
    const half = Math.floor(this.cap / 2);
    const tail = this.tail.slice(-half);
    const cut = this.total - this.head.length - tail.length;
    return `${this.head}\n\n[output cut: ${thousands(cut)} of ${thousands(this.total)} characters in the middle were left out]\n\n${tail}`;
  }
}

export interface ShellResult {
  output: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  truncated: boolean;
  timedOut: boolean;
  stopped: boolean;
  durationMs: number;
}

export const KILL_GRACE_MS = 1000;

/**
 * `/bin/sh -c command` in its own process group, stdout and stderr interleaved as they come. A
 * timeout or an abort kills the whole group (SIGTERM, then SIGKILL after a second), so a test
 * runner's children or a `sleep` in a pipeline go too.
 */
export function runShell(
  command: string,
  opts: { cwd: string; env: Record<string, string>; timeoutMs: number; signal: AbortSignal },
): Promise<ShellResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    const out = new OutputCap();
    let timedOut = false;
    let stopped = false;
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    let lateTimer: NodeJS.Timeout | undefined;
    const child = spawn("/bin/sh", ["-c", command], {
      cwd: opts.cwd,
      env: opts.env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const group = (sig: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, sig);
      } catch {}
    };
    const finish = (exitCode: number | null, signal: NodeJS.Signals | null, extra?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(killTimer);
      clearTimeout(lateTimer);
      opts.signal.removeEventListener("abort", onAbort);
      if (extra) out.push(extra);
      resolve({
        output: out.text(),
        exitCode,
        signal,
        truncated: out.truncated,
        timedOut,
        stopped,
        durationMs: Math.round(performance.now() - started),
      });
    };
    const kill = () => {
      group("SIGTERM");
      killTimer = setTimeout(() => {
        group("SIGKILL");
        // A grandchild that left the group can hold the pipes open: stop waiting for them.
        lateTimer = setTimeout(() => finish(null, "SIGKILL"), 300);
      }, KILL_GRACE_MS);
    };
    const onAbort = () => {
      stopped = true;
      kill();
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, opts.timeoutMs);
    opts.signal.addEventListener("abort", onAbort, { once: true });
    if (opts.signal.aborted) onAbort();
    child.stdout.setEncoding("utf8").on("data", (d: string) => out.push(d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => out.push(d));
    child.on("error", (err) => finish(null, null, `could not start /bin/sh: ${err.message}`));
    child.on("close", (code, signal) => finish(code, signal));
  });
}
