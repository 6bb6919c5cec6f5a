/**
 * For the sessions store's unit tests in Node: rows, stream frames, and the session routes' REST
 * answers from in-memory rows, plugged into the board's fake (`FakeBoardApi.more`) so the store
 * makes the very calls it makes in the browser. Not imported by the board itself.
 */
import type { Message, PermissionRequest, Session, Task } from "../../../protocol/index.ts";
import { ZERO_USAGE } from "../../../protocol/index.ts";
import { BOARD_ID, FakeBoardApi, ME } from "../board/testkit.ts";
import type { StreamPiece } from "./transcript.ts";

export const sessionRow = (id: string, over: Partial<Session> = {}): Session => ({
  id,
  boardId: BOARD_ID,
  worktreeId: "w1",
  parentId: null,
  origin: null,
  forkedFromMessageId: null,
  zoneId: null,
  provider: "anthropic",
  model: "claude-sonnet-4-5",
  baseUrl: null,
  permissionMode: "ask",
  runtime: "builtin",
  status: "idle",
  title: `Session ${id}`,
  nowDoing: null,
  usage: ZERO_USAGE,
  costMicros: 0,
  unpriced: false,
  contextTokens: 0,
  todos: [],
  pending: [],
  allowedTools: [],
  allowedBy: {},
  mcpServerIds: [],
  allowedHosts: [],
  queued: 0,
  messageCount: 0,
  lastError: null,
  createdBy: ME,
  createdAt: 1,
  updatedAt: 1,
  endedAt: null,
  ...over,
});

export const taskRow = (id: string, sessionId: string, over: Partial<Task> = {}): Task => ({
  id,
  boardId: BOARD_ID,
  sessionId,
  prompt: `prompt ${id}`,
  status: "queued",
  authorId: ME,
  authorName: "Me",
  fromSessionId: null,
  usage: ZERO_USAGE,
  costMicros: 0,
  error: null,
  jobId: null,
  stoppedBy: null,
  keySource: null,
  createdAt: 1,
  startedAt: null,
  endedAt: null,
  ...over,
});

/** Message `seq` of a session, with an id that sorts by seq. */
export const messageRow = (sessionId: string, seq: number, over: Partial<Message> = {}): Message => ({
  id: `${sessionId}.m${String(seq).padStart(4, "0")}`,
  sessionId,
  seq,
  role: seq % 2 ? "user" : "assistant",
  content: [{ type: "text", text: `message ${seq}` }],
  taskId: null,
  authorId: null,
  authorName: null,
  fromSessionId: null,
  usage: null,
  model: null,
  createdAt: seq,
  ...over,
});

export const permissionRow = (requestId: string, over: Partial<PermissionRequest> = {}): PermissionRequest => ({
  requestId,
  taskId: "t1",
  callId: `call-${requestId}`,
  tool: "shell",
  summary: "run `npm test`",
  command: "npm test",
  requestedAt: 1,
  ...over,
});

export const piece = (
  sessionId: string,
  messageId: string,
  seq: number,
  delta: string,
  over: Partial<StreamPiece> = {},
): StreamPiece => ({ sessionId, messageId, seq, part: "text", delta, ...over });

/** The session routes, over in-memory sessions, tasks and messages. */
export class FakeSessionsApi {
  sessions: Session[] = [];
  tasks: Task[] = [];
  messages: Message[] = [];
  readonly board = new FakeBoardApi();
  readonly client = this.board.client;

  constructor() {
    this.board.more = ({ method, url, path }) => {
      const parts = path.split("/").filter(Boolean);
      if (parts[0] !== "sessions") return undefined;
      const [, sessionId, sub] = parts;
      if (method === "GET" && !sessionId) {
        const limit = Number(url.searchParams.get("limit") ?? 500);
        const cursor = url.searchParams.get("cursor");
        const sorted = [...this.sessions].sort((a, b) => (a.id < b.id ? -1 : 1));
        const rest = cursor ? sorted.filter((s) => s.id > cursor) : sorted;
        const items = rest.slice(0, limit);
        return { status: 200, body: { items, nextCursor: rest.length > limit ? items.at(-1)!.id : null } };
      }
      const session = this.sessions.find((s) => s.id === sessionId);
      if (!session) return { status: 404, body: { error: { code: "not_found", message: "Session not found." } } };
      if (method === "GET" && !sub) {
        return { status: 200, body: { session, tasks: this.tasks.filter((t) => t.sessionId === sessionId) } };
      }
      if (method === "GET" && sub === "messages") {
        const after = Number(url.searchParams.get("after") ?? 0);
        const limit = Number(url.searchParams.get("limit") ?? 500);
        const rest = this.messages
          .filter((m) => m.sessionId === sessionId && m.seq > after)
          .sort((a, b) => a.seq - b.seq);
        const items = rest.slice(0, limit);
        return { status: 200, body: { items, nextAfter: rest.length > limit ? items.at(-1)!.seq : null } };
      }
      return undefined;
    };
  }

  /** `count` messages for a session, seq 1…count. */
  fill(sessionId: string, count: number): Message[] {
    const rows = Array.from({ length: count }, (_, i) => messageRow(sessionId, i + 1));
    this.messages.push(...rows);
    return rows;
  }
}
