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

/** The runtimes this runner has, with their SDKs' versions (TRELLIS_RUNTIMES=none hides them, for tests). */
export function detectRuntimes(env: Record<string, string | undefined> = process.env): RuntimeInfo[] {
  if (env.TRELLIS_RUNTIMES === "none") return [];
  const out: RuntimeInfo[] = [];
  for (const runtime of Object.keys(RUNTIME_PACKAGES) as SdkRuntime[]) {
    const found = findPackage(RUNTIME_PACKAGES[runtime], env);
    if (found) out.push({ runtime, version: found.version.slice(0, 40) });
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
