import type { PermissionMode } from "../../../protocol/index.ts";

/**
 * What a tool does, as far as asking goes: reading never asks; edits and shell depend on the mode.
 * `mcp` is an MCP server's tool that its server does not mark read-only: it is treated like shell.
 */
export type ToolKind = "read" | "edit" | "shell" | "mcp";

export type Gate = "run" | "ask" | "refuse";

/**
 * ask: edits, shell and MCP tools ask. auto-edit: shell and MCP tools ask. full: nothing asks. read-only: edits and shell
 * and MCP tools are refused. A tool approved "for the rest of the session" runs without asking, except in
 * read-only, which is a promise that nothing changes.
 */
export function gate(kind: ToolKind, mode: PermissionMode, approvedForSession: boolean): Gate {
  if (kind === "read") return "run";
  if (mode === "read-only") return "refuse";
  if (mode === "full" || approvedForSession) return "run";
  if (mode === "auto-edit") return kind === "edit" ? "run" : "ask";
  return "ask";
}
