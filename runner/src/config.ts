import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { z } from "zod";
import { writeFileAtomic } from "./files.ts";

/** `$TRELLIS_CONFIG_DIR`, else `$XDG_CONFIG_HOME/trellis`, else `~/.config/trellis`. */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TRELLIS_CONFIG_DIR) return resolve(env.TRELLIS_CONFIG_DIR);
  if (env.XDG_CONFIG_HOME) return join(resolve(env.XDG_CONFIG_HOME), "trellis");
  return join(homedir(), ".config", "trellis");
}

/** `--data-dir`, else `$TRELLIS_DATA_DIR`, else `~/.trellis`. */
export function dataDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const dir = flag ?? env.TRELLIS_DATA_DIR ?? join(homedir(), ".trellis");
  return resolve(dir === "~" || dir.startsWith("~/") ? join(homedir(), dir.slice(1)) : dir);
}

const Registration = z.object({
  url: z.string(),
  runnerId: z.string(),
  name: z.string(),
  /** The long-lived runner credential. This file is 0600 and the credential is never printed. */
  credential: z.string(),
  registeredAt: z.number(),
});
export type Registration = z.infer<typeof Registration>;

const ConfigFile = z.object({ version: z.literal(1), runners: z.array(Registration) });
type ConfigFile = z.infer<typeof ConfigFile>;

export const configPath = (dir = configDir()) => join(dir, "runner.json");

export async function readConfig(dir = configDir()): Promise<ConfigFile> {
  let text: string;
  try {
    text = await readFile(configPath(dir), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { version: 1, runners: [] };
    throw err;
  }
  const parsed = ConfigFile.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`${configPath(dir)} is not a runner config: move it away and register again`);
  return parsed.data;
}

/** One registration per edge URL: registering again with the same URL replaces it. */
export async function saveRegistration(reg: Registration, dir = configDir()): Promise<string> {
  const config = await readConfig(dir);
  config.runners = [...config.runners.filter((r) => r.url !== reg.url), reg];
  const path = configPath(dir);
  await writeFileAtomic(path, `${JSON.stringify(config, null, 2)}\n`, 0o600);
  return path;
}

/** The registration for `url`, or the most recent one when no URL is given. */
export async function findRegistration(url: string | undefined, dir = configDir()): Promise<Registration | undefined> {
  const { runners } = await readConfig(dir);
  if (url) return runners.find((r) => r.url === url);
  return runners.at(-1);
}
