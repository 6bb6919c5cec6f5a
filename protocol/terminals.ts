import { z } from "zod";
import { Id, Text } from "./common.ts";

/**
 * Shared terminals: a real shell (a tmux session on the runner's machine, in a worktree), opened
 * from the board and watched by several people at once.
 *
 * A terminal is a shell as the runner's OS user on that person's machine: the trust boundary is
 * the runner's owner. By default only the owner may open one and type; the owner may let the
 * members of the boards the runner is shared with in (`Runner.terminalAccess = "boards"`), and
 * then board viewers may watch but never type.
 *
 * REST (`/api`, user credentials):
 * - `GET    /api/boards/:boardId/terminals` → `{ items: Terminal[] }` (not ended), for any member.
 * - `POST   /api/boards/:boardId/worktrees/:worktreeId/terminals` `CreateTerminalBody` → 201 `Terminal`.
 * - `POST   /api/terminals/:terminalId/ticket` → 201 `TerminalTicket` (single use, 30 s).
 * - `DELETE /api/terminals/:terminalId` → `Terminal` ("End terminal": the shell is killed for everyone).
 * - `PUT    /api/runners/:runnerId/terminal-access` `TerminalAccessBody` → `Runner` (owner only).
 * - `GET    /api/runners/:runnerId/terminal-events` → `{ items: TerminalEvent[] }` (owner only).
 *
 * The socket: `GET /parties/runner-link/:runnerId?terminal=<id>&ticket=<ticket>&v=TERMINAL_PROTOCOL`
 * (browsers, Origin checked) or the same with `Authorization: Bearer` instead of a ticket (other
 * clients). It lands on the runner's own RunnerLink, which holds the runner's link socket, so
 * output goes runner → RunnerLink → viewers with no other hop and never through a board room.
 * Frames: `TerminalClientMessage` viewer → edge, `TerminalServerMessage` edge → viewer (JSON
 * text), and the output itself as binary frames (protocol/terminal-output.ts: the runner's frame,
 * forwarded as it is); between the edge and the runner, the `term.*` kinds below and the same
 * binary output frames ride the runner's existing link socket.
 *
 * Flow control, end to end: the runner batches PTY output (a few ms, up to `MAX_OUTPUT_BYTES`) and
 * stops reading the PTY while its link socket is backed up (tmux then drops and redraws, as it does
 * for any slow terminal); the edge counts each viewer's unacknowledged bytes and, past
 * `MAX_UNACKED_BYTES`, skips that viewer's frames until it has caught up, then sends it a fresh
 * screen; the viewer acknowledges what its terminal has rendered (`ack`), so its own write queue
 * never holds more than that window. The unit is an output frame's PTY bytes and a screen's
 * characters (`data.length`), on both sides.
 */
export const TERMINAL_PROTOCOL = 2;
export const TERMINAL_VERSION_PARAM = "v";
export const TERMINAL_ID_PARAM = "terminal";
export const TERMINAL_TICKET_PARAM = "ticket";

/** Close codes of a terminal socket. `ended`, `forbidden` and `outdated` are final. */
export const TERMINAL_CLOSE = {
  /** The credential the socket came with ended: reconnect with a fresh ticket if still signed in. */
  signedOut: 4401,
  /** This person may no longer watch this terminal (sharing turned off, removed from the board). Final. */
  forbidden: 4403,
  /** No ping for a while. */
  stale: 4408,
  /** The terminal was ended (or its shell exited). Final. */
  ended: 4410,
  outdated: 4426,
  full: 4429,
} as const;

/** The most one input frame may carry; a bigger paste is sent in pieces. */
export const MAX_INPUT_CHARS = 16 * 1024;
/** The most a JSON `term.output` frame (runners before binary output frames) carries. */
export const MAX_OUTPUT_CHARS = 32 * 1024;
/** A screen snapshot (visible screen and recent scrollback) is trimmed from the top to fit. */
export const MAX_SCREEN_CHARS = 400 * 1024;
/** How far a viewer may fall behind (sent, not yet acknowledged) before frames to it are skipped. */
export const MAX_UNACKED_BYTES = 512 * 1024;
/** A viewer acknowledges at least this often (in bytes written to its terminal). */
export const ACK_EVERY_BYTES = 16 * 1024;
/** How many lines of scrollback a late viewer gets with the screen. */
export const SCROLLBACK_LINES = 2000;
/** Sockets on one terminal at most. */
export const MAX_VIEWERS = 20;
/** Terminals open (not ended) on one worktree at most. */
export const MAX_TERMINALS_PER_WORKTREE = 8;

export const TerminalName = Text.trim()
  .min(1, "must not be empty")
  .max(40, "must be at most 40 characters")
  // biome-ignore lint/suspicious/noControlCharactersInRegex: a name is shown in a tab, not interpreted
  .refine((s) => !/[\x00-\x1f\x7f]/.test(s), "must not contain control characters");

export const TerminalStatus = z.enum(["starting", "open", "ended"]);
export type TerminalStatus = z.infer<typeof TerminalStatus>;

/** Who may open and type in a runner's terminals: its owner only (default), or board members too. */
export const TerminalAccess = z.enum(["owner", "boards"]);
export type TerminalAccess = z.infer<typeof TerminalAccess>;

export const Terminal = z.object({
  id: z.string(),
  boardId: z.string(),
  worktreeId: z.string(),
  runnerId: z.string(),
  name: z.string(),
  /** `starting` until the runner made its tmux session; `ended` once killed or exited. */
  status: TerminalStatus,
  createdBy: z.string(),
  createdAt: z.number(),
  endedBy: z.string().nullable(),
  endedAt: z.number().nullable(),
  /** Why it ended, in words (ended by someone, the shell exited, the runner could not start it). */
  endReason: z.string().nullable(),
});
export type Terminal = z.infer<typeof Terminal>;

export const CreateTerminalBody = z.object({ name: TerminalName.optional() });
export const TerminalAccessBody = z.object({ terminalAccess: TerminalAccess });

export const TerminalTicket = z.object({
  ticket: z.string(),
  expiresIn: z.number(),
  terminalId: z.string(),
  runnerId: z.string(),
});
export type TerminalTicket = z.infer<typeof TerminalTicket>;

/** The audit trail: every open, attach, detach and end, with who did it. */
export const TerminalEventKind = z.enum(["created", "attached", "detached", "ended", "exited"]);
export const TerminalEvent = z.object({
  id: z.string(),
  terminalId: z.string(),
  runnerId: z.string(),
  boardId: z.string(),
  /** Null for what the runner reported (the shell exited). */
  userId: z.string().nullable(),
  kind: TerminalEventKind,
  /** `type` or `watch` for an attach; the reason for an end. */
  detail: z.string().nullable(),
  at: z.number(),
});
export type TerminalEvent = z.infer<typeof TerminalEvent>;

export const TermSize = z.object({
  cols: z.number().int().min(2).max(500),
  rows: z.number().int().min(1).max(300),
});
export type TermSize = z.infer<typeof TermSize>;

// ---- the viewer's socket ----

/** Viewer → edge. Anything else, or input from someone who may not type, is refused with `error`. */
export const TerminalClientMessage = z.discriminatedUnion("type", [
  z.object({ type: z.literal("input"), data: Text.min(1).max(MAX_INPUT_CHARS) }),
  /** The panel's size in cells; the terminal takes the size of whoever typing resized it last. */
  z.object({ type: z.literal("resize"), ...TermSize.shape }),
  /** Bytes of output (and characters of screens) this viewer has written to its terminal since its last ack. */
  z.object({
    type: z.literal("ack"),
    bytes: z
      .number()
      .int()
      .positive()
      .max(1 << 30),
  }),
]);
export type TerminalClientMessage = z.infer<typeof TerminalClientMessage>;

export const TerminalViewer = z.object({
  connectionId: z.string(),
  userId: z.string(),
  name: z.string(),
  color: z.string(),
  canType: z.boolean(),
});
export type TerminalViewer = z.infer<typeof TerminalViewer>;

const tv = z.literal(TERMINAL_PROTOCOL);

/** Edge → viewer, as JSON text; the PTY's bytes come in binary frames (protocol/terminal-output.ts). */
export const TerminalServerMessage = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("hello"),
    v: tv,
    connectionId: z.string(),
    terminalId: z.string(),
    canType: z.boolean(),
    runnerOnline: z.boolean(),
  }),
  /**
   * The whole screen and recent scrollback: reset the terminal to `cols`×`rows` and write it. Sent
   * on attach, after the runner reconnected, and to a viewer that fell behind once it caught up.
   */
  z.object({ type: z.literal("screen"), v: tv, data: z.string(), ...TermSize.shape }),
  /** The terminal's size changed (someone who types resized their panel). */
  z.object({ type: z.literal("size"), v: tv, ...TermSize.shape }),
  z.object({ type: z.literal("viewers"), v: tv, viewers: z.array(TerminalViewer) }),
  /** Someone typed (at most about once a second per person). */
  z.object({ type: z.literal("typing"), v: tv, userId: z.string(), name: z.string(), color: z.string() }),
  /** The runner's link went down (the shell keeps running in tmux) or came back. */
  z.object({ type: z.literal("runner"), v: tv, online: z.boolean() }),
  /** The terminal is over for everyone: ended by `by` (a name), or its shell exited (`by` null). */
  z.object({ type: z.literal("ended"), v: tv, by: z.string().nullable(), reason: z.string() }),
  z.object({ type: z.literal("error"), v: tv, code: z.string(), message: z.string() }),
]);
export type TerminalServerMessage = z.infer<typeof TerminalServerMessage>;

// ---- between the edge and the runner, on the runner's link socket (protocol/link.ts) ----

const TerminalRef = { terminalId: Id };

/**
 * Edge → runner kinds, given the link's version literal (spread into `LinkMessage`). A runner
 * that does not know a terminal id it is sent input for ignores it.
 */
export const terminalLinkMessages = <V extends z.ZodLiteral<number>>(v: V) =>
  [
    /**
     * Someone is watching: attach a PTY to the terminal's tmux session (making it first only if
     * `create`: a terminal that already ran and whose session is gone is reported `exited`), then
     * send `term.opened` and a `term.screen`. Idempotent: if attached, just send a fresh screen
     * (which is also how a viewer that fell behind gets its screen back). Without `size` the
     * session keeps the size it has.
     */
    z.object({
      type: z.literal("term.open"),
      v,
      ...TerminalRef,
      repoId: Id,
      worktree: Text.min(1).max(100),
      create: z.boolean(),
      size: TermSize.optional(),
    }),
    z.object({ type: z.literal("term.input"), v, ...TerminalRef, data: Text.min(1).max(MAX_INPUT_CHARS) }),
    z.object({ type: z.literal("term.resize"), v, ...TerminalRef, ...TermSize.shape }),
    /** Nobody watches any more: detach the PTY; the shell keeps running in tmux. */
    z.object({ type: z.literal("term.close"), v, ...TerminalRef }),
    /** End the shell: kill its tmux session. */
    z.object({ type: z.literal("term.kill"), v, ...TerminalRef }),
  ] as const;

/** Runner → edge kinds (spread into `RunnerFrame`). */
export const terminalRunnerFrames = <V extends z.ZodLiteral<number>>(v: V) =>
  [
    /** Sent on every link connect: the terminals whose tmux session is alive on this machine. */
    z.object({ type: z.literal("term.sessions"), v, terminalIds: z.array(Id).max(1000) }),
    /** A PTY is attached (`created`: the tmux session was made just now). */
    z.object({ type: z.literal("term.opened"), v, ...TerminalRef, created: z.boolean() }),
    /**
     * The PTY's output as text, from runners before binary output frames (protocol/terminal-output.ts,
     * what runners send now): the edge forwards it to viewers as a binary frame all the same.
     */
    z.object({ type: z.literal("term.output"), v, ...TerminalRef, data: Text.max(MAX_OUTPUT_CHARS) }),
    z.object({
      type: z.literal("term.screen"),
      v,
      ...TerminalRef,
      data: Text.max(MAX_SCREEN_CHARS),
      ...TermSize.shape,
    }),
    /**
     * The shell is over: it exited (`exited`), its session is gone (`gone`: killed, or the machine
     * restarted), or it could not be started (`failed`, with why: tmux missing, no such worktree).
     */
    z.object({
      type: z.literal("term.exited"),
      v,
      ...TerminalRef,
      code: z.enum(["exited", "gone", "failed"]),
      reason: Text.max(1000),
    }),
  ] as const;
