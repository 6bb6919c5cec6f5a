import type { SQL } from "drizzle-orm";
import { and, asc, eq, exists, inArray, isNull, not, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { z } from "zod";
import type { JobEventsBody, RunnerInfo, Session, TaskContext, TaskDecisions } from "../../protocol/index.ts";
import { modelInfo, SessionEvents, usesMachineLogin } from "../../protocol/index.ts";
import { schema } from "../db/client.ts";
import { AppError, badRequest, notFound } from "../lib/errors.ts";
import { newId } from "../lib/ids.ts";
import { describeIssues } from "../lib/validate.ts";
import type { Ctx } from "./context.ts";
import type { JobEffect, JobOutcome, JobRow } from "./job-queue.ts";
import { authorizeJob, insertJob, jobQueued, keepJobOnlyIf } from "./job-queue.ts";
import { serversForTask } from "./mcp-servers.ts";
import { actingRunnerId } from "./runner-access.ts";
import { notifyPermission, notifySessionEnded } from "./session-notices.ts";
import {
  lastSeq,
  loadSession,
  type MessageData,
  messagesAfter,
  nextSeq,
  patchJson,
  publishMessage,
  publishSession,
  publishTask,
  type SessionData,
  type SessionRow,
  type TaskData,
  toMessage,
  toTask,
} from "./session-rows.ts";
import { mintSessionToken } from "./tokens.ts";
import { releaseTaskSecrets } from "./user-secrets.ts";

/**
 * A session's tasks on the runner: handing the next prompt to the worktree's runner, what the
 * runner reports while it runs (messages, state, permission requests, spawns), and what its end
 * does to the session. One task per session at a time, enforced by a compare-and-set on
 * `sessions.active_task_id`.
 */

const { sessions, tasks, messages, worktrees, jobs, users, runners } = schema;
type Stmt = BatchItem<"sqlite">;
type Batch = [Stmt, ...Stmt[]];

type SessionTaskPayload = { sessionId: string; taskId: string; worktreeId: string };
const payloadOf = (job: JobRow) => job.payload as SessionTaskPayload;

export interface NewTask {
  prompt: string;
  authorId: string | null;
  authorName: string | null;
  fromSessionId?: string | null;
}

export const taskValues = (boardId: string, sessionId: string, t: NewTask) => ({
  id: newId(),
  boardId,
  sessionId,
  title: t.prompt.slice(0, 200),
  status: "queued",
  authorId: t.authorId,
  data: { prompt: t.prompt, authorName: t.authorName, fromSessionId: t.fromSessionId ?? null } satisfies TaskData,
});

/** The session has no task on a runner: start its oldest queued prompt, if it has one. */
export async function dispatchNext(ctx: Ctx, sessionId: string): Promise<void> {
  const session = await ctx.db.query.sessions.findFirst({ where: eq(sessions.id, sessionId) });
  if (!session || session.activeTaskId) return;
  const next = await ctx.db.query.tasks.findFirst({
    where: and(eq(tasks.sessionId, sessionId), eq(tasks.status, "queued")),
    orderBy: asc(tasks.id),
  });
  if (!next) return;
  const wt = await ctx.db.query.worktrees.findFirst({ where: eq(worktrees.id, session.worktreeId) });
  // A worktree still being made (a fork's own): the prompt waits; `worktreeSettled` sends it.
  if (wt?.status === "creating") return;
  if (wt?.status !== "ready") {
    return failQueued(ctx, session, next.id, "The worktree is not ready on its runner; this prompt was not sent.");
  }
  let spec: Awaited<ReturnType<typeof authorizeJob<"session.task">>>;
  try {
    spec = await authorizeJob(ctx, {
      id: newId(),
      runnerId: wt.runnerId,
      boardId: session.boardId,
      type: "session.task",
      payload: { sessionId, taskId: next.id, worktreeId: wt.id },
    });
  } catch (err) {
    if (err instanceof AppError) return failQueued(ctx, session, next.id, err.message);
    throw err;
  }
  const jobId = spec.id!;
  const data = next.data as TaskData;
  const messageId = newId();
  const held = exists(
    ctx.db
      .select({ one: sql`1` })
      .from(sessions)
      .where(and(eq(sessions.id, sessionId), eq(sessions.activeTaskId, next.id))),
  );
  const now = Date.now();
  const prompt: MessageData = {
    authorId: next.authorId,
    authorName: data.authorName ?? null,
    fromSessionId: data.fromSessionId ?? null,
  };
  const results = (await ctx.db.batch([
    ctx.db
      .update(sessions)
      .set({ activeTaskId: next.id, status: "queued", updatedAt: now })
      .where(and(eq(sessions.id, sessionId), isNull(sessions.activeTaskId)))
      .returning({ id: sessions.id }),
    insertJob(ctx, spec),
    keepJobOnlyIf(ctx, jobId, held),
    ctx.db
      .update(tasks)
      .set({ jobId, updatedAt: now })
      .where(and(eq(tasks.id, next.id), eq(tasks.status, "queued"), held))
      .returning(),
    // The prompt joins the transcript when it starts, not when it is queued: until then it can be edited.
    ctx.db
      .insert(messages)
      .values({
        id: messageId,
        sessionId,
        seq: nextSeq(sessionId),
        role: "user",
        content: [{ type: "text", text: data.prompt ?? next.title }],
        taskId: next.id,
        data: prompt as Record<string, unknown>,
      })
      .returning(),
    ctx.db.delete(messages).where(and(eq(messages.id, messageId), not(held))),
    ctx.db
      .update(sessions)
      .set({ messageCount: lastSeq(sessionId) })
      .where(eq(sessions.id, sessionId)),
  ] as unknown as Batch)) as unknown[];
  const [won] = results[0] as { id: string }[];
  if (!won) return; // another dispatch got there first
  const [job] = results[1] as JobRow[];
  const [task] = results[3] as (typeof tasks.$inferSelect)[];
  const [msg] = results[4] as (typeof messages.$inferSelect)[];
  await Promise.all([
    jobQueued(ctx, job!),
    task ? publishTask(ctx, task) : null,
    msg ? publishMessage(ctx, session.boardId, msg) : null,
  ]);
  await publishSession(ctx, sessionId);
}

/**
 * A worktree's create job ended: prompts that waited for it (a fork into a new worktree) start
 * now, or, if it could not be made, fail saying why.
 */
export async function worktreeSettled(
  ctx: Ctx,
  wt: { id: string; name: string; status: string; data: unknown },
): Promise<void> {
  if (wt.status !== "ready" && wt.status !== "error") return;
  const waiting = await ctx.db
    .selectDistinct({ id: sessions.id })
    .from(sessions)
    .innerJoin(tasks, and(eq(tasks.sessionId, sessions.id), eq(tasks.status, "queued")))
    .where(and(eq(sessions.worktreeId, wt.id), isNull(sessions.activeTaskId)));
  if (!waiting.length) return;
  const why = (wt.data as { error?: string }).error ?? "the runner reported no reason";
  for (const { id } of waiting) {
    if (wt.status === "ready") {
      await dispatchNext(ctx, id);
      continue;
    }
    const session = await ctx.db.query.sessions.findFirst({ where: eq(sessions.id, id) });
    const queued = await ctx.db.query.tasks.findMany({
      where: and(eq(tasks.sessionId, id), eq(tasks.status, "queued"), isNull(tasks.jobId)),
      columns: { id: true },
    });
    for (const t of queued) {
      if (session)
        await failQueued(
          ctx,
          session,
          t.id,
          `The worktree "${wt.name}" could not be created, so this prompt was not sent: ${why}`.slice(0, 2000),
        );
    }
  }
}

async function failQueued(ctx: Ctx, session: SessionRow, taskId: string, error: string) {
  const now = Date.now();
  const [task] = await ctx.db
    .update(tasks)
    .set({ status: "failed", data: patchJson(tasks.data, { error, endedAt: now }), updatedAt: now })
    .where(and(eq(tasks.id, taskId), eq(tasks.status, "queued")))
    .returning();
  await ctx.db
    .update(sessions)
    .set({ status: "failed", data: patchJson(sessions.data, { lastError: error, endedAt: now }), updatedAt: now })
    .where(and(eq(sessions.id, session.id), isNull(sessions.activeTaskId)));
  if (task) await publishTask(ctx, task);
  await publishSession(ctx, session.id);
}

/** The runner began the task: it shows running, for everyone. */
export async function sessionTaskStarted(ctx: Ctx, job: JobRow): Promise<void> {
  const { sessionId, taskId } = payloadOf(job);
  const now = Date.now();
  const [[task]] = await ctx.db.batch([
    ctx.db
      .update(tasks)
      .set({ status: "running", data: patchJson(tasks.data, { startedAt: now }), updatedAt: now })
      .where(and(eq(tasks.id, taskId), eq(tasks.status, "queued")))
      .returning(),
    ctx.db
      .update(sessions)
      .set({ status: "running", data: patchJson(sessions.data, { lastError: null }), updatedAt: now })
      .where(and(eq(sessions.id, sessionId), eq(sessions.activeTaskId, taskId), eq(sessions.status, "queued"))),
  ]);
  if (task) await publishTask(ctx, task);
  await publishSession(ctx, sessionId);
}

const ENDED = { succeeded: "completed", failed: "failed", cancelled: "stopped" } as const;

/**
 * What a task's end does, in the batch that settles its job: the task and the session take their
 * end state and the session lets go of the task. After the commit: a notice in the transcript
 * (stopped, failed), the next queued prompt, and a spawned child's answer to its parent.
 */
export function sessionTaskEffect(ctx: Ctx, job: JobRow, outcome: JobOutcome, guard: SQL): JobEffect {
  const { sessionId, taskId } = payloadOf(job);
  const status = ENDED[outcome.status];
  const now = Date.now();
  const error = outcome.status === "failed" ? outcome.error : null;
  const finalText = outcome.status === "succeeded" ? String(outcome.result.finalText ?? "") : "";
  return {
    stmts: [
      ctx.db
        .update(tasks)
        .set({ status, data: patchJson(tasks.data, { error, endedAt: now }), updatedAt: now })
        .where(and(eq(tasks.id, taskId), inArray(tasks.status, ["queued", "running"]), guard))
        .returning(),
      ctx.db
        .update(sessions)
        .set({
          status,
          activeTaskId: null,
          // Requests of a task that ended can no longer be answered.
          data: patchJson(sessions.data, {
            nowDoing: null,
            pending: null,
            decisions: null,
            lastError: error,
            endedAt: now,
          }),
          updatedAt: now,
        })
        .where(and(eq(sessions.id, sessionId), eq(sessions.activeTaskId, taskId), guard)),
    ],
    async publish(results) {
      const [task] = results[0] as (typeof tasks.$inferSelect)[];
      if (!task) return;
      await publishTask(ctx, task);
      const session = await ctx.db.query.sessions.findFirst({ where: eq(sessions.id, sessionId) });
      if (!session) return;
      const data = task.data as TaskData;
      const notice =
        status === "stopped"
          ? `Stopped${data.stoppedBy ? ` by ${data.stoppedBy}` : ""}.`
          : status === "failed"
            ? `This task failed: ${error}${error === "runner lost" || error?.startsWith("runner lost") ? ". The runner went away while it ran; send the next prompt to go on (the conversation so far is kept)." : ""}`
            : null;
      if (notice) {
        const [msg] = await ctx.db
          .insert(messages)
          .values({
            id: newId(),
            sessionId,
            seq: nextSeq(sessionId),
            role: "system",
            content: [
              { type: "notice", kind: status === "stopped" ? "stopped" : "error", text: notice.slice(0, 4000) },
            ],
            taskId,
          })
          .returning();
        await ctx.db
          .update(sessions)
          .set({ messageCount: lastSeq(sessionId) })
          .where(eq(sessions.id, sessionId));
        if (msg) await publishMessage(ctx, session.boardId, msg);
      }
      await publishSession(ctx, sessionId);
      if (status === "completed" || status === "failed") await notifySessionEnded(ctx, session, status, error);
      await dispatchNext(ctx, sessionId);
      if ((session.data as SessionData).origin === "spawn" && session.parentId) {
        await answerParent(ctx, session, status, finalText, error);
      }
    },
  };
}

/** A spawned child ended: its answer becomes the parent's next prompt, which wakes an idle parent. */
async function answerParent(
  ctx: Ctx,
  child: SessionRow,
  status: "completed" | "failed" | "stopped",
  finalText: string,
  error: string | null,
) {
  const parent = await ctx.db.query.sessions.findFirst({ where: eq(sessions.id, child.parentId!) });
  if (!parent) return;
  const name = child.title || `session ${child.id.slice(0, 8)}`;
  const prompt =
    status === "completed"
      ? finalText || "(the child session ended without a written answer)"
      : status === "failed"
        ? `The child session "${name}" failed: ${error}`
        : `The child session "${name}" was stopped before it answered.`;
  const [task] = await ctx.db
    .insert(tasks)
    .values({
      id: newId(),
      boardId: parent.boardId,
      sessionId: parent.id,
      title: prompt.slice(0, 200),
      status: "queued",
      authorId: null,
      data: { prompt: prompt.slice(0, 100_000), authorName: name, fromSessionId: child.id } satisfies TaskData,
    })
    .returning();
  if (task) await publishTask(ctx, task, "created");
  await dispatchNext(ctx, parent.id);
  await publishSession(ctx, parent.id);
}

// ---- what the runner reports while a task runs ----

type Events = z.infer<typeof JobEventsBody>["events"];

/**
 * Turn a post of events into statements for the batch that advances the job's event seq, each
 * guarded by `guard` (that advance won), so an event applies exactly once. Follow-ups that need
 * the commit (announcing, spawning a child) are in `publish`.
 */
export async function sessionEventsEffect(ctx: Ctx, job: JobRow, events: Events, guard: SQL): Promise<JobEffect> {
  const { sessionId, taskId } = payloadOf(job);
  const session = await ctx.db.query.sessions.findFirst({ where: eq(sessions.id, sessionId) });
  if (!session) throw notFound("Session");
  const priced = modelInfo(session.provider, session.model)?.price;
  const stmts: Stmt[] = [];
  const inserted: number[] = [];
  const spawns: z.infer<typeof SessionEvents.spawn>[] = [];
  const asked: { summary: string }[] = [];
  const now = Date.now();
  for (const e of events) {
    const schemaFor = SessionEvents[e.kind as keyof typeof SessionEvents];
    if (!schemaFor) throw badRequest(`Unknown session event kind "${e.kind}".`);
    const parsed = schemaFor.safeParse(e.data);
    if (!parsed.success) throw badRequest(`Invalid ${e.kind} event: ${describeIssues(parsed.error)}`);
    const kind = e.kind as keyof typeof SessionEvents;
    if (kind === "message") {
      const m = parsed.data as z.infer<typeof SessionEvents.message>;
      const data: MessageData = {
        usage: m.usage ?? null,
        model: m.role === "assistant" ? session.model : null,
        ...(m.runtimeRef ? { runtimeRef: m.runtimeRef } : {}),
      };
      inserted.push(stmts.length);
      stmts.push(
        ctx.db
          .insert(messages)
          .values({
            id: m.id,
            sessionId,
            seq: nextSeq(sessionId),
            role: m.role,
            content: m.content,
            taskId,
            data: data as Record<string, unknown>,
          })
          .onConflictDoNothing()
          .returning(),
        ctx.db.delete(messages).where(and(eq(messages.id, m.id), not(guard))),
      );
      if (m.usage) {
        const u = m.usage;
        const cost = priced
          ? sql`round((${tasks.inputTokens} + ${u.input}) * ${priced.input} + (${tasks.outputTokens} + ${u.output}) * ${priced.output} + (${tasks.cacheReadTokens} + ${u.cacheRead}) * ${priced.cacheRead} + (${tasks.cacheWriteTokens} + ${u.cacheWrite}) * ${priced.cacheWrite})`
          : sql`null`;
        stmts.push(
          ctx.db
            .update(tasks)
            .set({
              inputTokens: sql`${tasks.inputTokens} + ${u.input}`,
              outputTokens: sql`${tasks.outputTokens} + ${u.output}`,
              cacheReadTokens: sql`${tasks.cacheReadTokens} + ${u.cacheRead}`,
              cacheWriteTokens: sql`${tasks.cacheWriteTokens} + ${u.cacheWrite}`,
              costMicros: cost,
              updatedAt: now,
            })
            .where(and(eq(tasks.id, taskId), guard)),
          ctx.db
            .update(sessions)
            .set({
              inputTokens: sql`${sessions.inputTokens} + ${u.input}`,
              outputTokens: sql`${sessions.outputTokens} + ${u.output}`,
              cacheReadTokens: sql`${sessions.cacheReadTokens} + ${u.cacheRead}`,
              cacheWriteTokens: sql`${sessions.cacheWriteTokens} + ${u.cacheWrite}`,
              costMicros: sql`(select coalesce(sum(${tasks.costMicros}), 0) from ${tasks} where ${tasks.sessionId} = ${sessionId})`,
              unpriced: sql`exists (select 1 from ${tasks} where ${tasks.sessionId} = ${sessionId} and ${tasks.costMicros} is null and ${tasks.inputTokens} + ${tasks.outputTokens} + ${tasks.cacheReadTokens} + ${tasks.cacheWriteTokens} > 0)`,
              ...(m.contextTokens !== undefined ? { contextTokens: m.contextTokens } : {}),
              updatedAt: now,
            })
            .where(and(eq(sessions.id, sessionId), guard)),
        );
      }
    } else if (kind === "state") {
      const st = parsed.data as z.infer<typeof SessionEvents.state>;
      stmts.push(
        ctx.db
          .update(sessions)
          .set({ data: patchJson(sessions.data, st), updatedAt: now })
          .where(and(eq(sessions.id, sessionId), guard)),
      );
    } else if (kind === "permission") {
      const req = { ...(parsed.data as z.infer<typeof SessionEvents.permission>), taskId, requestedAt: now };
      asked.push(req);
      stmts.push(
        ctx.db
          .update(sessions)
          .set({
            status: "awaiting_permission",
            data: patchJson(sessions.data, { pending: { [req.requestId]: req }, nowDoing: `waiting: ${req.summary}` }),
            updatedAt: now,
          })
          .where(and(eq(sessions.id, sessionId), eq(sessions.activeTaskId, taskId), guard)),
      );
    } else if (kind === "permission_resolved") {
      const { requestId } = parsed.data as z.infer<typeof SessionEvents.permission_resolved>;
      stmts.push(
        ctx.db
          .update(sessions)
          .set({ data: patchJson(sessions.data, { pending: { [requestId]: null } }), updatedAt: now })
          .where(and(eq(sessions.id, sessionId), guard)),
        resumeIfNothingPending(ctx, sessionId),
      );
    } else if (kind === "runtime_session") {
      const { runtimeSessionId, totals } = parsed.data as z.infer<typeof SessionEvents.runtime_session>;
      stmts.push(
        ctx.db
          .update(sessions)
          .set({ data: patchJson(sessions.data, { runtimeSessionId, runtimeTotals: totals ?? null }), updatedAt: now })
          .where(and(eq(sessions.id, sessionId), guard)),
      );
    } else if (kind === "spawn") {
      spawns.push(parsed.data as z.infer<typeof SessionEvents.spawn>);
    }
  }
  stmts.push(
    ctx.db
      .update(sessions)
      .set({ messageCount: lastSeq(sessionId) })
      .where(eq(sessions.id, sessionId)),
  );
  return {
    stmts,
    async publish(results) {
      for (const i of inserted) {
        const [row] = results[i] as (typeof messages.$inferSelect)[];
        if (row) await publishMessage(ctx, session.boardId, row);
      }
      const task = await ctx.db.query.tasks.findFirst({ where: eq(tasks.id, taskId) });
      if (task && inserted.length) await publishTask(ctx, task);
      await publishSession(ctx, sessionId);
      for (const req of asked) await notifyPermission(ctx, session, req);
      for (const s of spawns) await spawnFromAgent(ctx, session, taskId, s);
    },
  };
}

/** Every request answered: the task is running again. */
export const resumeIfNothingPending = (ctx: Ctx, sessionId: string) =>
  ctx.db
    .update(sessions)
    .set({ status: "running" })
    .where(
      and(
        eq(sessions.id, sessionId),
        eq(sessions.status, "awaiting_permission"),
        sql`coalesce(json_extract(${sessions.data}, '$.pending'), '{}') = '{}'`,
      ),
    );

/** The agent asked for a child: it runs in the same worktree, on the same model, with the same mode. */
async function spawnFromAgent(
  ctx: Ctx,
  parent: SessionRow,
  taskId: string,
  s: z.infer<typeof SessionEvents.spawn>,
): Promise<void> {
  const exists_ = await ctx.db.query.sessions.findFirst({ where: eq(sessions.id, s.sessionId), columns: { id: true } });
  if (exists_) return;
  const task = await ctx.db.query.tasks.findFirst({ where: eq(tasks.id, taskId) });
  await createChild(ctx, parent, {
    id: s.sessionId,
    prompt: s.prompt,
    title: s.title,
    authorId: task?.authorId ?? null,
    authorName: `agent of "${parent.title || parent.id.slice(0, 8)}"`,
  });
}

// ---- the runner's read of a task ----

/**
 * The answers given to this task's requests so far. Decisions travel over the link; a runner
 * whose link was down when one was sent asks here once it is back, so no answer is lost.
 */
export async function taskDecisions(ctx: Ctx, jobId: string, leaseToken: string): Promise<TaskDecisions> {
  const job = await heldSessionJob(ctx, jobId, leaseToken);
  const session = await ctx.db.query.sessions.findFirst({ where: eq(sessions.id, payloadOf(job).sessionId) });
  return { decisions: (session?.data as SessionData | undefined)?.decisions ?? {} };
}

async function heldSessionJob(ctx: Ctx, jobId: string, leaseToken: string): Promise<JobRow> {
  const job = await ctx.db.query.jobs.findFirst({
    where: and(
      eq(jobs.id, jobId),
      eq(jobs.runnerId, actingRunnerId(ctx)),
      eq(jobs.leaseToken, leaseToken),
      inArray(jobs.status, ["claimed", "running"]),
    ),
  });
  if (job?.type !== "session.task") throw notFound("Job");
  return job;
}

/**
 * The claim named the work; this is the rest: config, prompt, history, where the worktree is, and
 * the session's own MCP token for Trellis's `/mcp` at `mcpUrl` (a new one on every read: only its
 * hash is kept, and reading again means the runner lost the one before), and the prompter's own
 * key and environment variables: the only way a stored secret ever leaves the edge, to the runner
 * that holds this task's lease.
 */
export async function taskContext(ctx: Ctx, jobId: string, leaseToken: string, mcpUrl: string): Promise<TaskContext> {
  const job = await heldSessionJob(ctx, jobId, leaseToken);
  const { sessionId, taskId, worktreeId } = payloadOf(job);
  const [session, task, wt, raw, runner] = await Promise.all([
    loadSession(ctx, sessionId),
    ctx.db.query.tasks.findFirst({ where: eq(tasks.id, taskId) }),
    ctx.db.query.worktrees.findFirst({ where: eq(worktrees.id, worktreeId) }),
    ctx.db.query.sessions.findFirst({ where: eq(sessions.id, sessionId), columns: { data: true } }),
    ctx.db.query.runners.findFirst({ where: eq(runners.id, job.runnerId) }),
  ]);
  if (!session || !task || !wt) throw notFound("Session");
  const sd = raw?.data as SessionData | undefined;
  const path = (wt.data as { path?: string }).path;
  if (!path) throw badRequest("This worktree has no folder on the runner yet.", "worktree_not_ready");
  const history = await messagesAfter(ctx, sessionId, 0, 100_000);
  const prompter = task.authorId
    ? await ctx.db.query.users.findFirst({ where: eq(users.id, task.authorId), columns: { name: true } })
    : null;
  // Claude Code on a machine signed in to Claude uses that sign-in: no one's key is opened.
  const machineLogin = usesMachineLogin((runner?.data as Partial<RunnerInfo> | undefined)?.runtimes, session.runtime);
  // A prompt with no person behind it (a child's answer to its parent) runs on the session creator's keys.
  const [secrets, mcp, attached] = await Promise.all([
    releaseTaskSecrets(ctx, task.authorId ?? session.createdBy, session, machineLogin),
    mintSessionToken(ctx.db, session),
    // Only here, for the runner holding the lease, are the servers' secrets unsealed.
    serversForTask(ctx, session.boardId, session.mcpServerIds, job.runnerId, runner),
  ]);
  let row = task;
  if ((task.data as TaskData).keySource !== secrets.keySource) {
    const [updated] = await ctx.db
      .update(tasks)
      .set({ data: patchJson(tasks.data, { keySource: secrets.keySource }) })
      .where(eq(tasks.id, taskId))
      .returning();
    if (updated) {
      row = updated;
      await publishTask(ctx, updated);
    }
  }
  return {
    session,
    task: toTask(row),
    history: history.map(toMessage),
    worktreePath: path,
    prompterName: prompter?.name ?? (task.data as TaskData).authorName ?? null,
    mcp: { url: mcpUrl, token: mcp.token, expiresAt: mcp.expiresAt },
    secrets,
    mcpServers: attached.servers,
    mcpRefused: attached.refused,
    runtimeSessionId: sd?.runtimeSessionId ?? null,
    runtimeTotals: sd?.runtimeTotals ?? null,
    // Once the fork has a session of its own, that is resumed instead.
    runtimeFork: sd?.runtimeSessionId ? null : (sd?.runtimeFork ?? null),
  };
}

/** Used by people (spawnSession) and agents (a `spawn` event): the same child either way. */
export async function createChild(
  ctx: Ctx,
  parent: SessionRow,
  c: { id: string; prompt: string; title?: string; authorId: string | null; authorName: string | null },
): Promise<Session> {
  const pd = parent.data as SessionData;
  const data: SessionData = {
    permissionMode: pd.permissionMode ?? "ask",
    runtime: pd.runtime ?? "builtin",
    baseUrl: pd.baseUrl ?? null,
    origin: "spawn",
    mcpServerIds: pd.mcpServerIds ?? [],
    allowedHosts: pd.allowedHosts ?? [],
  };
  await ctx.db.batch([
    ctx.db.insert(sessions).values({
      id: c.id,
      boardId: parent.boardId,
      worktreeId: parent.worktreeId,
      parentId: parent.id,
      provider: parent.provider,
      model: parent.model,
      title: c.title ?? c.prompt.slice(0, 60),
      data: data as Record<string, unknown>,
      createdBy: c.authorId ?? parent.createdBy,
    }),
    ctx.db.insert(tasks).values(taskValues(parent.boardId, c.id, c)),
  ]);
  await publishSession(ctx, c.id, "created");
  await dispatchNext(ctx, c.id);
  return (await loadSession(ctx, c.id))!;
}
