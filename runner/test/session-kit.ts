/**
 * Agent sessions end to end: a real Worker (`wrangler dev`), a real runner process whose
 * providers point at the scripted model server (test/model-server.ts), a real git worktree, and
 * board-room sockets opened the way the CLI opens them (bearer token on the upgrade).
 */
import { join } from "node:path";
import WebSocket from "ws";
import type { z } from "zod";
import type {
  CreateSessionBody,
  ForkBody,
  Message,
  MessagePage,
  PermissionMode,
  Repo,
  ServerMessage,
  Session,
  SessionDetail,
  Task,
  Worktree,
} from "../../protocol/index.ts";
import { type ModelServer, startModelServer } from "../../test/model-server.ts";
import { api, registerUser, startTrellis, type Trellis } from "../../test/server.ts";
import { makeRepo } from "./git-fixtures.ts";
import { cardOf, type RunnerProcess, type Setup, setup, until } from "./harness.ts";

export { until };

/** What the runner needs in its environment to serve both providers from the model server. */
export const providerEnv = (server: ModelServer): NodeJS.ProcessEnv => ({
  ANTHROPIC_BASE_URL: server.anthropicUrl,
  ANTHROPIC_API_KEY: "sk-ant-test",
  OPENAI_BASE_URL: server.openaiUrl,
  OPENAI_API_KEY: "sk-openai-test",
});

export interface World {
  edge: Trellis;
  server: ModelServer;
  s: Setup;
  runner: RunnerProcess;
  repo: Repo;
  /** The repo's work tree on disk (the runner adds worktrees of it). */
  repoPath: string;
  stop(): Promise<void>;
}

/** An edge, a model server, a user with a board, a repo, and a connected runner serving both providers. */
export async function world(
  name: string,
  files: Record<string, string> = { "README.md": "hello\n" },
  env: NodeJS.ProcessEnv = {},
): Promise<World> {
  const [edge, server] = await Promise.all([startTrellis(), startModelServer()]);
  const s = await setup(edge.url, name);
  const runner = s.start([], { ...providerEnv(server), ...env });
  await runner.waitFor(/connected to /);
  const repoPath = makeRepo(join(s.dir, "project"), files);
  const repo = await s.api<Repo>(`/api/runners/${s.runnerId}/repos`, {
    json: { name: "project", source: { kind: "path", path: repoPath } },
  });
  await until("repo ready", async () => {
    const r = (await s.api<{ items: Repo[] }>(`/api/runners/${s.runnerId}/repos`)).items.find((x) => x.id === repo.id);
    if (r?.status === "error") throw new Error(`repo failed: ${r.error}`);
    return r?.status === "ready";
  });
  // The runner reported its providers on connect; sessions check them.
  await until("runner reports providers", async () => {
    const list = await s.api<{ items: { id: string; info: { agents?: { ready: boolean }[] } }[] }>("/api/runners");
    const r = list.items.find((x) => x.id === s.runnerId);
    return r?.info.agents?.length && r.info.agents.every((a) => a.ready);
  });
  return {
    edge,
    server,
    s,
    runner,
    repo,
    repoPath,
    async stop() {
      s.cleanup();
      await Promise.allSettled([server.close(), edge.stop()]);
    },
  };
}

/** A new worktree card of the world's repo, once the runner has made it. */
export async function readyWorktree(w: World, name: string): Promise<Worktree> {
  const wt = await w.s.api<Worktree>(`/api/boards/${w.s.boardId}/worktrees`, {
    json: { repoId: w.repo.id, name, branch: name },
  });
  return until(`worktree ${name} ready`, async () => {
    const c = await cardOf(w.s, wt.id);
    if (c?.status === "error") throw new Error(`worktree failed: ${JSON.stringify(c)}`);
    return c?.status === "ready" && c.path ? c : undefined;
  });
}

/** Any user's REST calls on the world's board, with status codes for the refusals. */
export function as(w: World, token: string) {
  const b = `/api/boards/${w.s.boardId}/sessions`;
  const call = <T>(path: string, init: { method?: string; json?: unknown } = {}) =>
    api<T>(w.edge.url, path, { ...init, token });
  return {
    token,
    start: (body: CreateSessionBody) => call<Session>(b, { json: body }),
    detail: (id: string) => call<SessionDetail>(`${b}/${id}`),
    messages: async (id: string): Promise<Message[]> => (await call<MessagePage>(`${b}/${id}/messages`)).items,
    prompt: (id: string, text: string) => call<Task>(`${b}/${id}/prompts`, { json: { text } }),
    stop: (id: string) => call<Session>(`${b}/${id}/stop`, { method: "POST" }),
    mode: (id: string, permissionMode: PermissionMode) =>
      call<Session>(`${b}/${id}`, { method: "PATCH", json: { permissionMode } }),
    decide: (id: string, requestId: string, decision: string, reason?: string) =>
      call<Session>(`${b}/${id}/permissions/${requestId}`, { json: { decision, ...(reason ? { reason } : {}) } }),
    fork: (id: string, messageId: string, more: Omit<z.input<typeof ForkBody>, "messageId"> = {}) =>
      call<Session>(`${b}/${id}/fork`, { json: { messageId, ...more } }),
    spawn: (id: string, prompt: string, title?: string) =>
      call<Session>(`${b}/${id}/spawn`, { json: { prompt, ...(title ? { title } : {}) } }),
    editTask: (id: string, taskId: string, prompt: string) =>
      call<Task>(`${b}/${id}/tasks/${taskId}`, { method: "PATCH", json: { prompt } }),
    removeTask: (id: string, taskId: string) => call<void>(`${b}/${id}/tasks/${taskId}`, { method: "DELETE" }),
    list: async () => (await call<{ items: Session[] }>(b)).items,
    /** The status code (and body) of a call, for refusals. */
    async status(path: string, init: { method?: string; json?: unknown } = {}) {
      const res = await fetch(`${w.edge.url}${b}${path}`, {
        method: init.method ?? (init.json === undefined ? "GET" : "POST"),
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: init.json === undefined ? undefined : JSON.stringify(init.json),
      });
      return { status: res.status, body: await res.text() };
    },
  };
}
export type Client = ReturnType<typeof as>;

/** A second person on the board with a role. */
export async function person(w: World, name: string, role: "member" | "viewer" | null): Promise<Client> {
  const u = await registerUser(w.edge.url, name);
  if (role) {
    await api(w.edge.url, `/api/boards/${w.s.boardId}/members`, {
      token: w.s.user.token,
      json: { email: u.email, role },
    });
  }
  return as(w, u.token);
}

const ENDED = new Set(["completed", "failed", "stopped"]);

/** Wait for a task to end; returns it with its session's detail. */
export async function taskEnded(c: Client, sessionId: string, taskId: string, timeoutMs = 20_000) {
  return until(
    `task ${taskId} ended`,
    async () => {
      const d = await c.detail(sessionId);
      const t = d.tasks.find((x) => x.id === taskId);
      return t && ENDED.has(t.status) ? { task: t, detail: d } : undefined;
    },
    timeoutMs,
  );
}

/** The session's one task, or its newest. */
export const lastTask = (d: SessionDetail): Task => d.tasks.at(-1)!;

export async function sessionIs(
  c: Client,
  id: string,
  pred: (s: Session) => boolean,
  what: string,
  timeoutMs = 20_000,
) {
  return until(
    what,
    async () => {
      const d = await c.detail(id);
      return pred(d.session) ? d : undefined;
    },
    timeoutMs,
  );
}

/** Plain text of a message's text blocks. */
export const textOf = (m: Message) =>
  m.content
    .filter((b) => b.type === "text")
    .map((b) => (b as { text: string }).text)
    .join("");
export const noticesOf = (ms: Message[]) =>
  ms.flatMap((m) => m.content.flatMap((b) => (b.type === "notice" ? [`${b.kind}: ${b.text}`] : [])));

type Msg<K extends ServerMessage["type"]> = Extract<ServerMessage, { type: K }>;

/** A board-room socket as the CLI opens one: bearer token on the upgrade. Every frame is kept, with when it came. */
export class Room {
  readonly messages: { msg: ServerMessage; at: number }[] = [];
  /** Each `streams` frame that came, as the session of each of its pieces. */
  readonly batches: string[][] = [];
  private waiters: { pred: (m: ServerMessage) => boolean; resolve: (m: ServerMessage) => void }[] = [];
  readonly ws: WebSocket;
  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on("message", (data: Buffer) => {
      const at = performance.timeOrigin + performance.now();
      let msg: ServerMessage;
      try {
        msg = JSON.parse(data.toString()) as ServerMessage;
      } catch {
        return;
      }
      // A batch is kept as the pieces it carries, each as the `stream` frame it stands for.
      const each: ServerMessage[] =
        msg.type === "streams" ? msg.pieces.map((p) => ({ type: "stream", v: msg.v, ...p })) : [msg];
      if (msg.type === "streams") this.batches.push(msg.pieces.map((p) => p.sessionId));
      for (const m of each) {
        this.messages.push({ msg: m, at });
        for (const w of [...this.waiters]) {
          if (w.pred(m)) {
            this.waiters.splice(this.waiters.indexOf(w), 1);
            w.resolve(m);
          }
        }
      }
    });
  }

  static open(base: string, boardId: string, token: string): Promise<Room> {
    const ws = new WebSocket(`${base.replace(/^http/, "ws")}/parties/board-room/${boardId}?v=1`, {
      headers: { authorization: `Bearer ${token}` },
      perMessageDeflate: false,
    });
    const room = new Room(ws);
    return new Promise((resolve, reject) => {
      ws.once("unexpected-response", (_req, res) => reject(new Error(`room upgrade refused: ${res.statusCode}`)));
      ws.once("error", reject);
      room.next("welcome", () => true, 10_000).then(() => resolve(room), reject);
    });
  }

  watch(sessionIds: string[]): void {
    this.ws.send(JSON.stringify({ type: "watch", sessionIds }));
  }

  all<K extends ServerMessage["type"]>(type: K): Msg<K>[] {
    return this.messages.map((m) => m.msg).filter((m): m is Msg<K> => m.type === type);
  }

  /** Stream frames for one session, in arrival order. */
  streams(sessionId: string) {
    return this.all("stream").filter((f) => f.sessionId === sessionId);
  }

  /** Entity events of one type. */
  entities(entity: string) {
    return this.all("entity").filter((e) => e.entity === entity);
  }

  next<K extends ServerMessage["type"]>(type: K, pred: (m: Msg<K>) => boolean = () => true, timeoutMs = 10_000) {
    const match = (m: ServerMessage): m is Msg<K> => m.type === type && pred(m as Msg<K>);
    const found = this.messages.find((m) => match(m.msg));
    if (found) return Promise.resolve(found.msg as Msg<K>);
    return new Promise<Msg<K>>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out waiting for a "${type}" room message`)), timeoutMs);
      this.waiters.push({
        pred: match,
        resolve: (m) => {
          clearTimeout(t);
          resolve(m as Msg<K>);
        },
      });
    });
  }

  close(): void {
    this.ws.terminate();
  }
}
