import { z } from "zod";
import { Text } from "./common.ts";
import { StreamBatch, StreamFrame } from "./room.ts";
import { Decision, PermissionMode } from "./sessions.ts";
import { terminalLinkMessages, terminalRunnerFrames } from "./terminals.ts";

/**
 * The link: one WebSocket per runner to its RunnerLink (`GET /runner/link` with `Upgrade:
 * websocket`, `Authorization: Bearer trl_run_…`, the runner's `RunnerInfo` as URL-encoded JSON in
 * `info` (optional: without it the last reported info is kept), and `v=LINK_PROTOCOL`).
 *
 * On connect the runner shows online; the edge sends one `wake` at once, so "claim until 204, or
 * until a claim says `more: false`, on every wake" is the whole job loop. Send the text frame
 * `ping` every `LINK_PING_MS`; the edge answers `pong` without waking. A socket silent for
 * `LINK_STALE_MS` is closed and the runner shown offline. A newer connection of the same runner
 * replaces an older one.
 *
 * Frames go both ways, each `{ v, type, … }`: `LinkMessage` edge → runner, `RunnerFrame` runner →
 * edge. Later features add kinds to these two unions (permission prompts and decisions, terminal
 * bytes); jobs themselves stay on HTTPS, where leases fence them.
 */
export const LINK_PROTOCOL = 1;
export const LINK_INFO_PARAM = "info";
export const LINK_VERSION_PARAM = "v";
export const LINK_PING_MS = 10_000;
export const LINK_STALE_MS = 20_000;

/** Close codes the edge uses on the link. Reconnect with backoff and jitter on any but the final ones. */
export const LINK_CLOSE = {
  /** The credential was not accepted (only if someone bypassed the Worker). Final. */
  unauthenticated: 4401,
  /** The owner revoked this runner: stop, do not reconnect; register again to come back. Final. */
  revoked: 4403,
  /** No ping for `LINK_STALE_MS`. */
  stale: 4408,
  /** A newer connection of this runner took over. Final for this process. */
  replaced: 4409,
  /** The runner speaks another link protocol than the edge: update trellis-runner. Final. */
  outdated: 4426,
} as const;

const v = z.literal(LINK_PROTOCOL);

/** Edge → runner. A runner ignores a kind it does not know. */
export const LinkMessage = z.discriminatedUnion("type", [
  /** Work is queued for you: claim it. */
  z.object({ type: z.literal("wake"), v }),
  /** The user asked to stop this job. */
  z.object({ type: z.literal("cancel"), v, jobId: z.string() }),
  /**
   * Sent just before the edge closes the link with `code` (one of `LINK_CLOSE`), so the runner acts
   * on it at once even where the close frame itself is slow to arrive (`wrangler dev` can hold it
   * until the runner's next ping). Treat it exactly like that close.
   */
  z.object({ type: z.literal("closing"), v, code: z.number().int(), reason: z.string() }),
  /** A frame of yours was not accepted (and nothing came of it); the link stays up. */
  z.object({ type: z.literal("refused"), v, message: z.string() }),
  /** A person answered a permission request of a running task (already recorded in D1). */
  z.object({
    type: z.literal("permission"),
    v,
    jobId: z.string(),
    requestId: z.string(),
    decision: Decision,
    reason: z.string().optional(),
    byUserId: z.string(),
    byName: z.string(),
    at: z.number(),
  }),
  /** A running session's permission mode changed: apply it to the task's next tool calls. */
  z.object({ type: z.literal("mode"), v, jobId: z.string(), permissionMode: PermissionMode }),
  /** Shared terminals: `term.open`, `term.input`, … (protocol/terminals.ts). */
  ...terminalLinkMessages(v),
]);
export type LinkMessage = z.infer<typeof LinkMessage>;

/** Runner → edge. Frames are small and frequent: the edge answers a bad one with `refused`, never by closing. */
export const RunnerFrame = z.discriminatedUnion("type", [
  /**
   * A piece of a running agent message, for the board the runner is working for: relayed to the
   * board's sockets watching that session, never stored. Allowed only while this runner holds an
   * active job on that board.
   */
  z.object({ type: z.literal("stream"), v, boardId: Text.min(1).max(64), ...StreamFrame.shape }),
  /**
   * What the runner gathered for one board in its coalescing window (one window per runner, over
   * every session it runs): relayed in order, each piece as a `stream` frame would be. A piece of a
   * session this runner holds no active task of is dropped (and the runner told), not the batch.
   */
  z.object({ type: z.literal("streams"), v, boardId: Text.min(1).max(64), pieces: StreamBatch }),
  /** Shared terminals: `term.output`, `term.screen`, … (protocol/terminals.ts). */
  ...terminalRunnerFrames(v),
]);
export type RunnerFrame = z.infer<typeof RunnerFrame>;

/**
 * Runner frames are a few KiB at most (a stream delta is capped at 64 KiB), except a terminal's
 * screen snapshot, which the runner trims to fit this (JSON escapes included).
 */
export const MAX_RUNNER_FRAME_CHARS = 1000 * 1024;
