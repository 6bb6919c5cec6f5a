import { z } from "zod";
import { Name, Text } from "./common.ts";
import { ProviderReadiness, RUNTIME_PACKAGES, type Runtime, RuntimeInfo } from "./sessions.ts";
import { TerminalAccess } from "./terminals.ts";

/**
 * The runner protocol (`/runner/*`, runner credential as `Authorization: Bearer trl_run_…`) and
 * the runners themselves. Repos, worktrees and jobs have files of their own. The runner only dials out: it claims jobs
 * over HTTPS and holds one WebSocket to its RunnerLink, over which the edge wakes it.
 *
 * Runner API (all JSON; errors are `{ error: { code, message } }`):
 * - `POST /runner/register` `RegisterRunnerBody` → 201 `RegisterRunnerResult` (no credential yet).
 * - `GET  /runner/me` → `Runner` (who this credential is).
 * - `GET  /runner/link?info=<url-encoded JSON RunnerInfo>&v=LINK_PROTOCOL` WebSocket upgrade (`protocol/link.ts`).
 * - `POST /runner/jobs/claim` → 200 `JobClaim`, or 204 when nothing is queued for this runner.
 * - `POST /runner/jobs/:id/start` `LeaseBody` → `HeartbeatResult` (claimed → running, lease renewed;
 *   the runner may send it alongside the work: completing from `claimed` is accepted too).
 * - `POST /runner/jobs/:id/heartbeat` `LeaseBody` → `HeartbeatResult`.
 * - `POST /runner/jobs/:id/events` `JobEventsBody` → `JobEventsResult`.
 * - `POST /runner/jobs/:id/complete` `CompleteJobBody` → `Job`.
 * - `GET  /runner/worktrees` → `RunnerWorktrees` (what to watch), `POST /runner/git` `GitReport` →
 *   `GitReportResult` (git state that changed on disk; `protocol/worktrees.ts`).
 * Every job write carries the claim's lease token; a stale one gets 409 `stale_lease` and changes
 * nothing: drop the job's work, it was handed to another claim or ended. A user token on
 * `/runner/*` gets 401 `wrong_credential`; a revoked or unknown credential gets 401 `invalid_credential`.
 */

/**
 * Whether the runner confines its agents' shell commands (bubblewrap on Linux, Seatbelt on macOS):
 * `on`; `unavailable` (the machine lacks what it needs: `detail` says what, in words a person can
 * act on); `off` (its owner started it with TRELLIS_SANDBOX=off).
 */
export const SandboxInfo = z.object({
  state: z.enum(["on", "unavailable", "off"]),
  kind: z.enum(["bubblewrap", "seatbelt"]).optional(),
  detail: Text.max(500).optional(),
});
export type SandboxInfo = z.infer<typeof SandboxInfo>;

/** The pseudo-tool of the one question a session without a sandbox asks in `full` mode. */
export const UNSANDBOXED_TOOL = "unsandboxed";

export const RunnerInfo = z.object({
  version: Text.max(40),
  os: Text.max(80),
  gitVersion: Text.max(80),
  /** The providers this runner can serve now (it has their key or base URL). */
  providers: z.array(Text.max(40)).max(20),
  /** Each provider with why it can or cannot be served (a runner from before sessions omits it). */
  agents: z.array(ProviderReadiness).max(10).optional(),
  /**
   * Its owner started it with TRELLIS_MCP_BOARD_STDIO=1: it runs stdio MCP servers that any writer
   * on its boards added, not only the ones its owner added (`protocol/mcp-servers.ts`), as the
   * owner's `Runner.boardMcpStdio` switch does; the variable overrides the switch when it is off.
   */
  mcpBoardStdio: z.boolean().optional(),
  /**
   * Started with TRELLIS_MCP_BOARD_LOCAL=1: HTTP MCP servers any writer added may point at this
   * machine or its private networks, not only the ones its owner added (`runner/src/agent/mcp-reach.ts`).
   */
  mcpBoardLocal: z.boolean().optional(),
  /** How its agents' shell commands are confined (a runner from before the sandbox omits it). */
  sandbox: SandboxInfo.optional(),
  /** Agent runtimes besides the built-in loop whose SDK package it can load, with versions. */
  runtimes: z.array(RuntimeInfo).max(10).optional(),
});
export type RunnerInfo = z.infer<typeof RunnerInfo>;

/** How a runner's owner adds a runtime's SDK, as the refusal, the start-session dialog and the runner card say it. */
export const runtimeInstallHint = (runtime: Exclude<Runtime, "builtin">): string =>
  `run \`npm i -g ${RUNTIME_PACKAGES[runtime]}\` on that machine and restart the runner`;

/**
 * Why a runner cannot run a runtime ("runner 'x' does not have <package>: run …"), or null when it
 * can. One sentence for the edge's refusal and the board's disabled choice, so they never differ.
 * A runner that did not report its runtimes (one from before them) has none.
 */
export function runtimeUnavailable(
  runner: { name: string; info: Pick<Partial<RunnerInfo>, "runtimes"> },
  runtime: Runtime,
): string | null {
  if (runtime === "builtin" || runner.info.runtimes?.some((r) => r.runtime === runtime)) return null;
  return `runner '${runner.name}' does not have ${RUNTIME_PACKAGES[runtime]}: ${runtimeInstallHint(runtime)}`;
}

export const Runner = z.object({
  id: z.string(),
  ownerId: z.string(),
  name: z.string(),
  status: z.enum(["pending", "online", "offline", "revoked"]),
  lastSeenAt: z.number().nullable(),
  info: RunnerInfo.partial(),
  /** Boards the owner shared it with (only shown to the owner). */
  boardIds: z.array(z.string()),
  createdAt: z.number(),
  /**
   * Who may open and type in terminals on this machine: its owner only, or also the members of the
   * boards it is shared with (viewers of those boards may then watch). Set by the owner.
   */
  terminalAccess: TerminalAccess,
  /**
   * Its owner lets it run the stdio MCP servers that any writer on the boards it is shared with
   * added, not only the ones the owner added (`protocol/mcp-servers.ts`). Set by the owner; off by
   * default. A runner started with TRELLIS_MCP_BOARD_STDIO=1 (`info.mcpBoardStdio`) runs them
   * whatever this says.
   */
  boardMcpStdio: z.boolean(),
});
export type Runner = z.infer<typeof Runner>;

/** `PUT /api/runners/:runnerId/board-mcp-stdio` (its owner only) → `Runner`. */
export const BoardMcpStdioBody = z.object({ boardMcpStdio: z.boolean() });

export const CreateRunnerBody = z.object({ name: Name });

/**
 * How the commands Trellis prints invoke the runner. `trellis-runner` is not on npm yet, so they run
 * it from a clone of Trellis: `npm run runner -- …` in the clone's root folder, which runs on the
 * Node 22 the clone ships whatever the machine's own Node is. Once it is published they become
 * `npx trellis-runner …`, from anywhere; the app says so next to the command.
 */
export const RUNNER_CLI = "npm run runner --";
export const RUNNER_CLI_PUBLISHED = "npx trellis-runner";
/** `POST /api/runners` answer: the one-time registration token and the command to paste. */
export const RunnerRegistration = z.object({
  runner: Runner,
  registrationToken: z.string(),
  expiresAt: z.number(),
  command: z.string(),
});
export type RunnerRegistration = z.infer<typeof RunnerRegistration>;
export const ShareRunnerBody = z.object({ boardId: Text.min(1).max(64) });

/** `POST /runner/register` (no credential yet: the one-time token is the proof). */
export const RegisterRunnerBody = z.object({
  token: Text.min(1).max(200),
  name: Name.optional(),
  info: RunnerInfo,
});
export const RegisterRunnerResult = z.object({ runnerId: z.string(), credential: z.string(), name: z.string() });
