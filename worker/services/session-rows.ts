import type { Column, SQL } from "drizzle-orm";
import { and, asc, desc, eq, gt, lte, sql } from "drizzle-orm";
import type {
  DecisionRecord,
  KeySource,
  Message,
  PermissionMode,
  PermissionRequest,
  Provider,
  Runtime,
  RuntimeFork,
  RuntimeRef,
  Session,
  Task,
  Todo,
  Usage,
} from "../../protocol/index.ts";
import { schema } from "../db/client.ts";
import { notFound } from "../lib/errors.ts";
import type { Ctx } from "./context.ts";
import { entity } from "./context.ts";

/**
 * Sessions, tasks and messages as rows: reading them, turning them into what the API returns, and
 * announcing them. The JSON columns are only ever changed with `json_patch`, so a person changing
 * the mode and a runner reporting progress at the same moment never undo each other.
 */

const { sessions, tasks, messages } = schema;
export type SessionRow = typeof sessions.$inferSelect;
export type TaskRow = typeof tasks.$inferSelect;
export type MessageRow = typeof messages.$inferSelect;

export interface SessionData {
  permissionMode?: PermissionMode;
  /** Absent: `builtin` (sessions from before runtimes). */
  runtime?: Runtime;
  /** The SDK's session id from the last Claude Code or Codex task, resumed by the next one. */
  runtimeSessionId?: string | null;
  /** Codex's running usage totals of that thread after its last task. */
  runtimeTotals?: Usage | null;
  /** A fork's point in its parent's SDK session, used until the fork has a session of its own. */
  runtimeFork?: RuntimeFork | null;
  baseUrl?: string | null;
  origin?: "fork" | "spawn" | null;
  zoneId?: string | null;
  nowDoing?: string | null;
  todos?: Todo[];
  /** Requests waiting for a person, by id (a map, so one can be added or removed with json_patch). */
  pending?: Record<string, PermissionRequest>;
  /** Tools approved for the rest of the session: who did (`true` from before that was kept). */
  allowedTools?: Record<string, true | { byName: string | null }>;
  lastError?: string | null;
  /** When its last task ended. */
  endedAt?: number | null;
  /** The board's MCP servers the session picked (`mcp_servers` ids). */
  mcpServerIds?: string[];
  /** Hosts its shell commands may reach through the runner's sandbox. */
  allowedHosts?: string[];
  /** Answers given during the running task, by request id. */
  decisions?: Record<string, DecisionRecord>;
}

export interface TaskData {
  prompt?: string;
  authorName?: string | null;
  fromSessionId?: string | null;
  error?: string | null;
  stoppedBy?: string | null;
  keySource?: KeySource | null;
  startedAt?: number | null;
  endedAt?: number | null;
}

export interface MessageData {
  authorId?: string | null;
  authorName?: string | null;
  fromSessionId?: string | null;
  usage?: Usage | null;
  model?: string | null;
  /** Where it stands in the SDK runtime's own session (copied with the message into a fork). */
  runtimeRef?: RuntimeRef | null;
}

export const patchJson = (column: Column, patch: object): SQL => sql`json_patch(${column}, ${JSON.stringify(patch)})`;

/** The next message number of a session, computed inside the insert so two writers never share one. */
export const nextSeq = (sessionId: string): SQL =>
  sql`(select coalesce(max(${messages.seq}), 0) + 1 from ${messages} where ${messages.sessionId} = ${sessionId})`;
export const lastSeq = (sessionId: string): SQL =>
  sql`(select coalesce(max(${messages.seq}), 0) from ${messages} where ${messages.sessionId} = ${sessionId})`;

// Spelled out: inside a one-table select drizzle leaves columns unqualified, which here would bind to tasks.
const queuedCount = sql<number>`(select count(*) from "tasks" q where q.session_id = "sessions"."id" and q.status = 'queued' and q.job_id is null)`;

export function toSession(r: SessionRow, queued: number): Session {
  const d = r.data as SessionData;
  return {
    id: r.id,
    boardId: r.boardId,
    worktreeId: r.worktreeId,
    parentId: r.parentId,
    origin: d.origin ?? null,
    forkedFromMessageId: r.forkedFromMessageId,
    zoneId: d.zoneId ?? null,
    provider: r.provider as Provider,
    model: r.model,
    baseUrl: d.baseUrl ?? null,
    permissionMode: d.permissionMode ?? "ask",
    runtime: d.runtime ?? "builtin",
    status: r.status as Session["status"],
    title: r.title,
    nowDoing: d.nowDoing ?? null,
    usage: {
      input: r.inputTokens,
      output: r.outputTokens,
      cacheRead: r.cacheReadTokens,
      cacheWrite: r.cacheWriteTokens,
    },
    costMicros: r.costMicros,
    unpriced: r.unpriced,
    contextTokens: r.contextTokens,
    todos: d.todos ?? [],
    pending: Object.values(d.pending ?? {}).sort((a, b) => a.requestedAt - b.requestedAt),
    allowedTools: Object.keys(d.allowedTools ?? {}),
    allowedBy: allowedBy(d.allowedTools),
    mcpServerIds: d.mcpServerIds ?? [],
    allowedHosts: d.allowedHosts ?? [],
    queued: Number(queued),
    messageCount: r.messageCount,
    lastError: d.lastError ?? null,
    createdBy: r.createdBy,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    endedAt: d.endedAt ?? null,
  };
}

export function toTask(r: TaskRow): Task {
  const d = r.data as TaskData;
  return {
    id: r.id,
    boardId: r.boardId,
    sessionId: r.sessionId,
    prompt: d.prompt ?? r.title,
    status: r.status as Task["status"],
    authorId: r.authorId,
    authorName: d.authorName ?? null,
    fromSessionId: d.fromSessionId ?? null,
    usage: {
      input: r.inputTokens,
      output: r.outputTokens,
      cacheRead: r.cacheReadTokens,
      cacheWrite: r.cacheWriteTokens,
    },
    costMicros: r.costMicros,
    error: d.error ?? null,
    jobId: r.jobId,
    stoppedBy: d.stoppedBy ?? null,
    keySource: d.keySource ?? null,
    createdAt: r.createdAt,
    startedAt: d.startedAt ?? null,
    endedAt: d.endedAt ?? null,
  };
}

export function toMessage(r: MessageRow): Message {
  const d = r.data as MessageData;
  return {
    id: r.id,
    sessionId: r.sessionId,
    seq: r.seq,
    role: r.role as Message["role"],
    content: r.content as Message["content"],
    taskId: r.taskId,
    authorId: d.authorId ?? null,
    authorName: d.authorName ?? null,
    fromSessionId: d.fromSessionId ?? null,
    usage: d.usage ?? null,
    model: d.model ?? null,
    createdAt: r.createdAt,
  };
}

/** Sessions with their queued-prompt counts, in id (creation) order. */
export async function selectSessions(ctx: Ctx, where: SQL | undefined, limit?: number): Promise<Session[]> {
  const q = ctx.db.select({ s: sessions, queued: queuedCount }).from(sessions).where(where).orderBy(asc(sessions.id));
  const rows = limit ? await q.limit(limit) : await q;
  return rows.map((r) => toSession(r.s, r.queued));
}

export async function loadSession(ctx: Ctx, sessionId: string): Promise<Session | null> {
  const [s] = await selectSessions(ctx, eq(sessions.id, sessionId), 1);
  return s ?? null;
}

export async function sessionOnBoard(ctx: Ctx, boardId: string, sessionId: string): Promise<SessionRow> {
  const row = await ctx.db.query.sessions.findFirst({
    where: and(eq(sessions.id, sessionId), eq(sessions.boardId, boardId)),
  });
  if (!row) throw notFound("Session");
  return row;
}

/** Re-read and announce a session (its queued count and totals change with its tasks). */
export async function publishSession(ctx: Ctx, sessionId: string, op: "created" | "patched" = "patched") {
  const s = await loadSession(ctx, sessionId);
  if (s) await ctx.publish(s.boardId, entity("session", op, s));
  return s;
}

export const publishTask = (ctx: Ctx, r: TaskRow, op: "created" | "patched" = "patched") =>
  ctx.publish(r.boardId, entity("task", op, toTask(r)));

export const publishMessage = (ctx: Ctx, boardId: string, r: MessageRow) =>
  ctx.publish(boardId, entity("message", "created", toMessage(r)));

/**
 * Where a fork at message `seq` starts in the SDK runtime's own session: the last message up to it
 * that the runtime placed there (a prompt or notice after it is replayed to the fork as text).
 */
export async function runtimeForkPoint(ctx: Ctx, sessionId: string, seq: number): Promise<RuntimeFork | null> {
  const [row] = await ctx.db
    .select({ seq: messages.seq, data: messages.data })
    .from(messages)
    .where(
      and(
        eq(messages.sessionId, sessionId),
        lte(messages.seq, seq),
        sql`json_extract(${messages.data}, '$.runtimeRef.uuid') is not null`,
      ),
    )
    .orderBy(desc(messages.seq))
    .limit(1);
  const ref = (row?.data as MessageData | undefined)?.runtimeRef;
  return row && ref ? { ...ref, seq: row.seq } : null;
}

export async function messagesAfter(ctx: Ctx, sessionId: string, after: number, limit: number) {
  return ctx.db.query.messages.findMany({
    where: and(eq(messages.sessionId, sessionId), gt(messages.seq, after)),
    orderBy: asc(messages.seq),
    limit,
  });
}

function allowedBy(tools: SessionData["allowedTools"]): Record<string, string> {
  const by: Record<string, string> = {};
  for (const [tool, v] of Object.entries(tools ?? {})) if (v !== true && v.byName) by[tool] = v.byName;
  return by;
}
