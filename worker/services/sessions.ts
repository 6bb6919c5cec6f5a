import { and, asc, eq, gt, lte, sql } from "drizzle-orm";
import type { z } from "zod";
import type {
  CreateSessionBody,
  DecisionBody,
  DecisionRecord,
  ForkBody,
  MessagePage,
  MessagePageQuery,
  Page,
  PatchSessionBody,
  PatchTaskBody,
  PromptBody,
  RunnerInfo,
  Session,
  SessionDetail,
  SessionPageQuery,
  SpawnBody,
  Task,
  TaskPageQuery,
} from "../../protocol/index.ts";
import {
  PROVIDER_ENV,
  PROVIDER_LABELS,
  RUNTIME_LABELS,
  type Runtime,
  runtimeProviderProblem,
  runtimeUnavailable,
  UNSANDBOXED_TOOL,
  usesMachineLogin,
} from "../../protocol/index.ts";
import { schema } from "../db/client.ts";
import { badRequest, conflict, notFound } from "../lib/errors.ts";
import { newId } from "../lib/ids.ts";
import { requireBoardRole } from "./access.ts";
import type { Ctx } from "./context.ts";
import { removed, userId } from "./context.ts";
import { cancelJob } from "./jobs.ts";
import { checkMcpServerIds } from "./mcp-servers.ts";
import {
  loadSession,
  messagesAfter,
  patchJson,
  publishSession,
  publishTask,
  runtimeForkPoint,
  type SessionData,
  selectSessions,
  sessionOnBoard,
  toMessage,
  toTask,
} from "./session-rows.ts";
import { createChild, dispatchNext, resumeIfNothingPending, taskValues } from "./session-tasks.ts";
import { revokeSessionTokens } from "./tokens.ts";
import { hasProviderKey } from "./user-secrets.ts";
import { createWorktree } from "./worktrees.ts";

/**
 * Agent sessions as people use them: start one on a worktree, prompt it (prompts queue behind a
 * running task), stop it, answer its permission requests, change its mode, fork it at a message,
 * spawn children. Viewers read; members and owners act. Everything runs through the tasks in
 * session-tasks.ts, so the board, the API and agents themselves see one behaviour.
 */

const { sessions, tasks, messages, worktrees, runners, users } = schema;

async function nameOf(ctx: Ctx): Promise<string> {
  const u = await ctx.db.query.users.findFirst({ where: eq(users.id, userId(ctx)), columns: { name: true } });
  return u?.name ?? "someone";
}

/** `orCreating`: a prompt may wait in the queue for a worktree the runner is still making. */
async function readyWorktree(ctx: Ctx, boardId: string, worktreeId: string, opts: { orCreating?: boolean } = {}) {
  const wt = await ctx.db.query.worktrees.findFirst({
    where: and(eq(worktrees.id, worktreeId), eq(worktrees.boardId, boardId)),
  });
  if (!wt) throw notFound("Worktree");
  if (wt.status !== "ready" && !(opts.orCreating && wt.status === "creating")) {
    throw conflict(
      `The worktree "${wt.name}" is ${wt.status === "creating" ? "still being created" : `in state "${wt.status}"`}: sessions run only in a ready worktree.`,
      "worktree_not_ready",
    );
  }
  return wt;
}

/**
 * May this worktree's runner serve the provider? A runner that reported nothing about providers
 * (one from before sessions) is given the benefit of the doubt; its task fails in words if not.
 */
async function checkProvider(
  ctx: Ctx,
  runnerId: string,
  provider: Session["provider"],
  runtime: Runtime,
  baseUrl?: string,
) {
  const runner = await ctx.db.query.runners.findFirst({ where: eq(runners.id, runnerId) });
  if (!runner) throw notFound("Runner");
  const info = runner.data as Partial<RunnerInfo>;
  const ready = info.agents?.find((a) => a.provider === provider);
  if (!info.agents || ready?.ready) return;
  // Claude Code on a machine signed in to Claude needs no key at all.
  if (provider === "anthropic" && usesMachineLogin(info.runtimes, runtime)) return;
  // An OpenAI-compatible server named by the session itself needs no runner setting (local servers take no key).
  if (provider === "openai" && baseUrl) return;
  // Nor does a person who saved their own key (Keys & environment).
  if (await hasProviderKey(ctx, userId(ctx), provider)) return;
  // The runner words its reason as "no X: set it…"; the sentence here names the runner before it.
  const reason = ready?.reason?.replace(/^no /, "has no ");
  const why = reason ?? `has no ${PROVIDER_ENV[provider]}: set it and restart the runner`;
  throw conflict(`${PROVIDER_LABELS[provider]}: runner '${runner.name}' ${why}`, "provider_unavailable");
}

/**
 * Does this worktree's runner have the runtime's SDK? Claude Code and Codex are optional on a
 * runner (large packages), so one that did not report having it is refused, with how to add it.
 */
async function checkRuntime(ctx: Ctx, runnerId: string, runtime: Runtime) {
  if (runtime === "builtin") return;
  const runner = await ctx.db.query.runners.findFirst({ where: eq(runners.id, runnerId) });
  if (!runner) throw notFound("Runner");
  const why = runtimeUnavailable({ name: runner.name, info: runner.data as Partial<RunnerInfo> }, runtime);
  if (why) throw conflict(`${RUNTIME_LABELS[runtime]}: ${why}`, "runtime_unavailable");
}

export async function listSessions(
  ctx: Ctx,
  boardId: string,
  q: z.infer<typeof SessionPageQuery>,
): Promise<Page<Session>> {
  await requireBoardRole(ctx, boardId, "viewer");
  const items = await selectSessions(
    ctx,
    and(
      eq(sessions.boardId, boardId),
      q.cursor ? gt(sessions.id, q.cursor) : undefined,
      q.worktreeId ? eq(sessions.worktreeId, q.worktreeId) : undefined,
      q.status ? eq(sessions.status, q.status) : undefined,
      q.provider ? eq(sessions.provider, q.provider) : undefined,
    ),
    q.limit + 1,
  );
  const more = items.length > q.limit;
  const page = items.slice(0, q.limit);
  return { items: page, nextCursor: more ? page.at(-1)!.id : null };
}

export async function getSession(ctx: Ctx, boardId: string, sessionId: string): Promise<SessionDetail> {
  await requireBoardRole(ctx, boardId, "viewer");
  await sessionOnBoard(ctx, boardId, sessionId);
  const [session, rows] = await Promise.all([
    loadSession(ctx, sessionId),
    ctx.db.query.tasks.findMany({ where: eq(tasks.sessionId, sessionId), orderBy: asc(tasks.id) }),
  ]);
  return { session: session!, tasks: rows.map(toTask) };
}

/** A session's tasks (one per prompt), oldest first, optionally in one status. */
export async function listTasks(
  ctx: Ctx,
  boardId: string,
  sessionId: string,
  q: z.infer<typeof TaskPageQuery>,
): Promise<Page<Task>> {
  await requireBoardRole(ctx, boardId, "viewer");
  await sessionOnBoard(ctx, boardId, sessionId);
  const rows = await ctx.db.query.tasks.findMany({
    where: and(
      eq(tasks.sessionId, sessionId),
      q.cursor ? gt(tasks.id, q.cursor) : undefined,
      q.status ? eq(tasks.status, q.status) : undefined,
    ),
    orderBy: asc(tasks.id),
    limit: q.limit + 1,
  });
  const items = rows.slice(0, q.limit).map(toTask);
  return { items, nextCursor: rows.length > q.limit ? items.at(-1)!.id : null };
}

export async function getTask(ctx: Ctx, boardId: string, taskId: string): Promise<Task> {
  await requireBoardRole(ctx, boardId, "viewer");
  const row = await ctx.db.query.tasks.findFirst({ where: and(eq(tasks.id, taskId), eq(tasks.boardId, boardId)) });
  if (!row) throw notFound("Task");
  return toTask(row);
}

export async function listMessages(
  ctx: Ctx,
  boardId: string,
  sessionId: string,
  q: z.infer<typeof MessagePageQuery>,
): Promise<MessagePage> {
  await requireBoardRole(ctx, boardId, "viewer");
  await sessionOnBoard(ctx, boardId, sessionId);
  const rows = await messagesAfter(ctx, sessionId, q.after, q.limit + 1);
  const more = rows.length > q.limit;
  const items = rows.slice(0, q.limit).map(toMessage);
  return { items, nextAfter: more ? items.at(-1)!.seq : null };
}

/** The list as given, each host once (the schema has trimmed and lower-cased them). */
const uniqueHosts = (hosts: string[] | undefined): string[] => [...new Set(hosts ?? [])];

export async function createSession(
  ctx: Ctx,
  boardId: string,
  body: z.infer<typeof CreateSessionBody>,
): Promise<Session> {
  await requireBoardRole(ctx, boardId, "member");
  const wt = await readyWorktree(ctx, boardId, body.worktreeId);
  if (body.baseUrl && body.provider !== "openai") {
    throw badRequest("baseUrl: only OpenAI-compatible sessions take a base URL.");
  }
  const mismatch = runtimeProviderProblem(body.runtime, body.provider);
  if (mismatch) throw badRequest(mismatch);
  // The runtime first: without its SDK on the runner, no key would help.
  await checkRuntime(ctx, wt.runnerId, body.runtime);
  await checkProvider(ctx, wt.runnerId, body.provider, body.runtime, body.baseUrl);
  if (body.zoneId) {
    const zone = await ctx.db.query.zones.findFirst({
      where: and(eq(schema.zones.id, body.zoneId), eq(schema.zones.boardId, boardId)),
      columns: { id: true },
    });
    if (!zone) throw badRequest("zoneId: no such zone on this board.");
  }
  const mcpServerIds = await checkMcpServerIds(ctx, boardId, body.mcpServerIds ?? []);
  const id = newId();
  const data: SessionData = {
    permissionMode: body.permissionMode,
    runtime: body.runtime,
    baseUrl: body.baseUrl ?? null,
    origin: null,
    zoneId: body.zoneId ?? null,
    mcpServerIds,
    allowedHosts: uniqueHosts(body.allowedHosts),
  };
  const author = { authorId: userId(ctx), authorName: await nameOf(ctx) };
  await ctx.db.batch([
    ctx.db.insert(sessions).values({
      id,
      boardId,
      worktreeId: wt.id,
      provider: body.provider,
      model: body.model,
      title: body.title ?? "",
      data: data as Record<string, unknown>,
      createdBy: userId(ctx),
    }),
    ...(body.prompt ? [ctx.db.insert(tasks).values(taskValues(boardId, id, { prompt: body.prompt, ...author }))] : []),
  ]);
  await publishSession(ctx, id, "created");
  if (body.prompt) await dispatchNext(ctx, id);
  return (await loadSession(ctx, id))!;
}

export async function patchSession(
  ctx: Ctx,
  boardId: string,
  sessionId: string,
  body: z.infer<typeof PatchSessionBody>,
): Promise<Session> {
  await requireBoardRole(ctx, boardId, "member");
  const row = await sessionOnBoard(ctx, boardId, sessionId);
  const patch: SessionData = {
    ...(body.permissionMode ? { permissionMode: body.permissionMode } : {}),
    // A running task keeps the servers it started with; the pick applies from the next task.
    ...(body.mcpServerIds ? { mcpServerIds: await checkMcpServerIds(ctx, boardId, body.mcpServerIds) } : {}),
    // Read by the runner at each task's start: a running task keeps the list it started with.
    ...(body.allowedHosts ? { allowedHosts: uniqueHosts(body.allowedHosts) } : {}),
  };
  await ctx.db
    .update(sessions)
    .set({
      ...(body.title !== undefined ? { title: body.title } : {}),
      ...(Object.keys(patch).length ? { data: patchJson(sessions.data, patch) } : {}),
      updatedAt: Date.now(),
    })
    .where(eq(sessions.id, sessionId));
  if (body.permissionMode && row.activeTaskId) {
    // A running task applies the new mode from its next tool call on.
    const task = await ctx.db.query.tasks.findFirst({ where: eq(tasks.id, row.activeTaskId) });
    const job = task?.jobId ? await ctx.db.query.jobs.findFirst({ where: eq(schema.jobs.id, task.jobId) }) : null;
    if (job)
      await ctx.links.send(job.runnerId, { type: "mode", v: 1, jobId: job.id, permissionMode: body.permissionMode });
  }
  return (await publishSession(ctx, sessionId))!;
}

export async function deleteSession(ctx: Ctx, boardId: string, sessionId: string): Promise<void> {
  await requireBoardRole(ctx, boardId, "member");
  const row = await sessionOnBoard(ctx, boardId, sessionId);
  if (row.activeTaskId) await stopTask(ctx, row.activeTaskId);
  // Its agent's MCP token ends with it; the threads pinned to it go too (foreign key).
  const [pinned] = await ctx.db.batch([
    ctx.db.select({ id: schema.comments.id }).from(schema.comments).where(eq(schema.comments.sessionId, sessionId)),
    ctx.db.delete(sessions).where(eq(sessions.id, sessionId)),
    revokeSessionTokens(ctx.db, sessionId),
  ]);
  await ctx.publish(boardId, removed("session", sessionId));
  await Promise.all(pinned.map((c) => ctx.publish(boardId, removed("comment", c.id))));
}

/** A prompt: it runs now if the session is free, else it waits in the queue (visible, editable). */
export async function promptSession(
  ctx: Ctx,
  boardId: string,
  sessionId: string,
  body: z.infer<typeof PromptBody>,
): Promise<Task> {
  await requireBoardRole(ctx, boardId, "member");
  const row = await sessionOnBoard(ctx, boardId, sessionId);
  await readyWorktree(ctx, boardId, row.worktreeId, { orCreating: true });
  const [task] = await ctx.db
    .insert(tasks)
    .values(taskValues(boardId, sessionId, { prompt: body.text, authorId: userId(ctx), authorName: await nameOf(ctx) }))
    .returning();
  await publishTask(ctx, task!, "created");
  await dispatchNext(ctx, sessionId);
  await publishSession(ctx, sessionId);
  const now = await ctx.db.query.tasks.findFirst({ where: eq(tasks.id, task!.id) });
  return toTask(now ?? task!);
}

async function queuedTask(ctx: Ctx, boardId: string, sessionId: string, taskId: string) {
  await requireBoardRole(ctx, boardId, "member");
  await sessionOnBoard(ctx, boardId, sessionId);
  const task = await ctx.db.query.tasks.findFirst({ where: and(eq(tasks.id, taskId), eq(tasks.sessionId, sessionId)) });
  if (!task) throw notFound("Prompt");
  return task;
}

const notQueued = () =>
  conflict(
    "This prompt has already started (or ended): it can no longer be changed. Stop the session instead.",
    "task_not_queued",
  );

export async function editQueuedTask(
  ctx: Ctx,
  boardId: string,
  sessionId: string,
  taskId: string,
  body: z.infer<typeof PatchTaskBody>,
): Promise<Task> {
  await queuedTask(ctx, boardId, sessionId, taskId);
  const [row] = await ctx.db
    .update(tasks)
    .set({
      title: body.prompt.slice(0, 200),
      data: patchJson(tasks.data, { prompt: body.prompt }),
      updatedAt: Date.now(),
    })
    .where(and(eq(tasks.id, taskId), eq(tasks.status, "queued"), sql`${tasks.jobId} is null`))
    .returning();
  if (!row) throw notQueued();
  await publishTask(ctx, row);
  return toTask(row);
}

export async function removeQueuedTask(ctx: Ctx, boardId: string, sessionId: string, taskId: string): Promise<void> {
  await queuedTask(ctx, boardId, sessionId, taskId);
  const [row] = await ctx.db
    .delete(tasks)
    .where(and(eq(tasks.id, taskId), eq(tasks.status, "queued"), sql`${tasks.jobId} is null`))
    .returning({ id: tasks.id });
  if (!row) throw notQueued();
  await ctx.publish(boardId, removed("task", taskId));
  await publishSession(ctx, sessionId);
}

export async function stopTask(ctx: Ctx, taskId: string) {
  const name = await nameOf(ctx);
  const [task] = await ctx.db
    .update(tasks)
    .set({ data: patchJson(tasks.data, { stoppedBy: name }) })
    .where(eq(tasks.id, taskId))
    .returning();
  // The job's cancel reaches the runner over its link; the task ends when the runner says so.
  if (task?.jobId) await cancelJob(ctx, task.jobId);
}

/** Abort the running task: the model call and any running tool stop within 2 s. Queued prompts stay queued. */
export async function stopSession(ctx: Ctx, boardId: string, sessionId: string): Promise<Session> {
  await requireBoardRole(ctx, boardId, "member");
  const row = await sessionOnBoard(ctx, boardId, sessionId);
  if (row.activeTaskId) await stopTask(ctx, row.activeTaskId);
  return (await loadSession(ctx, sessionId))!;
}

/** Any member answers a request; the first answer wins, and who gave it is recorded. */
export async function decidePermission(
  ctx: Ctx,
  boardId: string,
  sessionId: string,
  requestId: string,
  body: z.infer<typeof DecisionBody>,
): Promise<Session> {
  await requireBoardRole(ctx, boardId, "member");
  const row = await sessionOnBoard(ctx, boardId, sessionId);
  const req = (row.data as SessionData).pending?.[requestId];
  if (!req) throw notFound("Permission request");
  const record: DecisionRecord = {
    decision: body.decision,
    byUserId: userId(ctx),
    byName: await nameOf(ctx),
    ...(body.reason ? { reason: body.reason } : {}),
    at: Date.now(),
  };
  const patch: SessionData = {
    pending: { [requestId]: null } as unknown as SessionData["pending"],
    // Kept until the task ends, for a runner whose link was down when the answer was sent.
    decisions: { [requestId]: record },
    // Accepting to run without a sandbox is asked once per session, whichever allow it got.
    ...(body.decision === "allow_always" || (body.decision === "allow" && req.tool === UNSANDBOXED_TOOL)
      ? { allowedTools: { [req.tool]: { byName: record.byName } } }
      : {}),
  };
  const [[won]] = await ctx.db.batch([
    ctx.db
      .update(sessions)
      .set({ data: patchJson(sessions.data, patch), updatedAt: record.at })
      .where(
        and(
          eq(sessions.id, sessionId),
          sql`json_extract(${sessions.data}, ${`$.pending."${requestId.replace(/"/g, "")}"`}) is not null`,
        ),
      )
      .returning({ id: sessions.id }),
    resumeIfNothingPending(ctx, sessionId),
  ]);
  if (!won) throw conflict("This request was already answered.", "request_answered");
  const task = await ctx.db.query.tasks.findFirst({ where: eq(tasks.id, req.taskId) });
  const job = task?.jobId ? await ctx.db.query.jobs.findFirst({ where: eq(schema.jobs.id, task.jobId) }) : null;
  if (job) {
    await ctx.links.send(job.runnerId, {
      type: "permission",
      v: 1,
      jobId: job.id,
      requestId,
      decision: body.decision,
      ...(body.reason ? { reason: body.reason } : {}),
      byUserId: record.byUserId!,
      byName: record.byName!,
      at: record.at,
    });
  }
  return (await publishSession(ctx, sessionId))!;
}

/** Where a new card for a fork goes when the board did not say: to the right of its source. */
const BESIDE = 300;

/**
 * A fork's own new worktree, made like any other (same checks, same job) on the source worktree's
 * runner and repo. It is still being created when the fork exists: prompts queue until it is ready.
 */
async function worktreeForFork(
  ctx: Ctx,
  boardId: string,
  sourceWorktreeId: string,
  body: z.infer<typeof ForkBody>,
): Promise<{ id: string }> {
  if (body.worktreeId) throw badRequest("newWorktree: send worktreeId or newWorktree, not both.");
  const nw = body.newWorktree!;
  const src = await ctx.db.query.worktrees.findFirst({
    where: and(eq(worktrees.id, sourceWorktreeId), eq(worktrees.boardId, boardId)),
  });
  if (!src) throw notFound("Worktree");
  return createWorktree(ctx, boardId, {
    repoId: src.repoId,
    name: nw.name,
    mode: nw.mode,
    branch: nw.branch ?? nw.name,
    ...(nw.mode === "new" ? { baseBranch: nw.baseBranch ?? src.branch } : {}),
    notes: "",
    x: nw.x ?? src.x + BESIDE,
    y: nw.y ?? src.y,
    zoneId: nw.zoneId ?? null,
  });
}

/** A new session holding the conversation up to and including one message: a copy of rows. */
export async function forkSession(
  ctx: Ctx,
  boardId: string,
  sessionId: string,
  body: z.infer<typeof ForkBody>,
): Promise<Session> {
  await requireBoardRole(ctx, boardId, "member");
  const source = await sessionOnBoard(ctx, boardId, sessionId);
  const at = await ctx.db.query.messages.findFirst({
    where: and(eq(messages.id, body.messageId), eq(messages.sessionId, sessionId)),
    columns: { seq: true },
  });
  if (!at) throw notFound("Message");
  const wt = body.newWorktree
    ? await worktreeForFork(ctx, boardId, source.worktreeId, body)
    : await readyWorktree(ctx, boardId, body.worktreeId ?? source.worktreeId);
  const id = newId();
  const sd = source.data as SessionData;
  const data: SessionData = {
    permissionMode: sd.permissionMode ?? "ask",
    runtime: sd.runtime ?? "builtin",
    baseUrl: sd.baseUrl ?? null,
    origin: "fork",
    mcpServerIds: sd.mcpServerIds ?? [],
    allowedHosts: sd.allowedHosts ?? [],
    // Claude Code forks its own session there, tool calls and results kept.
    runtimeFork: await runtimeForkPoint(ctx, sessionId, at.seq),
  };
  await ctx.db.batch([
    ctx.db.insert(sessions).values({
      id,
      boardId,
      worktreeId: wt.id,
      parentId: source.id,
      forkedFromMessageId: body.messageId,
      provider: source.provider,
      model: source.model,
      title: body.title ?? (source.title ? `${source.title} (fork)` : ""),
      messageCount: at.seq,
      data: data as Record<string, unknown>,
      createdBy: userId(ctx),
    }),
    // One statement, however long the conversation: ids are the fork's id and the position.
    ctx.db.insert(messages).select(
      ctx.db
        .select({
          id: sql<string>`${id} || '.' || printf('%06d', ${messages.seq})`.as("id"),
          sessionId: sql<string>`${id}`.as("session_id"),
          seq: messages.seq,
          role: messages.role,
          content: messages.content,
          taskId: sql<null>`null`.as("task_id"),
          data: messages.data,
          createdAt: messages.createdAt,
        })
        .from(messages)
        .where(and(eq(messages.sessionId, sessionId), lte(messages.seq, at.seq))),
    ),
  ]);
  return (await publishSession(ctx, id, "created"))!;
}

/** A child session in the same worktree, started with a prompt; its answer comes back to the parent. */
export async function spawnSession(
  ctx: Ctx,
  boardId: string,
  sessionId: string,
  body: z.infer<typeof SpawnBody>,
): Promise<Session> {
  await requireBoardRole(ctx, boardId, "member");
  const parent = await sessionOnBoard(ctx, boardId, sessionId);
  await readyWorktree(ctx, boardId, parent.worktreeId);
  return createChild(ctx, parent, {
    id: newId(),
    prompt: body.prompt,
    title: body.title,
    authorId: userId(ctx),
    authorName: await nameOf(ctx),
  });
}
