import { arch, release, type } from "node:os";
import type { RunnerInfo } from "../../protocol/index.ts";
import pkg from "../package.json" with { type: "json" };
import { gitVersion } from "./git.ts";

export const VERSION: string = pkg.version;

/**
 * Agent providers this runner can serve. None yet: sessions do not exist, and advertising a provider
 * tells the board it may start one here. Each provider is listed once the runner really runs it.
 */
export const PROVIDERS: string[] = [];

/** What the runner tells the edge about itself: shown on the runner's card in the app. */
export async function runnerInfo(): Promise<RunnerInfo> {
  return {
    version: VERSION,
    os: `${type()} ${release()} ${arch()}`.slice(0, 80),
    gitVersion: (await gitVersion()).slice(0, 80),
    providers: PROVIDERS,
  };
}
