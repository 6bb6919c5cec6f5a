import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Runtime, RuntimeInfo } from "../../../protocol/index.ts";
import { RUNTIME_PACKAGES } from "../../../protocol/index.ts";

/**
 * Claude Code and Codex are optional on a runner: their SDKs carry the agents' binaries (hundreds
 * of MB), so `trellis-runner` does not depend on them. A runtime is offered when its package can
 * be found from here (the runner's own node_modules, or the global ones `npm i -g` fills).
 */

type SdkRuntime = Exclude<Runtime, "builtin">;

interface Found {
  version: string;
  /** The package's ESM entry, as a file URL for `import()`. */
  entry: string;
}

/** Where `npm i -g` puts packages, for the Node running us and for an npm prefix in the environment. */
function globalRoots(env: Record<string, string | undefined>): string[] {
  const roots = [join(dirname(dirname(process.execPath)), "lib", "node_modules")];
  if (env.npm_config_prefix) roots.push(join(env.npm_config_prefix, "lib", "node_modules"));
  if (env.NPM_CONFIG_PREFIX) roots.push(join(env.NPM_CONFIG_PREFIX, "lib", "node_modules"));
  return roots;
}

function entryOf(pkg: { main?: string; module?: string; exports?: unknown }): string | null {
  const dot = (pkg.exports as Record<string, unknown> | undefined)?.["."];
  if (typeof dot === "string") return dot;
  if (dot && typeof dot === "object") {
    const d = dot as Record<string, unknown>;
    for (const k of ["import", "default"]) if (typeof d[k] === "string") return d[k] as string;
  }
  return pkg.module ?? pkg.main ?? null;
}

export function findPackage(name: string, env: Record<string, string | undefined> = process.env): Found | null {
  const local = createRequire(import.meta.url).resolve.paths(name) ?? [];
  for (const root of [...local, ...globalRoots(env)]) {
    const file = join(root, name, "package.json");
    if (!existsSync(file)) continue;
    try {
      const pkg = JSON.parse(readFileSync(file, "utf8")) as { version?: string; main?: string; exports?: unknown };
      const entry = entryOf(pkg);
      if (!pkg.version || !entry) continue;
      return { version: pkg.version, entry: pathToFileURL(join(root, name, entry)).href };
    } catch {}
  }
  return null;
}

/**
 * Has this machine its own Claude sign-in, which Claude Code would use (a Pro/Max subscription)?
 * `claude setup-token`'s CLAUDE_CODE_OAUTH_TOKEN, or what `claude` keeps after `/login`: the
 * credentials file on Linux, the account record beside the keychain entry on macOS. Only whether
 * one exists is read here; the token never leaves Claude Code.
 */
export function hasClaudeLogin(env: Record<string, string | undefined>): boolean {
  if (env.CLAUDE_CODE_OAUTH_TOKEN?.trim()) return true;
  const home = env.HOME;
  const dir = env.CLAUDE_CONFIG_DIR || (home ? join(home, ".claude") : null);
  const read = (file: string) => {
    try {
      return JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    } catch {
      return null;
    }
  };
  const creds = dir ? read(join(dir, ".credentials.json")) : null;
  if ((creds?.claudeAiOauth as { accessToken?: unknown } | undefined)?.accessToken) return true;
  if (process.platform !== "darwin") return false;
  const config =
    dir && env.CLAUDE_CONFIG_DIR ? read(join(dir, ".claude.json")) : home ? read(join(home, ".claude.json")) : null;
  return Boolean(config?.oauthAccount);
}

/** The runtimes this runner has, with their SDKs' versions (TRELLIS_RUNTIMES=none hides them, for tests). */
export function detectRuntimes(env: Record<string, string | undefined> = process.env): RuntimeInfo[] {
  if (env.TRELLIS_RUNTIMES === "none") return [];
  const out: RuntimeInfo[] = [];
  for (const runtime of Object.keys(RUNTIME_PACKAGES) as SdkRuntime[]) {
    const found = findPackage(RUNTIME_PACKAGES[runtime], env);
    if (!found) continue;
    const version = found.version.slice(0, 40);
    out.push(
      runtime === "claude-code" && hasClaudeLogin(env) ? { runtime, version, signedIn: true } : { runtime, version },
    );
  }
  return out;
}

/** Load a runtime's SDK, or say in words how to add it. */
export async function loadSdk<T>(runtime: SdkRuntime, env: Record<string, string | undefined>): Promise<T> {
  const name = RUNTIME_PACKAGES[runtime];
  const found = findPackage(name, env);
  if (!found) throw new Error(`this runner does not have ${name}: run \`npm i -g ${name}\` and restart it`);
  return (await import(found.entry)) as T;
}
