import type {
  CreateSessionBody,
  Decision,
  ForkBody,
  PermissionMode,
  Runtime,
  Session,
  Task,
} from "../../../protocol/index.ts";
import { type ApiClient, ApiError, expectOk, unwrap } from "../lib/http.ts";
import type { BoardSessions } from "./store.ts";

/**
 * What a member can do to sessions, over the API. Each write applies the edge's answer at once
 * (the room's event, which follows, changes nothing more) and throws the edge's error for the
 * form or button that asked, which shows its message as is.
 */
export class SessionActions {
  constructor(
    private readonly api: ApiClient,
    private readonly boardId: string,
    private readonly store: BoardSessions,
  ) {}

  private sessions() {
    return this.api.api.boards[":boardId"].sessions;
  }

  private one(sessionId: string) {
    return { param: { boardId: this.boardId, sessionId } };
  }

  /** The runtime is always named: a form that offers none says which it means. */
  async create(body: CreateSessionBody & { permissionMode: PermissionMode; runtime: Runtime }): Promise<Session> {
    const s = await unwrap(this.sessions().$post({ param: { boardId: this.boardId }, json: body }));
    this.store.upsert(s);
    return s;
  }

  async rename(sessionId: string, title: string): Promise<void> {
    this.store.upsert(await unwrap(this.sessions()[":sessionId"].$patch({ ...this.one(sessionId), json: { title } })));
  }

  /** Applies on a running session from its next tool call on. */
  async setMode(sessionId: string, permissionMode: PermissionMode): Promise<void> {
    this.store.upsert(
      await unwrap(this.sessions()[":sessionId"].$patch({ ...this.one(sessionId), json: { permissionMode } })),
    );
  }

  /** Which of the board's MCP servers the agent gets, from the session's next prompt on. */
  async setMcpServers(sessionId: string, mcpServerIds: string[]): Promise<void> {
    this.store.upsert(
      await unwrap(this.sessions()[":sessionId"].$patch({ ...this.one(sessionId), json: { mcpServerIds } })),
    );
  }

  /** Hosts the session's shell commands may reach through the runner's sandbox, from their next task (prompt) on. */
  async setAllowedHosts(sessionId: string, allowedHosts: string[]): Promise<void> {
    this.store.upsert(
      await unwrap(this.sessions()[":sessionId"].$patch({ ...this.one(sessionId), json: { allowedHosts } })),
    );
  }

  async remove(sessionId: string): Promise<void> {
    await expectOk(this.sessions()[":sessionId"].$delete(this.one(sessionId)));
    this.store.remove(sessionId);
  }

  /** Runs now if the session is free, else waits in its queue. */
  async prompt(sessionId: string, text: string): Promise<Task> {
    const t = await unwrap(this.sessions()[":sessionId"].prompts.$post({ ...this.one(sessionId), json: { text } }));
    this.store.takeTask(t);
    return t;
  }

  async editQueued(sessionId: string, taskId: string, prompt: string): Promise<void> {
    const t = await unwrap(
      this.sessions()[":sessionId"].tasks[":taskId"].$patch({
        param: { boardId: this.boardId, sessionId, taskId },
        json: { prompt },
      }),
    );
    this.store.takeTask(t);
  }

  async removeQueued(sessionId: string, taskId: string): Promise<void> {
    try {
      await expectOk(
        this.sessions()[":sessionId"].tasks[":taskId"].$delete({ param: { boardId: this.boardId, sessionId, taskId } }),
      );
    } catch (err) {
      // Already gone: the goal is met.
      if (!(err instanceof ApiError && err.status === 404)) throw err;
    }
    this.store.dropTask(sessionId, taskId);
  }

  async stop(sessionId: string): Promise<void> {
    this.store.upsert(await unwrap(this.sessions()[":sessionId"].stop.$post(this.one(sessionId))));
  }

  /**
   * Answer a permission request. Answered already by someone else (409 `request_answered`, or
   * 404 once it left the session): the request is settled either way, so that is no error here.
   * Returns whether this answer was the one that counted.
   */
  async decide(sessionId: string, requestId: string, decision: Decision, reason?: string): Promise<boolean> {
    try {
      const s = await unwrap(
        this.sessions()[":sessionId"].permissions[":requestId"].$post({
          param: { boardId: this.boardId, sessionId, requestId },
          json: reason ? { decision, reason } : { decision },
        }),
      );
      this.store.upsert(s);
      return true;
    } catch (err) {
      if (err instanceof ApiError && (err.code === "request_answered" || err.status === 404)) return false;
      throw err;
    }
  }

  async fork(sessionId: string, body: ForkBody): Promise<Session> {
    const s = await unwrap(this.sessions()[":sessionId"].fork.$post({ ...this.one(sessionId), json: body }));
    this.store.upsert(s);
    return s;
  }

  async spawn(sessionId: string, body: { prompt: string; title?: string }): Promise<Session> {
    const s = await unwrap(this.sessions()[":sessionId"].spawn.$post({ ...this.one(sessionId), json: body }));
    this.store.upsert(s);
    return s;
  }
}
