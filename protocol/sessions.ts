import { z } from "zod";
import { HttpUrl, Id, Text } from "./common.ts";
import { McpServerIds, McpServerRefused, McpServerRuntime } from "./mcp-servers.ts";
import { Provider, Usage } from "./models.ts";
import { KeySource, TaskSecrets } from "./secrets.ts";
import { BranchName, Coord, WorktreeName } from "./worktrees.ts";

/**
 * Agent sessions. A session is a conversation with one model in one worktree; each prompt is a
 * task (a `session.task` job on the worktree's runner), and what the agent says and does is a list
 * of messages. D1 holds the finished messages; the text being written travels as stream frames
 * (`protocol/room.ts`) and is never stored until its message is complete.
 *
 * REST (`/api/boards/:boardId/…`, user credential):
 * - `GET    sessions` → `Page<Session>` (the board's sessions, oldest first)
 * - `POST   sessions` `CreateSessionBody` → 201 `Session`
 * - `GET    sessions/:sessionId` → `SessionDetail` (the session and its tasks)
 * - `PATCH  sessions/:sessionId` `PatchSessionBody` → `Session` (title, permission mode, also while running)
 * - `DELETE sessions/:sessionId` → 204 (its running task is stopped)
 * - `GET    sessions/:sessionId/messages?after=&limit=` → `MessagePage`
 * - `POST   sessions/:sessionId/prompts` `PromptBody` → 201 `Task` (queued behind a running one)
 * - `PATCH  sessions/:sessionId/tasks/:taskId` `PatchTaskBody` → `Task` (a queued prompt only)
 * - `DELETE sessions/:sessionId/tasks/:taskId` → 204 (a queued prompt only)
 * - `POST   sessions/:sessionId/stop` → `Session` (aborts the running task within 2 s)
 * - `POST   sessions/:sessionId/permissions/:requestId` `DecisionBody` → `Session`
 * - `POST   sessions/:sessionId/fork` `ForkBody` → 201 `Session`
 * - `POST   sessions/:sessionId/spawn` `SpawnBody` → 201 `Session`
 * Viewers read; members and owners prompt, stop, decide, fork and spawn.
 *
 * Runner (`/runner/jobs/:jobId/…`, lease-fenced like every job write):
 * - `POST session` `LeaseBody` → `TaskContext` (config, the prompt and the whole history, from D1)
 * - `POST decisions` `LeaseBody` → `TaskDecisions` (asked after a link reconnect, so no answer is lost)
 * - `POST events` with `SessionEvent`s as the events (`protocol/jobs.ts`): messages, state,
 *   permission requests and spawns, each applied exactly once.
 */

export const PERMISSION_MODES = ["ask", "auto-edit", "full", "read-only"] as const;
export const PermissionMode = z.enum(PERMISSION_MODES);
export type PermissionMode = z.infer<typeof PermissionMode>;
export const PERMISSION_MODE_LABELS: Record<PermissionMode, string> = {
  ask: "Ask: every file write and shell command waits for approval",
  "auto-edit": "Auto-edit: file edits allowed, shell commands ask",
  full: "Full: everything inside the worktree, no asking",
  "read-only": "Read-only: no writes, no shell",
};

/**
 * What runs a session's agent: Trellis's own tool loop, or Claude Code / Codex through their SDKs.
 * The SDKs are optional on the runner (large): it reports the ones it has (`RunnerInfo.runtimes`).
 */
export const RUNTIMES = ["builtin", "claude-code", "codex"] as const;
export const Runtime = z.enum(RUNTIMES);
export type Runtime = z.infer<typeof Runtime>;
export const RUNTIME_LABELS: Record<Runtime, string> = {
  builtin: "Trellis",
  "claude-code": "Claude Code",
  codex: "Codex",
};
/** The package a runtime needs, and how a runner's owner adds it. */
export const RUNTIME_PACKAGES: Record<Exclude<Runtime, "builtin">, string> = {
  "claude-code": "@anthropic-ai/claude-agent-sdk",
  codex: "@openai/codex-sdk",
};
/**
 * The providers a runtime can talk to: Claude Code speaks only Anthropic's Messages API, Codex only
 * an OpenAI Responses endpoint (OpenAI's, or a compatible server's by base URL).
 */
export const RUNTIME_PROVIDERS: Record<Runtime, readonly Provider[]> = {
  builtin: ["anthropic", "openai"],
  "claude-code": ["anthropic"],
  codex: ["openai"],
};

/** Why a runtime cannot run on a provider, in the words of the edge's 400; null when it can. */
export function runtimeProviderProblem(runtime: Runtime, provider: Provider): string | null {
  const allowed = RUNTIME_PROVIDERS[runtime];
  if (allowed.includes(provider)) return null;
  return `runtime: ${RUNTIME_LABELS[runtime]} runs only with provider ${allowed.map((p) => `"${p}"`).join(" or ")}, not "${provider}".`;
}

/**
 * A runtime a runner has: its package's version, and for Claude Code whether the machine has its
 * own Claude sign-in (a subscription), which its sessions then use before anyone's key.
 */
export const RuntimeInfo = z.object({ runtime: Runtime, version: Text.max(40), signedIn: z.boolean().optional() });
export type RuntimeInfo = z.infer<typeof RuntimeInfo>;

/** Does a session on this runtime run on the runner machine's own Claude sign-in, needing no key? */
export const usesMachineLogin = (runtimes: readonly RuntimeInfo[] | undefined, runtime: Runtime): boolean =>
  runtime === "claude-code" && Boolean(runtimes?.find((r) => r.runtime === runtime)?.signedIn);

export const SESSION_STATUSES = [
  "idle",
  "queued",
  "running",
  "awaiting_permission",
  "completed",
  "failed",
  "stopped",
] as const;
export const SessionStatus = z.enum(SESSION_STATUSES);
export type SessionStatus = z.infer<typeof SessionStatus>;

export const TaskStatus = z.enum(["queued", "running", "completed", "failed", "stopped"]);
export type TaskStatus = z.infer<typeof TaskStatus>;

// ---- message content: provider-neutral blocks, so a fork may change provider ----

export const TextBlock = z.object({ type: z.literal("text"), text: Text.max(200_000) });
/** Thinking as the model gave it; `signature` lets Anthropic verify it when it is sent back. */
export const ThinkingBlock = z.object({
  type: z.literal("thinking"),
  thinking: Text.max(200_000),
  signature: Text.max(20_000).optional(),
});
export const ToolCallBlock = z.object({
  type: z.literal("tool_call"),
  id: Text.min(1).max(200),
  name: Text.min(1).max(200),
  input: z.record(z.string(), z.unknown()),
});
export const Decision = z.enum(["allow", "allow_always", "deny"]);
export type Decision = z.infer<typeof Decision>;
/** Who let a tool run (or refused it); `mode` when the permission mode allowed it. */
export const DecisionRecord = z.object({
  decision: z.union([Decision, z.literal("mode")]),
  byUserId: z.string().nullable(),
  byName: Text.max(200).nullable(),
  reason: Text.max(2000).optional(),
  at: z.number(),
});
export type DecisionRecord = z.infer<typeof DecisionRecord>;
export const ToolResultBlock = z.object({
  type: z.literal("tool_result"),
  callId: Text.min(1).max(200),
  name: Text.max(200),
  /** What the model reads back (capped by the runner, which says so in the text). */
  output: Text.max(100_000),
  isError: z.boolean(),
  /** For the panel: a shell command's exit code, an edit's unified diff, who decided. */
  meta: z
    .object({
      exitCode: z.number().int().nullable().optional(),
      diff: Text.max(100_000).optional(),
      truncated: z.boolean().optional(),
      durationMs: z.number().nonnegative().optional(),
      decision: DecisionRecord.optional(),
    })
    .optional(),
});
/** Something the transcript says about itself: stopped, an error in plain words, a retry. */
export const NoticeBlock = z.object({
  type: z.literal("notice"),
  kind: z.enum(["stopped", "error", "retry", "info"]),
  text: Text.max(4000),
});
export const ContentBlock = z.discriminatedUnion("type", [
  TextBlock,
  ThinkingBlock,
  ToolCallBlock,
  ToolResultBlock,
  NoticeBlock,
]);
export type ContentBlock = z.infer<typeof ContentBlock>;
export type ToolCallBlock = z.infer<typeof ToolCallBlock>;
export type ToolResultBlock = z.infer<typeof ToolResultBlock>;

/**
 * `user`: a prompt (a person's, or a spawned child's answer, `fromSessionId`). `assistant`: one
 * model turn (text, thinking, tool calls) with that call's usage. `tool`: the results of the tool
 * calls before it. `system`: notices, never sent to the model.
 */
export const MessageRole = z.enum(["user", "assistant", "tool", "system"]);
export type MessageRole = z.infer<typeof MessageRole>;

export const Message = z.object({
  id: z.string(),
  sessionId: z.string(),
  /** 1, 2, 3… within the session: the order, and what a fork counts. */
  seq: z.number().int().positive(),
  role: MessageRole,
  content: z.array(ContentBlock),
  taskId: z.string().nullable(),
  authorId: z.string().nullable(),
  authorName: z.string().nullable(),
  fromSessionId: z.string().nullable(),
  usage: Usage.nullable(),
  model: z.string().nullable(),
  createdAt: z.number(),
});
export type Message = z.infer<typeof Message>;
export const MessagePage = z.object({ items: z.array(Message), nextAfter: z.number().int().nullable() });
export type MessagePage = z.infer<typeof MessagePage>;
export const MessagePageQuery = z.object({
  after: z.coerce.number().int().nonnegative().default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(500),
});

export const Todo = z.object({
  text: Text.min(1).max(500),
  status: z.enum(["pending", "in_progress", "done"]),
});
export type Todo = z.infer<typeof Todo>;

/** A tool call waiting for a person: exactly what would run. */
export const PermissionRequest = z.object({
  requestId: Text.min(1).max(64),
  taskId: z.string(),
  callId: Text.max(200),
  tool: Text.max(200),
  /** One line: "run `npm test`", "edit src/app.ts". */
  summary: Text.max(2000),
  command: Text.max(20_000).optional(),
  diff: Text.max(100_000).optional(),
  requestedAt: z.number(),
});
export type PermissionRequest = z.infer<typeof PermissionRequest>;

export const Session = z.object({
  id: z.string(),
  boardId: z.string(),
  worktreeId: z.string(),
  /** The session this one was forked from or spawned by (genealogy). */
  parentId: z.string().nullable(),
  /** `fork` (a copy up to a message) or `spawn` (a child started with a prompt); null for a root. */
  origin: z.enum(["fork", "spawn"]).nullable(),
  forkedFromMessageId: z.string().nullable(),
  /** The zone whose trigger started it (a worktree dropped there); null when a person did. */
  zoneId: z.string().nullable(),
  provider: Provider,
  model: z.string(),
  /** OpenAI-compatible servers: where to send requests (null: the runner's OPENAI_BASE_URL, or OpenAI). */
  baseUrl: z.string().nullable(),
  permissionMode: PermissionMode,
  /** What runs the agent (`builtin` for sessions from before runtimes). */
  runtime: Runtime,
  status: SessionStatus,
  title: z.string(),
  /** One line for the card: the tool running, or the last line of text. */
  nowDoing: z.string().nullable(),
  usage: Usage,
  /** Micro-dollars over every priced task. */
  costMicros: z.number().int().nonnegative(),
  /** Some tokens were spent on a model with no price: the cost shown is not the whole story. */
  unpriced: z.boolean(),
  /** Tokens of the last model call's prompt: what the context meter shows against the window. */
  contextTokens: z.number().int().nonnegative(),
  todos: z.array(Todo),
  pending: z.array(PermissionRequest),
  /** Tools approved "for the rest of the session". */
  allowedTools: z.array(z.string()),
  /** Who approved each of them (tool → name), where that was recorded; an edge from before sends none. */
  allowedBy: z.record(z.string(), Text.max(200)).optional(),
  /** The board's MCP servers this session's agent gets (`protocol/mcp-servers.ts`), from its next task on. */
  mcpServerIds: z.array(z.string()),
  /**
   * Hosts its shell commands may reach through the runner's sandbox, from its next task on (a running task keeps the list it started with);
   * empty: the network is off for them (where the runner has a sandbox).
   */
  allowedHosts: z.array(z.string()),
  /** Prompts waiting behind the running one. */
  queued: z.number().int().nonnegative(),
  messageCount: z.number().int().nonnegative(),
  lastError: z.string().nullable(),
  createdBy: z.string(),
  createdAt: z.number(),
  updatedAt: z.number(),
  /** When its last task ended (null: none has): what a finish pulses from, not a later rename. */
  endedAt: z.number().nullable(),
});
export type Session = z.infer<typeof Session>;

export const Task = z.object({
  id: z.string(),
  boardId: z.string(),
  sessionId: z.string(),
  prompt: z.string(),
  status: TaskStatus,
  authorId: z.string().nullable(),
  authorName: z.string().nullable(),
  /** Set when a spawned child's answer is this prompt. */
  fromSessionId: z.string().nullable(),
  usage: Usage,
  /** Null: the model has no price. */
  costMicros: z.number().int().nonnegative().nullable(),
  error: z.string().nullable(),
  jobId: z.string().nullable(),
  stoppedBy: z.string().nullable(),
  /** Whose credentials the model calls used: the prompter's own key, or the runner's; null until it starts. */
  keySource: KeySource.nullable(),
  createdAt: z.number(),
  startedAt: z.number().nullable(),
  endedAt: z.number().nullable(),
});
export type Task = z.infer<typeof Task>;

export const SessionDetail = z.object({ session: Session, tasks: z.array(Task) });
export type SessionDetail = z.infer<typeof SessionDetail>;

export const SessionPageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(500),
  cursor: Text.max(64).optional(),
  /** Only the sessions of one worktree, in one status, or of one provider. */
  worktreeId: Text.max(64).optional(),
  status: SessionStatus.optional(),
  provider: Provider.optional(),
});

/** A session's tasks (its prompts), oldest first. */
export const TaskPageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: Text.max(64).optional(),
  status: TaskStatus.optional(),
});

export const Prompt = Text.trim().min(1, "must not be empty").max(100_000, "must be at most 100,000 characters");
export const SessionTitle = Text.trim().max(200, "must be at most 200 characters");
export const ModelName = Text.trim().min(1, "must not be empty").max(200);

/**
 * A host the session's shell commands may reach through the sandbox's network proxy: a name
 * (`registry.npmjs.org`), a wildcard under a name with at least two labels (`*.github.com`), an
 * IPv4 address, or a bracketed IPv6 one, each with an optional `:port`. Kept to what the sandbox's
 * own allow list accepts, so a saved entry never fails on the runner.
 */
const LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
const HOST_PATTERN = new RegExp(
  `^(?:(?:\\*\\.)?${LABEL}(?:\\.${LABEL})+|${LABEL}|\\d{1,3}(?:\\.\\d{1,3}){3}|\\[[0-9a-f:.]+\\])(?::([1-9]\\d{0,4}))?$`,
);

export function isAllowedHost(h: string): boolean {
  const m = HOST_PATTERN.exec(h);
  if (!m || Number(m[1] ?? 1) > 65535) return false;
  const ipv4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+)(?::|$)/.exec(h);
  return !ipv4 || ipv4.slice(1).every((o) => Number(o) <= 255);
}

export const AllowedHost = Text.trim()
  .toLowerCase()
  .max(260)
  .refine(
    isAllowedHost,
    'must be a host name like "registry.npmjs.org" or "*.github.com", or an IP address, with an optional :port',
  );
export const AllowedHosts = z.array(AllowedHost).max(50, "at most 50 hosts");

export const CreateSessionBody = z.object({
  worktreeId: Id,
  provider: Provider,
  model: ModelName,
  baseUrl: HttpUrl.optional(),
  permissionMode: PermissionMode.default("ask"),
  runtime: Runtime.default("builtin"),
  title: SessionTitle.optional(),
  prompt: Prompt.optional(),
  /** Started from a zone's "ask" trigger: the session shows which zone. */
  zoneId: Id.optional(),
  /** The board's MCP servers to attach (their tools join the agent's from the first task). */
  mcpServerIds: McpServerIds.optional(),
  /** Hosts its shell commands may reach (the sandbox's network is off otherwise). */
  allowedHosts: AllowedHosts.optional(),
});
export type CreateSessionBody = z.input<typeof CreateSessionBody>;

export const PatchSessionBody = z
  .object({
    title: SessionTitle,
    permissionMode: PermissionMode,
    mcpServerIds: McpServerIds,
    allowedHosts: AllowedHosts,
  })
  .partial()
  .refine(
    (b) => Object.keys(b).length > 0,
    "nothing to change: send title, permissionMode, mcpServerIds or allowedHosts",
  );

export const PromptBody = z.object({ text: Prompt });
export const PatchTaskBody = z.object({ prompt: Prompt });
export const DecisionBody = z.object({ decision: Decision, reason: Text.trim().max(2000).optional() });
/**
 * A worktree made for a fork, on the source worktree's runner and repo: by default a new branch
 * named like it, from the source worktree's branch (its last commit: uncommitted changes stay
 * behind). The fork's first prompt waits until the runner has made it.
 */
export const ForkWorktree = z.object({
  name: WorktreeName,
  /** new: make `branch` from `baseBranch`; existing: check out `branch`, which is there already. */
  mode: z.enum(["new", "existing"]).default("new"),
  /** Default: the name. */
  branch: BranchName.optional(),
  /** Default: the source worktree's branch. */
  baseBranch: BranchName.optional(),
  /** Where the new card goes on the canvas (default: beside the source card). */
  x: Coord.optional(),
  y: Coord.optional(),
  zoneId: Text.max(64).nullable().optional(),
});
export type ForkWorktree = z.infer<typeof ForkWorktree>;
export const ForkBody = z.object({
  /** The fork holds the conversation up to and including this message. */
  messageId: Id,
  /** Another worktree on the board to fork into (default: the same one). */
  worktreeId: Id.optional(),
  /** Or a new worktree, made for the fork (not with `worktreeId`). */
  newWorktree: ForkWorktree.optional(),
  title: SessionTitle.optional(),
});
export type ForkBody = z.infer<typeof ForkBody>;
export const SpawnBody = z.object({ prompt: Prompt, title: SessionTitle.optional() });

// ---- the runner's side ----

/**
 * Where a message stands in an SDK runtime's own session: Claude Code's session id and the uuid of
 * the last transcript entry the message holds. A fork resumes that session there.
 */
export const RuntimeRef = z.object({ sessionId: Text.min(1).max(200), uuid: Text.min(1).max(200) });
export type RuntimeRef = z.infer<typeof RuntimeRef>;

/** A fork's starting point in the SDK's session: the last message up to the fork with a `RuntimeRef`, and its seq. */
export const RuntimeFork = RuntimeRef.extend({ seq: z.number().int().positive() });
export type RuntimeFork = z.infer<typeof RuntimeFork>;

/** `session.task`'s payload names the work; the runner fetches the rest with `POST /runner/jobs/:id/session`. */
export const TaskContext = z.object({
  session: Session,
  task: Task,
  /** Every message before this task's prompt, oldest first; the prompt is the last user message. */
  history: z.array(Message),
  /** Where the worktree is on this runner. */
  worktreePath: z.string(),
  /** Who prompted, as the agent's tools name them. */
  prompterName: z.string().nullable(),
  /**
   * Trellis's own MCP server for this session's agent: the URL and a Bearer token (never put in a
   * URL) that sees what the session's user may see on this board and knows its session. It
   * expires at `expiresAt` and ends when the session is deleted or its next task starts.
   */
  mcp: z.object({ url: z.string(), token: z.string(), expiresAt: z.number() }),
  /** The prompter's own key and environment variables (`protocol/secrets.ts`); absent from older edges. */
  secrets: TaskSecrets.optional(),
  /** The MCP servers the session picked that this runner may start, secrets unsealed (lease holder only). */
  mcpServers: z.array(McpServerRuntime).default([]),
  /** Those it may not start, with why: the runner says so in the transcript. */
  mcpRefused: z.array(McpServerRefused).default([]),
  /**
   * The SDK's own session id from this session's last task on this runtime (Claude Code's
   * `session_id`, Codex's thread id): the next task resumes it instead of replaying the history.
   */
  runtimeSessionId: Text.max(200).nullable().default(null),
  /**
   * Codex reports a thread's usage as running totals: the totals after the last task, so the next
   * one counts only its own tokens.
   */
  runtimeTotals: Usage.nullable().default(null),
  /**
   * A fork that has no SDK session of its own yet: where to fork the parent's SDK session, so the
   * tool calls and results before the fork point carry over as the SDK keeps them.
   */
  runtimeFork: RuntimeFork.nullable().default(null),
});
export type TaskContext = z.infer<typeof TaskContext>;

/** `POST /runner/jobs/:id/decisions` `LeaseBody`: answers given to the task's requests, by request id. */
export const TaskDecisions = z.object({ decisions: z.record(z.string(), DecisionRecord) });
export type TaskDecisions = z.infer<typeof TaskDecisions>;

/** A finished message, as the runner reports it: the edge numbers it. */
export const NewMessage = z.object({
  id: Id,
  role: z.enum(["assistant", "tool", "system"]),
  content: z.array(ContentBlock).max(200),
  usage: Usage.optional(),
  /** The prompt size of the call that produced it (context meter). */
  contextTokens: z.number().int().nonnegative().optional(),
  /** Where it stands in the SDK runtime's own session, for a fork at it. */
  runtimeRef: RuntimeRef.optional(),
});
export type NewMessage = z.infer<typeof NewMessage>;

/** What the runner reports while a task runs: `kind` and `data` of a job event. */
export const SessionEvents = {
  message: NewMessage,
  state: z.object({ nowDoing: Text.max(300).nullable().optional(), todos: z.array(Todo).max(100).optional() }),
  permission: PermissionRequest.omit({ taskId: true, requestedAt: true }),
  /** A request settled on the runner without a person (the mode was widened meanwhile). */
  permission_resolved: z.object({ requestId: Text.min(1).max(64) }),
  /** A Claude Code or Codex task's SDK session id, kept so the next task resumes it. */
  runtime_session: z.object({ runtimeSessionId: Text.min(1).max(200), totals: Usage.optional() }),
  /** The agent spawned a child: the edge creates it (with this id) and queues its prompt. */
  spawn: z.object({ sessionId: Id, prompt: Prompt, title: SessionTitle.optional() }),
} as const;
export type SessionEventKind = keyof typeof SessionEvents;
export type SessionEvent = {
  [K in SessionEventKind]: { kind: K; data: z.infer<(typeof SessionEvents)[K]> };
}[SessionEventKind];

/** How a task ended, from the runner (`session.task`'s result). */
export const TaskResult = z.object({ finalText: Text.max(200_000).default("") });

/** How a runner can serve each provider: shown, with the reason, in the start-session dialog. */
export const ProviderReadiness = z.object({
  provider: Provider,
  ready: z.boolean(),
  /** Why not, in words a person can act on. */
  reason: Text.max(300).optional(),
  /** The OpenAI-compatible base URL the runner has (OPENAI_BASE_URL), if any. */
  baseUrl: Text.max(500).optional(),
});
export type ProviderReadiness = z.infer<typeof ProviderReadiness>;
