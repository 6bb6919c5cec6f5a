import { z } from "zod";

/**
 * Every error code the edge answers with, in one list, so a program (the board, the runner, an
 * MCP client) can branch on a code rather than on a status or a message. The message says what
 * to do in words; the code says which case it is. A code not listed here does not compile.
 */
export const ERROR_CODES = [
  // requests
  "bad_request",
  "bad_json",
  "bad_content_type",
  "too_large",
  "not_found",
  "http_error",
  "internal",
  "upgrade_required",
  "rate_limited",
  // who is asking
  "unauthorized",
  "invalid_token",
  "invalid_credentials",
  "invalid_refresh_token",
  "token_reused",
  "wrong_credential",
  "invalid_credential",
  "invalid_registration",
  "invalid_ticket",
  "bad_origin",
  "bad_host",
  "single_user_off",
  "no_password",
  // boards and members
  "forbidden",
  "insufficient_role",
  "already_member",
  "last_owner",
  "email_taken",
  "bad_zone",
  "conflict",
  // comments
  "not_author",
  // runners, repos, worktrees
  "not_runner_owner",
  "runner_revoked",
  "runner_not_shared",
  "invalid_name",
  "repo_exists",
  "repo_not_ready",
  "repo_not_failed",
  "repo_busy",
  "repo_in_use",
  "not_repo_manager",
  "worktree_exists",
  "worktree_busy",
  "branch_in_use",
  "branch_exists",
  "branch_not_ours",
  "worktree_not_failed",
  // agent sessions
  "worktree_not_ready",
  "provider_unavailable",
  "runtime_unavailable",
  "task_not_queued",
  "request_answered",
  // keys and environment variables
  "secret_unreadable",
  // MCP servers attached to sessions
  "mcp_server_exists",
  "agents_cannot_add_servers",
  // jobs (the runner's side)
  "stale_lease",
  "concurrent_events",
  "invalid_result",
  "not_releasable",
  // shared terminals
  "terminal_owner_only",
  "terminal_read_only",
  "terminal_ended",
  "runner_offline",
  "too_many_terminals",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Every error body the API returns: a code a program can branch on, a message a person can act on. */
export const ErrorBody = z.object({
  error: z.object({ code: z.string(), message: z.string() }),
});
export type ErrorBody = z.infer<typeof ErrorBody>;
