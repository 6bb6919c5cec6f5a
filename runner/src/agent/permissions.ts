import type { PermissionMode } from "../../../protocol/index.ts";

/** What a tool does, as far as asking goes: reading never asks; edits and shell depend on the mode. */
export type ToolKind = "read" | "edit" | "shell";

export type Gate = "run" | "ask" | "refuse";

/**
 * ask: edits and shell ask. auto-edit: shell asks. full: nothing asks. read-only: edits and shell
 * are refused. A tool approved "for the rest of the session" runs without asking, except in
 * read-only, which is a promise that nothing changes.
 */
export function gate(kind: ToolKind, mode: PermissionMode, approvedForSession: boolean): Gate {
  if (kind === "read") return "run";
  if (mode === "read-only") return "refuse";
  if (mode === "full" || approvedForSession) return "run";
  if (mode === "auto-edit") return kind === "edit" ? "run" : "ask";
  return "ask";
}
