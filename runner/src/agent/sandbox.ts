import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, realpath, rm } from "node:fs/promises";
import { platform, tmpdir } from "node:os";
import { delimiter, join, resolve } from "node:path";
import type { SandboxInfo } from "../../../protocol/index.ts";

/**
 * The OS sandbox around the shell tool's commands (`@anthropic-ai/sandbox-runtime`: bubblewrap on
 * Linux, Seatbelt on macOS). A sandboxed command may write only in its worktree, the task's temp
 * folder and the parts of the repository's git folder a commit needs; it cannot see the runner's
 * config folder (its credential) or data folder (state, other worktrees); it has no network but
 * the hosts its session allows, through the sandbox's proxy. What it is refused comes back in its
 * output, as the sandbox words it, for the agent to read.
 *
 * Availability is found once when the runner starts, cheaply (the library itself, ~37 MB, loads
 * with the first sandboxed command: an idle runner never pays for it).
 */

type Manager = typeof import("@anthropic-ai/sandbox-runtime")["SandboxManager"];

const INSTALL_HINT = "apt-get install bubblewrap socat ripgrep (Debian/Ubuntu), then restart the runner";

function onPath(bin: string, path = process.env.PATH ?? ""): boolean {
  return path.split(delimiter).some((dir) => dir && existsSync(join(dir, bin)));
}

function probe(cmd: string, args: string[]): Promise<{ ok: boolean; why: string }> {
  return new Promise((done) => {
    execFile(cmd, args, { timeout: 10_000 }, (err, _out, stderr) => {
      const why = `${stderr}`.trim().split("\n")[0] || (err?.message ?? "");
      done({ ok: !err, why });
    });
  });
}

/** Whether this machine can sandbox commands, and if not, why in words a person can act on. */
export async function detectSandbox(env: Record<string, string | undefined> = process.env): Promise<SandboxInfo> {
  if (env.TRELLIS_SANDBOX === "off") {
    return { state: "off", detail: "the runner was started with TRELLIS_SANDBOX=off" };
  }
  const os = platform();
  if (os === "linux") {
    const missing = [
      ["bwrap", "bubblewrap"],
      ["socat", "socat"],
      ["rg", "ripgrep"],
    ].filter(([bin]) => !onPath(bin!, env.PATH));
    if (missing.length) {
      return {
        state: "unavailable",
        detail: `${missing.map(([, pkg]) => pkg).join(", ")} not installed: ${INSTALL_HINT}`,
      };
    }
    // Installed is not enough: unprivileged user namespaces may be off (a container, a hardened kernel).
    const r = await probe("bwrap", [
      "--ro-bind",
      "/",
      "/",
      "--dev",
      "/dev",
      "--unshare-user",
      "--unshare-pid",
      "--unshare-net",
      "--proc",
      "/proc",
      "--new-session",
      "--die-with-parent",
      "--",
      "true",
    ]);
    if (!r.ok) return { state: "unavailable", detail: `bubblewrap cannot run here: ${r.why}`.slice(0, 500) };
    return { state: "on", kind: "bubblewrap" };
  }
  if (os === "darwin") {
    if (!existsSync("/usr/bin/sandbox-exec")) {
      return { state: "unavailable", detail: "sandbox-exec (Seatbelt) is missing from /usr/bin" };
    }
    const r = await probe("/usr/bin/sandbox-exec", ["-p", "(version 1)(allow default)", "/usr/bin/true"]);
    if (!r.ok) return { state: "unavailable", detail: `sandbox-exec cannot run here: ${r.why}`.slice(0, 500) };
    return { state: "on", kind: "seatbelt" };
  }
  return {
    state: "unavailable",
    detail: `no OS sandbox on ${os}: Linux needs bubblewrap, macOS has Seatbelt`,
  };
}

let manager: Promise<Manager> | undefined;

/** The library's one manager per process, started with the first sandboxed command. */
function loadManager(): Promise<Manager> {
  manager ??= (async () => {
    const { SandboxManager } = await import("@anthropic-ai/sandbox-runtime");
    await SandboxManager.initialize({
      // Per command below: the filesystem rules of its task, the hosts of its session.
      network: { allowedDomains: [], deniedDomains: [] },
      filesystem: { denyRead: [], allowWrite: [], denyWrite: [] },
      // Its own scan for dangerous files runs in the runner's cwd, not the worktree: keep it shallow.
      mandatoryDenySearchDepth: 1,
    });
    return SandboxManager;
  })();
  manager.catch(() => {
    manager = undefined;
  });
  return manager;
}

/**
 * Stop the manager's proxies and the socat bridges it started (processes of their own), when the
 * runner stops: left running, each restart would leave another set behind.
 */
export async function stopSandbox(): Promise<void> {
  const m = manager;
  manager = undefined;
  if (!m) return;
  try {
    await (await m).reset();
  } catch {
    // It never started, or is gone already.
  }
}

/** What one task's commands may touch. */
export interface FsRules {
  denyRead: string[];
  allowRead: string[];
  allowWrite: string[];
  denyWrite: string[];
}

function gitDirs(root: string): Promise<{ gitDir: string; commonDir: string } | null> {
  return new Promise((done) => {
    execFile(
      "git",
      ["rev-parse", "--path-format=absolute", "--git-dir", "--git-common-dir"],
      { cwd: root, timeout: 10_000 },
      (err, out) => {
        const [gitDir, commonDir] = `${out}`.trim().split("\n");
        done(err || !gitDir || !commonDir ? null : { gitDir: resolve(gitDir), commonDir: resolve(commonDir) });
      },
    );
  });
}

/**
 * The worktree and temp folder writable; in git, what a commit writes (objects, refs, logs, the
 * worktree's own folder) but never what the runner's own git commands would run or follow (hooks,
 * config, the `.git` file, the links between a worktree and its repository).
 */
async function rulesFor(root: string, tmp: string | null, hidden: string[]): Promise<FsRules> {
  const rules: FsRules = { denyRead: hidden, allowRead: [root], allowWrite: tmp ? [root, tmp] : [root], denyWrite: [] };
  const git = await gitDirs(root);
  if (!git) return rules;
  const { gitDir, commonDir } = git;
  const inside = (p: string) => p === root || p.startsWith(`${root}/`);
  const existing = (...ps: string[]) => ps.filter((p) => existsSync(p));
  if (inside(commonDir)) {
    // The worktree is the repository itself: only its hooks and config are out of reach.
    rules.denyWrite.push(
      join(commonDir, "hooks"),
      join(commonDir, "config"),
      ...existing(join(commonDir, "config.worktree")),
    );
    return rules;
  }
  const writable = ["objects", "refs", "logs"];
  rules.allowWrite.push(gitDir, ...writable.map((d) => join(commonDir, d)));
  // Where the repository is hidden (a clone in the data folder), the rest of it is readable, entry by
  // entry: a read-only bind of the whole folder would be laid over the writable ones inside it.
  const entries = await readdir(commonDir).catch(() => []);
  rules.allowRead.push(
    ...entries.filter((e) => !writable.includes(e) && e !== "worktrees").map((e) => join(commonDir, e)),
  );
  rules.denyWrite.push(
    ...existing(join(root, ".git"), ...["commondir", "gitdir", "config.worktree", "hooks"].map((f) => join(gitDir, f))),
  );
  return rules;
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * What a runtime that runs inside the sandbox as a whole (Codex) needs beyond a command's rules:
 * its own home writable, what in it is a credential hidden, and, for a read-only session, nothing
 * of the worktree or its repository writable.
 */
export interface MoreRules {
  allowWrite?: string[];
  /** Inside what may be written: these may not (each must exist). */
  denyWrite?: string[];
  denyRead?: string[];
  readOnly?: boolean;
}

/** One command ready to spawn with `/bin/sh -c`, and what to do when it has ended. */
export interface Wrapped {
  command: string;
  /** The sandbox's account of what it refused (network denials), added to the output; releases the command. */
  finish(output: string): string;
}

/** One task's view of the sandbox: its temp folder and its rules, for every command it runs. */
export interface TaskSandbox {
  readonly confined: boolean;
  /** What the transcript says at the task's start. */
  readonly notice: string;
  wrap(command: string, signal: AbortSignal): Promise<Wrapped>;
  close(): Promise<void>;
}

/**
 * A task whose runtime sandboxes its own commands (Claude Code, on the same library): the rules it
 * is to apply, or why there are none. Its temp folder is its own.
 */
export type RuntimeSandbox =
  | { confined: true; notice: string; fs: FsRules; hosts: string[] }
  | { confined: false; notice: string };

const confinedNotice = (kind: string | undefined, hosts: readonly string[]) =>
  `Commands run sandboxed (${kind}): writes only in the worktree and a temp folder, the runner's folders hidden, ${
    hosts.length ? `network only to ${hosts.join(", ")}` : "network off"
  }.`;

/** The runner's sandbox: found once at start, opened for each task. */
export class ShellSandbox {
  readonly info: SandboxInfo;
  /** Folders no command may see: the runner's config (credential) and data folders. */
  private readonly hidden: string[];

  constructor(info: SandboxInfo, hidden: string[] = []) {
    this.info = info;
    this.hidden = hidden;
  }

  /** No sandbox, by the runner owner's choice (tests of the loop itself use it too). */
  static off(detail = "the runner was started with TRELLIS_SANDBOX=off"): ShellSandbox {
    return new ShellSandbox({ state: "off", detail });
  }

  get confined(): boolean {
    return this.info.state === "on";
  }

  // A hidden folder that holds the worktree is hidden around it: allowRead opens the worktree again.
  private hiddenPaths(): Promise<string[]> {
    return Promise.all(this.hidden.map((p) => realpath(p).catch(() => resolve(p))));
  }

  async forRuntime(root: string, allowedHosts: readonly string[]): Promise<RuntimeSandbox> {
    if (!this.confined) return { confined: false, notice: unconfined(this.info).notice };
    const hosts = [...allowedHosts];
    const fs = await rulesFor(root, null, await this.hiddenPaths());
    return { confined: true, notice: confinedNotice(this.info.kind, hosts), fs, hosts };
  }

  async forTask(root: string, allowedHosts: readonly string[], more: MoreRules = {}): Promise<TaskSandbox> {
    if (!this.confined) return unconfined(this.info);
    const tmp = await realpath(await mkdtemp(join(tmpdir(), "trellis-task-")));
    const rules = await rulesFor(root, tmp, await this.hiddenPaths());
    if (more.readOnly) rules.allowWrite = [tmp];
    rules.allowWrite.push(...(more.allowWrite ?? []));
    rules.denyWrite.push(...(more.denyWrite ?? []));
    rules.denyRead.push(...(more.denyRead ?? []));
    const hosts = [...allowedHosts];
    return {
      confined: true,
      notice: confinedNotice(this.info.kind, hosts),
      async wrap(command, signal) {
        const m = await loadManager();
        const id = randomBytes(16).toString("base64url");
        // The sandbox points TMPDIR at a folder of its own; this task's is the one it may write.
        const script = `TMPDIR=${quote(tmp)}; export TMPDIR\n${command}`;
        const wrapped = await m.wrapWithSandbox(script, "/bin/sh", { filesystem: rules }, signal, {
          commandId: id,
          commandText: command,
        });
        if (hosts.length) m.registerCommandNetworkLists(id, { allowedDomains: hosts });
        return {
          command: wrapped,
          finish(output) {
            m.unregisterCommandNetworkLists(id);
            // Mount points bubblewrap made for denied paths that did not exist are removed.
            m.cleanupAfterCommand();
            return m.annotateStderrWithSandboxFailures(id, output);
          },
        };
      },
      async close() {
        await rm(tmp, { recursive: true, force: true });
      },
    };
  }
}

function unconfined(info: SandboxInfo): TaskSandbox {
  const notice =
    info.state === "off"
      ? `Commands run without a sandbox: ${info.detail ?? "it is off on this runner"}.`
      : `No sandbox on this machine: ${info.detail ?? "none is available"}. Commands run with the runner's own access to files and network.`;
  return {
    confined: false,
    notice,
    async wrap(command) {
      return { command, finish: (output) => output };
    },
    async close() {},
  };
}
