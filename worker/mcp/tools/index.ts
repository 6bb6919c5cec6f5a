import { boardTools, runnerTools, zoneTools } from "./boards.ts";
import type { Tool } from "./define.ts";
import { mcpServerTools } from "./mcp-servers.ts";
import { messageTools, sessionTools, taskTools } from "./sessions.ts";
import { worktreeTools } from "./worktrees.ts";

/** Every tool `/mcp` offers, in the order `tools/list` shows them. */
export const TOOLS: Tool[] = [
  ...sessionTools,
  ...taskTools,
  ...messageTools,
  ...worktreeTools,
  ...boardTools,
  ...zoneTools,
  ...runnerTools,
  ...mcpServerTools,
] as unknown as Tool[];
