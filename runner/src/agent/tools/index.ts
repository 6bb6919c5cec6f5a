import { editFileTool, readFileTool, writeFileTool } from "./files.ts";
import { grepTool } from "./grep.ts";
import { listFilesTool } from "./list.ts";
import { spawnSessionTool, todoWriteTool } from "./session.ts";
import { shellTool } from "./shell.ts";
import type { Tool } from "./tool.ts";

export type { Tool, ToolContext, ToolInput, ToolOutcome, ToolPreview } from "./tool.ts";
export { ToolFailure } from "./tool.ts";

/** Every tool the agent has, in the order the model is told about them. */
export const TOOLS: readonly Tool[] = [
  readFileTool,
  listFilesTool,
  grepTool,
  editFileTool,
  writeFileTool,
  shellTool,
  todoWriteTool,
  spawnSessionTool,
];

const BY_NAME = new Map(TOOLS.map((t) => [t.name, t]));

export function toolNamed(name: string): Tool | undefined {
  return BY_NAME.get(name);
}
