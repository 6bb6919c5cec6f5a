import { z } from "zod";
import {
  CreateSessionBody,
  ForkBody,
  Id,
  Message,
  PromptBody,
  Provider,
  Session,
  SessionDetail,
  SessionStatus,
  SpawnBody,
  Task,
  TaskStatus,
} from "../../../protocol/index.ts";
import { badRequest } from "../../lib/errors.ts";
import {
  createSession,
  forkSession,
  getSession,
  getTask,
  listMessages,
  listSessions,
  listTasks,
  promptSession,
  spawnSession,
  stopSession,
} from "../../services/sessions.ts";
import { boardId, cursor, documented, limit, pageOf, READ, sessionId, tool, WRITE, worktreeId } from "./define.ts";

const TITLE = "A short title for the board's card (at most 200 characters).";

export const sessionTools = [
  tool({
    name: "trellis_sessions_list",
    title: "List sessions",
    description:
      "List the agent sessions on a board, oldest first, one page at a time. Filter by worktreeId, status (idle, queued, running, awaiting_permission, completed, failed, stopped) or provider. Each session has its status, model, what it is doing now, token usage and cost.",
    input: z.object({
      boardId,
      worktreeId: worktreeId.optional().describe("Only sessions in this worktree."),
      status: SessionStatus.optional().describe("Only sessions in this status."),
      provider: Provider.optional().describe("Only sessions of this provider."),
      cursor,
      limit: limit(200, 50),
    }),
    output: pageOf(Session),
    annotations: READ,
    run: (ctx, { boardId, ...q }) => listSessions(ctx, boardId, q),
  }),
  tool({
    name: "trellis_sessions_get",
    title: "Get a session",
    description:
      "One session with all its tasks (its prompts, with status, usage and errors). Use trellis_messages_list for the conversation itself.",
    input: z.object({ boardId, sessionId }),
    output: SessionDetail,
    annotations: READ,
    run: (ctx, a) => getSession(ctx, a.boardId, a.sessionId),
  }),
  tool({
    name: "trellis_sessions_get_current",
    title: "Get my own session",
    description:
      "For an agent running in Trellis: your own session (its board, worktree, parent and tasks). Works only with the session token Trellis gives its agents; other callers use trellis_sessions_get.",
    input: z.object({}),
    output: SessionDetail,
    annotations: READ,
    run: (ctx) => {
      const a = ctx.actor;
      if (a.kind !== "user" || a.via !== "session" || !a.sessionId || !a.boardId) {
        throw badRequest(
          "This tool answers for the calling agent's own session, and this credential is not a session's. Use trellis_sessions_get with a boardId and sessionId.",
          "wrong_credential",
        );
      }
      return getSession(ctx, a.boardId, a.sessionId);
    },
  }),
  tool({
    name: "trellis_sessions_create",
    title: "Start a session",
    description:
      "Start an agent session in a ready worktree on the worktree's runner, optionally with a first prompt (it starts running at once). Appears on every open board. Needs member access to the board.",
    input: documented(CreateSessionBody, {
      worktreeId: "The worktree (status ready) the agent works in (from trellis_worktrees_list).",
      provider: "Which agent provider runs it: anthropic, or openai (also any OpenAI-compatible server).",
      model: "The model name, e.g. claude-sonnet-4-5 or gpt-5.",
      baseUrl: "openai only: an OpenAI-compatible server's base URL, including /v1.",
      permissionMode:
        "ask (default): writes and shell commands wait for a person; auto-edit: edits allowed, shell asks; full: no asking; read-only.",
      title: TITLE,
      prompt: "The first prompt; without one the session waits for trellis_sessions_prompt.",
      runtime:
        "What runs the agent: builtin (default, Trellis's own tool loop), claude-code (provider anthropic) or codex (provider openai); the runner must have that runtime (trellis_runners_list shows info.runtimes).",
      zoneId: "The zone this session is started for (shown on its card), from trellis_zones_list; usually left out.",
      mcpServerIds: "Ids of the board's MCP servers whose tools the agent gets (from trellis_mcp_servers_list).",
      allowedHosts:
        'Hosts the agent\'s shell commands may reach, like "registry.npmjs.org" or "*.github.com" (optional :port); without them its sandbox has no network.',
    }).extend({ boardId }),
    output: Session,
    annotations: WRITE,
    run: (ctx, { boardId, ...body }) => createSession(ctx, boardId, body),
  }),
  tool({
    name: "trellis_sessions_prompt",
    title: "Prompt a session",
    description:
      "Send a prompt to a session. It runs now if the session is free, else it waits in the session's queue behind the running task. Returns the new task.",
    input: documented(PromptBody, { text: "What to ask the agent." }).extend({ boardId, sessionId }),
    output: Task,
    annotations: WRITE,
    run: (ctx, a) => promptSession(ctx, a.boardId, a.sessionId, { text: a.text }),
  }),
  tool({
    name: "trellis_sessions_spawn",
    title: "Spawn a child session",
    description:
      "Start a child session in the same worktree as sessionId (its parent), with a prompt. The child runs on its own; when it finishes, its answer comes back to the parent as a prompt. An agent passes its own session as sessionId.",
    input: documented(SpawnBody, { prompt: "What the child should do.", title: TITLE }).extend({
      boardId,
      sessionId: sessionId.describe("The parent session (an agent passes its own)."),
    }),
    output: Session,
    annotations: WRITE,
    run: (ctx, a) => spawnSession(ctx, a.boardId, a.sessionId, { prompt: a.prompt, title: a.title }),
  }),
  tool({
    name: "trellis_sessions_fork",
    title: "Fork a session",
    description:
      "Copy a session's conversation up to and including one message into a new session (same provider and model), in the same worktree, another one on the board, or a new one made for it.",
    input: documented(ForkBody, {
      messageId: "The last message the fork keeps (from trellis_messages_list).",
      worktreeId: "Another worktree on the board to fork into (default: the same one).",
      newWorktree:
        "Or a new worktree made for the fork, on the same runner and repo (not with worktreeId): its name, and by default a new branch of that name from the session's worktree's branch. A prompt sent before the runner has made it waits for it.",
      title: TITLE,
    }).extend({ boardId, sessionId }),
    output: Session,
    annotations: WRITE,
    run: (ctx, { boardId, sessionId, ...body }) => forkSession(ctx, boardId, sessionId, body),
  }),
  tool({
    name: "trellis_sessions_stop",
    title: "Stop a session",
    description:
      "Abort the session's running task (the model call and any running tool stop within 2 s). Queued prompts stay queued. Does nothing to a session that is not running.",
    input: z.object({ boardId, sessionId }),
    output: Session,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    run: (ctx, a) => stopSession(ctx, a.boardId, a.sessionId),
  }),
];

export const taskTools = [
  tool({
    name: "trellis_tasks_list",
    title: "List a session's tasks",
    description:
      "A session's tasks, oldest first: one per prompt, with its status (queued, running, completed, failed, stopped), author, usage, cost and error.",
    input: z.object({
      boardId,
      sessionId,
      status: TaskStatus.optional().describe("Only tasks in this status."),
      cursor,
      limit: limit(200, 50),
    }),
    output: pageOf(Task),
    annotations: READ,
    run: (ctx, { boardId, sessionId, ...q }) => listTasks(ctx, boardId, sessionId, q),
  }),
  tool({
    name: "trellis_tasks_get",
    title: "Get a task",
    description: "One task (one prompt of a session): its prompt, status, who sent it, usage, cost and error.",
    input: z.object({ boardId, taskId: Id.describe("The task's id (from trellis_tasks_list).") }),
    output: Task,
    annotations: READ,
    run: (ctx, a) => getTask(ctx, a.boardId, a.taskId),
  }),
];

export const messageTools = [
  tool({
    name: "trellis_messages_list",
    title: "Read a session's conversation",
    description:
      "A session's messages in order: prompts (user), model turns with text and tool calls (assistant), tool results (tool) and notices (system). Page with cursor.",
    input: z.object({ boardId, sessionId, cursor, limit: limit(500, 100) }),
    output: pageOf(Message),
    annotations: READ,
    run: async (ctx, a) => {
      const after = a.cursor === undefined ? 0 : Number(a.cursor);
      if (!Number.isInteger(after) || after < 0) {
        throw badRequest("cursor: pass the nextCursor of the previous page, or leave it out for the first page.");
      }
      const page = await listMessages(ctx, a.boardId, a.sessionId, { after, limit: a.limit });
      return { items: page.items, nextCursor: page.nextAfter === null ? null : String(page.nextAfter) };
    },
  }),
];
