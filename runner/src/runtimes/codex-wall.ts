import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ShellSandbox } from "../agent/sandbox.ts";

/**
 * The runner's sandbox around the Codex CLI process as a whole. Codex's own sandbox (read-only or
 * workspace-write) lets its commands read anywhere, the runner's credential and data folders
 * among them, and its full mode has no wall at all. So the SDK spawns Codex through a wrapper that
 * starts it inside the same sandbox as the built-in loop's commands: the runner's folders hidden,
 * writes only in the worktree, a temp folder and Codex's home (its threads and logs), and the
 * network only through the sandbox's proxy, to the model's host, the task's MCP servers and the
 * hosts the session allows. In a read-only session (ask, read-only) nothing of the worktree or its
 * repository is writable.
 *
 * Codex's own sandbox does not run inside it: its bubblewrap cannot start in the namespaces the
 * runner's sandbox makes (the proc it mounts is another pid namespace's), so every command would
 * fail. What this costs: Codex's commands share its process space, and could read its environment
 * (the model key it was given, the session's MCP token), as any command in Codex's full mode could.
 */

/** The Codex binary the SDK would run (a path override skips its lookup), and the folders it puts on PATH. */
export function codexBinary(sdkEntry: string): { bin: string; pathDirs: string[] } | null {
  const triple =
    process.platform === "linux"
      ? { x64: "x86_64-unknown-linux-musl", arm64: "aarch64-unknown-linux-musl" }[process.arch as string]
      : process.platform === "darwin"
        ? { x64: "x86_64-apple-darwin", arm64: "aarch64-apple-darwin" }[process.arch as string]
        : undefined;
  if (!triple) return null;
  const platformPkg = `@openai/codex-${process.platform}-${process.arch}`;
  try {
    const cli = createRequire(fileURLToPath(sdkEntry)).resolve("@openai/codex/package.json");
    const vendor = join(dirname(createRequire(cli).resolve(`${platformPkg}/package.json`)), "vendor", triple);
    for (const [bin, path] of [
      [join(vendor, "bin", "codex"), join(vendor, "codex-path")],
      [join(vendor, "codex", "codex"), join(vendor, "path")],
    ] as const) {
      if (existsSync(bin)) return { bin, pathDirs: existsSync(path) ? [path] : [] };
    }
  } catch {}
  return null;
}

/** The hosts of these URLs with their ports, as the sandbox's proxy names them (`host:port`). */
export function hostsOf(urls: readonly string[]): string[] {
  const out = new Set<string>();
  for (const u of urls) {
    try {
      const url = new URL(u);
      out.add(`${url.hostname}:${url.port || (url.protocol === "https:" ? "443" : "80")}`);
    } catch {}
  }
  return [...out];
}

/** Codex's own config and global instructions in its home (its sessions and logs stay writable). */
const CODEX_CONFIG_FILES = ["config.toml", "AGENTS.md"];

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The script the SDK spawns instead of Codex. The sandbox's command is fixed when the task starts,
 * but Codex's arguments come only with the spawn: the script quotes them into a variable the
 * command inside the sandbox reads back. Inside, everything goes through the proxy, loopback too
 * (a loopback host outside is not this network namespace's).
 */
export function wrapperScript(wrapped: string): string {
  return [
    "#!/bin/bash",
    "q=",
    // Each argument single-quoted, its own single quotes as '\'' (bash's replacement, no subshell).
    String.raw`for a in "$@"; do q="$q '${"$"}{a//\'/\'\\\'\'}'"; done`,
    'export TRELLIS_CODEX_ARGV="$q"',
    wrapped,
    "",
  ].join("\n");
}

/** What Codex runs as, inside the sandbox: itself, with the arguments the wrapper was given. */
export const innerCommand = (bin: string) =>
  `b=${quote(bin)}; a=$TRELLIS_CODEX_ARGV; unset TRELLIS_CODEX_ARGV NO_PROXY no_proxy; eval "exec \\"\\$b\\"$a"`;

export interface CodexWall {
  /** For the SDK's `codexPathOverride`. */
  path: string;
  /** Prepend to Codex's PATH (the SDK does only for the binary it finds itself). */
  pathDirs: string[];
  /** The sandbox's account of what it refused; releases the task's temp folder and proxy rules. */
  close(): Promise<void>;
}

export async function wallCodex(opts: {
  sandbox: ShellSandbox;
  sdkEntry: string;
  root: string;
  codexHome: string;
  hosts: string[];
  readOnly: boolean;
  signal: AbortSignal;
}): Promise<CodexWall> {
  const found = codexBinary(opts.sdkEntry);
  if (!found) throw new Error("the Codex CLI binary for this platform is missing from @openai/codex");
  // A ChatGPT sign-in Codex keeps in its home is the runner owner's, not a command's (Trellis's
  // provider takes a key). Only one that exists: a denied path that does not is made unreadable.
  const auth = join(opts.codexHome, "auth.json");
  // What Codex reads as its owner's instructions: a command that wrote them would run its own
  // commands, unsandboxed, the next time the owner runs Codex. Made (empty, as Codex takes a missing
  // one) where missing, so there is a file to hold read-only.
  const config = CODEX_CONFIG_FILES.map((f) => join(opts.codexHome, f));
  for (const f of config) if (!existsSync(f)) writeFileSync(f, "", { flag: "a" });
  const task = await opts.sandbox.forTask(opts.root, opts.hosts, {
    allowWrite: [opts.codexHome],
    denyWrite: config,
    denyRead: existsSync(auth) ? [auth] : [],
    readOnly: opts.readOnly,
  });
  const dir = mkdtempSync(join(tmpdir(), "trellis-codex-"));
  try {
    const wrapped = await task.wrap(innerCommand(found.bin), opts.signal);
    const path = join(dir, "codex");
    writeFileSync(path, wrapperScript(wrapped.command), { mode: 0o700 });
    return {
      path,
      pathDirs: found.pathDirs,
      async close() {
        wrapped.finish("");
        rmSync(dir, { recursive: true, force: true });
        await task.close();
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    await task.close();
    throw err;
  }
}
