/**
 * The D1 schema, in one place. `npm run db:generate` turns changes into a new SQL file in
 * `migrations/`; migrations are append-only (never edit one that has shipped).
 *
 * Hybrid rows (DESIGN rule 4): columns for what is filtered, joined or sorted; a JSON `data` column
 * for nested, rarely queried detail. Ids are UUIDv7 strings, so ordering by id is ordering by time.
 * Times are epoch milliseconds.
 */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

const now = sql`(cast(unixepoch('subsec') * 1000 as integer))`;
const json = <T>(name: string) => text(name, { mode: "json" }).$type<T>();

export const users = sqliteTable("users", {
  id: text("id").primaryKey(),
  email: text("email").notNull().unique(),
  name: text("name").notNull(),
  color: text("color").notNull(),
  /** `scrypt$N$r$p$salt$hash` (base64); null for the single-user local owner, who never logs in. */
  passwordHash: text("password_hash"),
  /** What they chose for themselves (`UserSettings`: the chime); a missing key is its default. */
  settings: json<Record<string, unknown>>("settings").notNull().default({}),
  createdAt: integer("created_at").notNull().default(now),
});

/** Failed logins per email, to slow down guessing. */
export const loginThrottle = sqliteTable("login_throttle", {
  key: text("key").primaryKey(),
  failures: integer("failures").notNull().default(0),
  lastFailureAt: integer("last_failure_at").notNull(),
});

/** Rotating refresh tokens. A family is one login; reusing a rotated token revokes the family. */
export const refreshTokens = sqliteTable(
  "refresh_tokens",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    familyId: text("family_id").notNull(),
    tokenHash: text("token_hash").notNull().unique(),
    expiresAt: integer("expires_at").notNull(),
    usedAt: integer("used_at"),
    revokedAt: integer("revoked_at"),
    createdAt: integer("created_at").notNull().default(now),
  },
  (t) => [index("refresh_tokens_family").on(t.familyId)],
);

/** Opaque bearer tokens stored only as SHA-256: personal API tokens and per-session MCP tokens. */
export const apiTokens = sqliteTable(
  "api_tokens",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    /** `personal` (full user API) or `session` (an agent's MCP token, bound to one session). */
    scope: text("scope").notNull().default("personal"),
    sessionId: text("session_id"),
    tokenHash: text("token_hash").notNull().unique(),
    expiresAt: integer("expires_at"),
    lastUsedAt: integer("last_used_at"),
    revokedAt: integer("revoked_at"),
    createdAt: integer("created_at").notNull().default(now),
  },
  (t) => [index("api_tokens_user").on(t.userId)],
);

/** Single-use, 30 s tickets for a browser to join a board room (no long-lived token in a URL). */
export const roomTickets = sqliteTable("room_tickets", {
  ticketHash: text("ticket_hash").primaryKey(),
  userId: text("user_id").notNull(),
  /** The credential the ticket was made with (`fam:…`, `tok:…`): the socket ends when it does. */
  credential: text("credential"),
  /** The room it opens: a board's id, or `inbox:<userId>` for that person's inbox socket. */
  boardId: text("board_id").notNull(),
  expiresAt: integer("expires_at").notNull(),
});

export const boards = sqliteTable("boards", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  ownerId: text("owner_id")
    .notNull()
    .references(() => users.id),
  data: json<Record<string, unknown>>("data").notNull().default({}),
  createdAt: integer("created_at").notNull().default(now),
  updatedAt: integer("updated_at").notNull().default(now),
});

export const boardMembers = sqliteTable(
  "board_members",
  {
    boardId: text("board_id")
      .notNull()
      .references(() => boards.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    role: text("role", { enum: ["owner", "member", "viewer"] }).notNull(),
    createdAt: integer("created_at").notNull().default(now),
  },
  (t) => [primaryKey({ columns: [t.boardId, t.userId] }), index("board_members_user").on(t.userId)],
);

export const zones = sqliteTable(
  "zones",
  {
    id: text("id").primaryKey(),
    boardId: text("board_id")
      .notNull()
      .references(() => boards.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    color: text("color").notNull(),
    x: real("x").notNull(),
    y: real("y").notNull(),
    width: real("width").notNull(),
    height: real("height").notNull(),
    promptTemplate: text("prompt_template").notNull().default(""),
    data: json<Record<string, unknown>>("data").notNull().default({}),
    createdAt: integer("created_at").notNull().default(now),
    updatedAt: integer("updated_at").notNull().default(now),
  },
  (t) => [index("zones_board").on(t.boardId)],
);

/** A self-hosted runner. Its credential is stored only as a SHA-256 hash. */
export const runners = sqliteTable(
  "runners",
  {
    id: text("id").primaryKey(),
    ownerId: text("owner_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    credentialHash: text("credential_hash").unique(),
    /** One-time registration token (hash) and its expiry, cleared once used. */
    registrationHash: text("registration_hash").unique(),
    registrationExpiresAt: integer("registration_expires_at"),
    status: text("status", { enum: ["pending", "online", "offline", "revoked"] })
      .notNull()
      .default("pending"),
    lastSeenAt: integer("last_seen_at"),
    /** version, os, gitVersion, providers: what the runner reported on connect. */
    data: json<Record<string, unknown>>("data").notNull().default({}),
    createdAt: integer("created_at").notNull().default(now),
    /** Who may open terminals on this machine: `owner` (default) or `boards` (members of boards it is shared with). */
    terminalAccess: text("terminal_access", { enum: ["owner", "boards"] })
      .notNull()
      .default("owner"),
    /** Its owner lets it run the stdio MCP servers any writer on its boards added (default: only the owner's own). */
    boardMcpStdio: integer("board_mcp_stdio", { mode: "boolean" }).notNull().default(false),
  },
  (t) => [index("runners_owner").on(t.ownerId)],
);

/** Which boards a runner's owner has shared it with (members of those boards may target it). */
export const runnerBoards = sqliteTable(
  "runner_boards",
  {
    runnerId: text("runner_id")
      .notNull()
      .references(() => runners.id, { onDelete: "cascade" }),
    boardId: text("board_id")
      .notNull()
      .references(() => boards.id, { onDelete: "cascade" }),
    createdAt: integer("created_at").notNull().default(now),
  },
  (t) => [primaryKey({ columns: [t.runnerId, t.boardId] }), index("runner_boards_board").on(t.boardId)],
);

export const repos = sqliteTable(
  "repos",
  {
    id: text("id").primaryKey(),
    runnerId: text("runner_id")
      .notNull()
      .references(() => runners.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    status: text("status", { enum: ["adding", "ready", "error"] })
      .notNull()
      .default("adding"),
    defaultBranch: text("default_branch"),
    lastFetchedAt: integer("last_fetched_at"),
    /** source ({ kind: 'path' | 'url', ... }), local path on the runner, last error. */
    data: json<Record<string, unknown>>("data").notNull().default({}),
    createdBy: text("created_by").notNull(),
    createdAt: integer("created_at").notNull().default(now),
  },
  (t) => [uniqueIndex("repos_runner_name").on(t.runnerId, t.name)],
);

export const worktrees = sqliteTable(
  "worktrees",
  {
    id: text("id").primaryKey(),
    boardId: text("board_id")
      .notNull()
      .references(() => boards.id, { onDelete: "cascade" }),
    repoId: text("repo_id")
      .notNull()
      .references(() => repos.id, { onDelete: "cascade" }),
    runnerId: text("runner_id").notNull(),
    zoneId: text("zone_id"),
    name: text("name").notNull(),
    branch: text("branch").notNull(),
    baseBranch: text("base_branch"),
    status: text("status", { enum: ["creating", "ready", "deleting", "error"] })
      .notNull()
      .default("creating"),
    x: real("x").notNull().default(0),
    y: real("y").notNull().default(0),
    /** git state (ahead, behind, changedFiles, head), path on the runner, issue URL, notes, error. */
    data: json<Record<string, unknown>>("data").notNull().default({}),
    createdBy: text("created_by").notNull(),
    createdAt: integer("created_at").notNull().default(now),
    updatedAt: integer("updated_at").notNull().default(now),
  },
  (t) => [index("worktrees_board").on(t.boardId, t.id), uniqueIndex("worktrees_repo_name").on(t.repoId, t.name)],
);

export const sessions = sqliteTable(
  "sessions",
  {
    id: text("id").primaryKey(),
    boardId: text("board_id")
      .notNull()
      .references(() => boards.id, { onDelete: "cascade" }),
    worktreeId: text("worktree_id")
      .notNull()
      .references(() => worktrees.id, { onDelete: "cascade" }),
    parentId: text("parent_id"),
    forkedFromMessageId: text("forked_from_message_id"),
    provider: text("provider").notNull(),
    model: text("model").notNull(),
    status: text("status").notNull().default("idle"),
    title: text("title").notNull().default(""),
    inputTokens: integer("input_tokens").notNull().default(0),
    outputTokens: integer("output_tokens").notNull().default(0),
    cacheReadTokens: integer("cache_read_tokens").notNull().default(0),
    cacheWriteTokens: integer("cache_write_tokens").notNull().default(0),
    /** The sum of its tasks' costs (priced tasks only). */
    costMicros: integer("cost_micros").notNull().default(0),
    /** Some task ran on a model with no price. */
    unpriced: integer("unpriced", { mode: "boolean" }).notNull().default(false),
    contextTokens: integer("context_tokens").notNull().default(0),
    messageCount: integer("message_count").notNull().default(0),
    /**
     * The task that holds the session (queued on a runner or running): set and cleared with
     * compare-and-set, so two prompts at once never start two tasks.
     */
    activeTaskId: text("active_task_id"),
    /**
     * permissionMode, baseUrl, origin, nowDoing, todos, pending (requests by id), allowedTools
     * (tool → true), lastError: changed with json_patch so concurrent writers never undo each other.
     */
    data: json<Record<string, unknown>>("data").notNull().default({}),
    createdBy: text("created_by").notNull(),
    createdAt: integer("created_at").notNull().default(now),
    updatedAt: integer("updated_at").notNull().default(now),
  },
  (t) => [
    index("sessions_worktree").on(t.worktreeId),
    index("sessions_board").on(t.boardId, t.id),
    index("sessions_parent").on(t.parentId),
  ],
);

export const messages = sqliteTable(
  "messages",
  {
    id: text("id").primaryKey(),
    sessionId: text("session_id")
      .notNull()
      .references(() => sessions.id, { onDelete: "cascade" }),
    seq: integer("seq").notNull(),
    role: text("role").notNull(),
    /** content blocks: text, tool calls, tool results */
    content: json<unknown[]>("content").notNull(),
    taskId: text("task_id"),
    /** authorId, authorName, fromSessionId, usage, model */
    data: json<Record<string, unknown>>("data").notNull().default({}),
    createdAt: integer("created_at").notNull().default(now),
  },
  (t) => [uniqueIndex("messages_session_seq").on(t.sessionId, t.seq)],
);

export const tasks = sqliteTable(
  "tasks",
  {
    id: text("id").primaryKey(),
    boardId: text("board_id")
      .notNull()
      .references(() => boards.id, { onDelete: "cascade" }),
    sessionId: text("session_id")
      .notNull()
      .references(() => sessions.id, { onDelete: "cascade" }),
    title: text("title").notNull(),
    status: text("status").notNull().default("pending"),
    jobId: text("job_id"),
    authorId: text("author_id"),
    inputTokens: integer("input_tokens").notNull().default(0),
    outputTokens: integer("output_tokens").notNull().default(0),
    cacheReadTokens: integer("cache_read_tokens").notNull().default(0),
    cacheWriteTokens: integer("cache_write_tokens").notNull().default(0),
    /** Null while the model has no price. */
    costMicros: integer("cost_micros"),
    /** prompt, authorName, fromSessionId, error, stoppedBy, startedAt, endedAt */
    data: json<Record<string, unknown>>("data").notNull().default({}),
    createdAt: integer("created_at").notNull().default(now),
    updatedAt: integer("updated_at").notNull().default(now),
  },
  (t) => [index("tasks_session").on(t.sessionId, t.status)],
);

export const comments = sqliteTable(
  "comments",
  {
    id: text("id").primaryKey(),
    boardId: text("board_id")
      .notNull()
      .references(() => boards.id, { onDelete: "cascade" }),
    /** board | zone | worktree | session */
    targetType: text("target_type").notNull(),
    /** The zone, worktree or session's id (the board's own for a board thread). */
    targetId: text("target_id").notNull(),
    /** The thread a reply belongs to; null for the thread itself (which carries the target). */
    parentId: text("parent_id"),
    authorId: text("author_id").notNull(),
    body: text("body").notNull(),
    resolvedAt: integer("resolved_at"),
    // The target again, as real foreign keys: a thread goes with what it is pinned to.
    zoneId: text("zone_id").references(() => zones.id, { onDelete: "cascade" }),
    worktreeId: text("worktree_id").references(() => worktrees.id, { onDelete: "cascade" }),
    sessionId: text("session_id").references(() => sessions.id, { onDelete: "cascade" }),
    /** Mentions, the pin point, the message it is on, who resolved it, when it was edited. */
    data: json<Record<string, unknown>>("data").notNull().default({}),
    createdAt: integer("created_at").notNull().default(now),
    updatedAt: integer("updated_at").notNull().default(now),
  },
  (t) => [index("comments_target").on(t.boardId, t.targetType, t.targetId), index("comments_parent").on(t.parentId)],
);

/** One row per person, emoji and comment: adding and taking back a reaction never races another's. */
export const commentReactions = sqliteTable(
  "comment_reactions",
  {
    commentId: text("comment_id")
      .notNull()
      .references(() => comments.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    emoji: text("emoji").notNull(),
    createdAt: integer("created_at").notNull().default(now),
  },
  (t) => [primaryKey({ columns: [t.commentId, t.userId, t.emoji] })],
);

/** When a person last looked at a session: what "finished since you last looked" is measured from. */
export const sessionViews = sqliteTable(
  "session_views",
  {
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    sessionId: text("session_id")
      .notNull()
      .references(() => sessions.id, { onDelete: "cascade" }),
    boardId: text("board_id").notNull(),
    seenAt: integer("seen_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.sessionId] }), index("session_views_board").on(t.userId, t.boardId)],
);

/** Things one person should hear about: a mention, a permission request, a session of theirs ended. */
export const notifications = sqliteTable(
  "notifications",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    boardId: text("board_id")
      .notNull()
      .references(() => boards.id, { onDelete: "cascade" }),
    kind: text("kind", { enum: ["mention", "permission", "session_finished", "session_failed"] }).notNull(),
    /** Title, body, link, and what it is about (comment, session, worktree, who). */
    data: json<Record<string, unknown>>("data").notNull().default({}),
    readAt: integer("read_at"),
    createdAt: integer("created_at").notNull().default(now),
  },
  (t) => [index("notifications_user").on(t.userId, t.readAt, t.id)],
);

/**
 * Work for a runner. A claim sets `leaseToken`/`leaseExpiresAt`; every later write must present the
 * same token (fencing). `eventSeq` is the last event sequence number applied, so a retried post of
 * the same events is a no-op.
 */
export const jobs = sqliteTable(
  "jobs",
  {
    id: text("id").primaryKey(),
    runnerId: text("runner_id")
      .notNull()
      .references(() => runners.id, { onDelete: "cascade" }),
    boardId: text("board_id"),
    type: text("type").notNull(),
    payload: json<Record<string, unknown>>("payload").notNull(),
    status: text("status", { enum: ["queued", "claimed", "running", "succeeded", "failed", "cancelled"] })
      .notNull()
      .default("queued"),
    attempts: integer("attempts").notNull().default(0),
    maxAttempts: integer("max_attempts").notNull().default(3),
    leaseToken: text("lease_token"),
    leaseExpiresAt: integer("lease_expires_at"),
    cancelRequested: integer("cancel_requested", { mode: "boolean" }).notNull().default(false),
    idempotencyKey: text("idempotency_key").unique(),
    eventSeq: integer("event_seq").notNull().default(0),
    result: json<Record<string, unknown>>("result"),
    error: text("error"),
    createdBy: text("created_by"),
    createdAt: integer("created_at").notNull().default(now),
    updatedAt: integer("updated_at").notNull().default(now),
  },
  (t) => [
    index("jobs_runner_status").on(t.runnerId, t.status, t.id),
    index("jobs_lease").on(t.status, t.leaseExpiresAt),
  ],
);

// ---- shared terminals ----

/** A shell in a worktree: a tmux session on the card's runner, named by this id. */
export const terminals = sqliteTable(
  "terminals",
  {
    id: text("id").primaryKey(),
    boardId: text("board_id")
      .notNull()
      .references(() => boards.id, { onDelete: "cascade" }),
    worktreeId: text("worktree_id")
      .notNull()
      .references(() => worktrees.id, { onDelete: "cascade" }),
    runnerId: text("runner_id")
      .notNull()
      .references(() => runners.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    status: text("status", { enum: ["starting", "open", "ended"] })
      .notNull()
      .default("starting"),
    createdBy: text("created_by").notNull(),
    createdAt: integer("created_at").notNull().default(now),
    endedBy: text("ended_by"),
    endedAt: integer("ended_at"),
    endReason: text("end_reason"),
  },
  (t) => [
    index("terminals_board").on(t.boardId, t.status),
    index("terminals_worktree").on(t.worktreeId, t.status),
    index("terminals_runner").on(t.runnerId, t.status),
  ],
);

/**
 * Who opened, attached to, detached from and ended which terminal. Kept when the terminal's row
 * goes (a deleted card or board): it is the runner owner's record of shells on their machine.
 */
export const terminalEvents = sqliteTable(
  "terminal_events",
  {
    id: text("id").primaryKey(),
    terminalId: text("terminal_id").notNull(),
    runnerId: text("runner_id")
      .notNull()
      .references(() => runners.id, { onDelete: "cascade" }),
    boardId: text("board_id").notNull(),
    /** Null when the runner reported it (the shell exited). */
    userId: text("user_id"),
    kind: text("kind", { enum: ["created", "attached", "detached", "ended", "exited"] }).notNull(),
    detail: text("detail"),
    at: integer("at").notNull().default(now),
  },
  (t) => [index("terminal_events_runner").on(t.runnerId, t.id), index("terminal_events_terminal").on(t.terminalId)],
);

/** Single-use, 30 s tickets for a browser to open one terminal's socket. */
export const terminalTickets = sqliteTable("terminal_tickets", {
  ticketHash: text("ticket_hash").primaryKey(),
  userId: text("user_id").notNull(),
  /** The credential the ticket was made with: the socket ends when it does. */
  credential: text("credential").notNull(),
  terminalId: text("terminal_id").notNull(),
  expiresAt: integer("expires_at").notNull(),
});

/**
 * A person's provider keys (`kind` key, `name` the provider) and environment variables (`kind`
 * env, `name` the variable), sealed with AES-GCM under ENCRYPTION_KEY and bound to the user, kind
 * and name (`worker/services/user-secrets.ts`). Only `sealed` holds the value; `key_version` is
 * the version it was sealed with, so rotation finds what is not on the current key.
 */
export const userSecrets = sqliteTable(
  "user_secrets",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    kind: text("kind").notNull(),
    name: text("name").notNull(),
    sealed: text("sealed").notNull(),
    keyVersion: integer("key_version").notNull(),
    /** For display only; null when the value is too short to show any of it. */
    last4: text("last4"),
    /** Where an OpenAI-compatible key is sent: not a secret, shown in settings. */
    baseUrl: text("base_url"),
    createdAt: integer("created_at").notNull().default(now),
    updatedAt: integer("updated_at").notNull().default(now),
  },
  (t) => [
    uniqueIndex("user_secrets_name").on(t.userId, t.kind, t.name),
    index("user_secrets_version").on(t.keyVersion),
  ],
);

// ---- MCP servers attached to sessions ----

/**
 * An MCP server config on a board (`protocol/mcp-servers.ts`). `data` holds the command and args
 * or the URL, the names and last four characters of its secrets, and `sealed`: the env values or
 * header values, AES-GCM sealed with ENCRYPTION_KEY and bound to this row's id.
 */
export const mcpServers = sqliteTable(
  "mcp_servers",
  {
    id: text("id").primaryKey(),
    boardId: text("board_id")
      .notNull()
      .references(() => boards.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    transport: text("transport", { enum: ["stdio", "http"] }).notNull(),
    data: json<Record<string, unknown>>("data").notNull().default({}),
    createdBy: text("created_by").notNull(),
    createdAt: integer("created_at").notNull().default(now),
  },
  (t) => [uniqueIndex("mcp_servers_board_name").on(t.boardId, t.name)],
);
