import { arch, release, type } from "node:os";
import type { RunnerInfo } from "../../protocol/index.ts";
import pkg from "../package.json" with { type: "json" };
import { gitVersion } from "./git.ts";

export const VERSION: string = pkg.version;

/** Agent providers this runner can drive (the sessions themselves come in a later version). */
export const PROVIDERS = ["anthropic", "openai"];

/** What the runner tells the edge about itself: shown on the runner's card in the app. */
export async function runnerInfo(): Promise<RunnerInfo> {
  return {
    version: VERSION,
    os: `${type()} ${release()} ${arch()}`.slice(0, 80),
    gitVersion: (await gitVersion()).slice(0, 80),
    providers: PROVIDERS,
  };
}
