/**
 * The runner's agent core: a provider-neutral tool loop over the official SDKs (loaded on the
 * first task), the worktree-confined tools, permissions and retries. The job loop calls `runTask`
 * with a sink that streams and stores what it reports.
 */

export { AgentError, type AgentErrorCode } from "./errors.ts";
export { runTask } from "./loop.ts";
export { providerReadiness } from "./readiness.ts";
export type { AgentSink, PermissionAnswer, PermissionAsk, RetryPolicy, TaskInput } from "./types.ts";
