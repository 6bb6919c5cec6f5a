import { arch, release, type } from "node:os";
import type { RunnerInfo } from "../../protocol/index.ts";
import pkg from "../package.json" with { type: "json" };
import { providerReadiness } from "./agent/readiness.ts";
import { gitVersion } from "./git.ts";
import { detectRuntimes } from "./runtimes/detect.ts";

export const VERSION: string = pkg.version;

/** What the runner tells the edge about itself: shown on the runner's card in the app. */
export async function runnerInfo(env: Record<string, string | undefined> = process.env): Promise<RunnerInfo> {
  const agents = providerReadiness(env);
  return {
    version: VERSION,
    os: `${type()} ${release()} ${arch()}`.slice(0, 80),
    gitVersion: (await gitVersion()).slice(0, 80),
    providers: agents.filter((a) => a.ready).map((a) => a.provider),
    agents,
    runtimes: detectRuntimes(env),
    // The owner's consent to run stdio MCP servers that other writers on its boards added.
    ...(env.TRELLIS_MCP_BOARD_STDIO === "1" ? { mcpBoardStdio: true } : {}),
    // …and to let the boards' HTTP servers reach this machine and its private networks.
    ...(env.TRELLIS_MCP_BOARD_LOCAL === "1" ? { mcpBoardLocal: true } : {}),
  };
}
