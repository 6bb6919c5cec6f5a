import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { AppError } from "../lib/errors.ts";

/** What a service's "X not found" is about, by the argument that named it, and where to look. */
const ARGUMENT_OF: Record<string, { arg: string; hint: string }> = {
  Board: { arg: "boardId", hint: "List your boards with trellis_boards_list." },
  Session: { arg: "sessionId", hint: "List the board's sessions with trellis_sessions_list." },
  Worktree: { arg: "worktreeId", hint: "List the board's worktrees with trellis_worktrees_list." },
  Zone: { arg: "zoneId", hint: "List the board's zones with trellis_zones_list." },
  Task: { arg: "taskId", hint: "List the session's tasks with trellis_tasks_list." },
  Message: { arg: "messageId", hint: "List the session's messages with trellis_messages_list." },
  Repo: { arg: "repoId", hint: "Use a repo on a runner shared with this board (trellis_runners_list)." },
  Runner: { arg: "runnerId", hint: "List the runners with trellis_runners_list." },
};

/**
 * A refusal as a tool error the model can act on: `code: message`, the message naming the argument
 * that was wrong and what to do. The code is the same one REST answers with.
 */
export function toolError(code: string, message: string): CallToolResult {
  return { content: [{ type: "text", text: `${code}: ${message}` }], isError: true };
}

export function fromServiceError(err: unknown, args: Record<string, unknown>): CallToolResult {
  if (!(err instanceof AppError)) {
    console.error("mcp tool failed", err);
    return toolError("internal", "Something went wrong on our side; try again.");
  }
  const missing = err.code === "not_found" ? /^(\w+) not found\.$/.exec(err.message)?.[1] : undefined;
  const about = missing ? ARGUMENT_OF[missing] : undefined;
  if (about && about.arg in args) {
    return toolError(
      err.code,
      `${about.arg}: ${missing} not found (or you are not a member of its board). ${about.hint}`,
    );
  }
  return toolError(err.code, err.message);
}
