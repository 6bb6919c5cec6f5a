/**
 * The caller's side of the agent core, for its tests: a sink that records everything the loop
 * reports and answers permission requests as the test says, a temp git repo, and the scripted
 * model server the real SDKs talk to.
 */
import { realpathSync } from "node:fs";
import { join } from "node:path";
import {
  type ContentBlock,
  type Message,
  NewMessage,
  type PermissionMode,
  type Provider,
  SessionEvents,
  type Todo,
  type ToolResultBlock,
} from "../../protocol/index.ts";
import { type ModelServer, startModelServer } from "../../test/model-server.ts";
import type { AgentSink, PermissionAnswer, PermissionAsk, TaskInput } from "../src/agent/index.ts";
import { ShellSandbox } from "../src/agent/sandbox.ts";
import { makeRepo, tempDir } from "./git-fixtures.ts";

export type Answerer = (req: PermissionAsk) => PermissionAnswer | Promise<PermissionAnswer>;

export const allow =
  (name = "Alice"): Answerer =>
  () => ({ decision: "allow", record: { decision: "allow", byUserId: "u-alice", byName: name, at: Date.now() } });
export const allowAlways =
  (name = "Alice"): Answerer =>
  () => ({
    decision: "allow_always",
    record: { decision: "allow_always", byUserId: "u-alice", byName: name, at: Date.now() },
  });
export const deny =
  (reason: string, name = "Alice"): Answerer =>
  () => ({
    decision: "deny",
    reason,
    record: { decision: "deny", byUserId: "u-alice", byName: name, reason, at: Date.now() },
  });
/** Never answers: for stopping while a request waits. */
export const never: Answerer = () => new Promise(() => {});

export class TestSink implements AgentSink {
  deltas: { messageId: string; part: "text" | "thinking" | "tool_input"; text: string; at: number }[] = [];
  ended: string[] = [];
  messages: NewMessage[] = [];
  states: { nowDoing?: string | null; todos?: Todo[] }[] = [];
  asks: PermissionAsk[] = [];
  spawns: { sessionId: string; prompt: string; title?: string }[] = [];
  /** Everything in the order it happened, for ordering checks. */
  log: string[] = [];
  answer: Answerer = allow();

  delta(messageId: string, part: "text" | "thinking" | "tool_input", text: string): void {
    this.deltas.push({ messageId, part, text, at: performance.now() });
  }
  endStream(messageId: string): void {
    this.ended.push(messageId);
    this.log.push(`end ${messageId}`);
  }
  // Each report is checked against the wire contract, as the edge will check it.
  async message(m: NewMessage): Promise<void> {
    NewMessage.parse(m);
    this.messages.push(m);
    this.log.push(`message ${m.role} ${m.id}`);
  }
  async state(s: { nowDoing?: string | null; todos?: Todo[] }): Promise<void> {
    SessionEvents.state.parse(s);
    this.states.push(s);
  }
  askPermission(req: PermissionAsk, signal: AbortSignal): Promise<PermissionAnswer> {
    SessionEvents.permission.parse(req);
    this.asks.push(req);
    this.log.push(`ask ${req.tool}`);
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      if (signal.aborted) return onAbort();
      signal.addEventListener("abort", onAbort, { once: true });
      Promise.resolve(this.answer(req)).then(resolve, reject);
    });
  }
  async spawn(req: { sessionId: string; prompt: string; title?: string }): Promise<void> {
    SessionEvents.spawn.parse(req);
    this.spawns.push(req);
  }

  get toolResults(): ToolResultBlock[] {
    return this.messages.flatMap((m) => m.content.filter((b): b is ToolResultBlock => b.type === "tool_result"));
  }
  notices(kind?: string): string[] {
    return this.messages.flatMap((m) =>
      m.content.flatMap((b) => (b.type === "notice" && (!kind || b.kind === kind) ? [b.text] : [])),
    );
  }
  byRole(role: NewMessage["role"]): NewMessage[] {
    return this.messages.filter((m) => m.role === role);
  }
  textOf(messageId: string, part: "text" | "thinking" | "tool_input" = "text"): string {
    return this.deltas
      .filter((d) => d.messageId === messageId && d.part === part)
      .map((d) => d.text)
      .join("");
  }
  get nowDoing(): (string | null | undefined)[] {
    return this.states.filter((s) => "nowDoing" in s).map((s) => s.nowDoing);
  }
}

let seq = 0;
/** A stored message as D1 would hand it over. */
export function stored(role: Message["role"], content: ContentBlock[], over: Partial<Message> = {}): Message {
  seq++;
  return {
    id: `m${seq}`,
    sessionId: "s1",
    seq,
    role,
    content,
    taskId: "t1",
    authorId: role === "user" ? "u-alice" : null,
    authorName: role === "user" ? "Alice" : null,
    fromSessionId: null,
    usage: null,
    model: null,
    createdAt: Date.now(),
    ...over,
  };
}
export const prompt = (text: string, over: Partial<Message> = {}) => stored("user", [{ type: "text", text }], over);

/** Credentials the runner holds that must never reach a tool's process. */
export const SECRET_ENV = {
  ANTHROPIC_API_KEY: "sk-ant-test-key",
  OPENAI_API_KEY: "sk-openai-test-key",
  TRELLIS_RUNNER_CREDENTIAL: "trl_run_secret",
  GITHUB_TOKEN: "ghp_secret",
  AWS_SECRET_ACCESS_KEY: "aws-secret",
  DB_PASSWORD: "hunter2",
};

export interface AgentFixture {
  server: ModelServer;
  /** The worktree (a real git repo with one commit), as a real path. */
  repo: string;
  /** A folder next to the repo, outside it. */
  outside: string;
  sink: TestSink;
  input(over?: Partial<TaskInput> & { prompt?: string; mode?: PermissionMode }): TaskInput;
  cleanup(): Promise<void>;
}

const OFF = ShellSandbox.off("off in the agent loop's own tests");

export async function agentFixture(
  provider: Provider,
  files: Record<string, string> = { "README.md": "hello\n" },
): Promise<AgentFixture> {
  const tmp = tempDir("trellis-agent-");
  const root = realpathSync(tmp.dir);
  const repo = makeRepo(join(root, "worktree"), files);
  const outside = join(root, "outside");
  const server = await startModelServer();
  const sink = new TestSink();
  const controller = new AbortController();
  return {
    server,
    repo,
    outside,
    sink,
    input(over = {}) {
      const { prompt: text = "Do the thing.", mode = "full", ...rest } = over;
      return {
        sessionId: "s1",
        provider,
        model: provider === "anthropic" ? "claude-sonnet-4-5" : "gpt-5",
        baseUrl: null,
        history: [prompt(text)],
        worktreePath: repo,
        permissionMode: () => mode,
        allowedTools: new Set<string>(),
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          ...SECRET_ENV,
          ANTHROPIC_BASE_URL: server.anthropicUrl,
          OPENAI_BASE_URL: server.openaiUrl,
        },
        signal: controller.signal,
        sink,
        retry: { baseMs: 20, maxMs: 5000 },
        // The loop's own tests run commands as they are; the sandbox has tests of its own.
        sandbox: OFF,
        ...rest,
      };
    },
    async cleanup() {
      controller.abort();
      await server.close();
      tmp.cleanup();
    },
  };
}

export const PROVIDERS: Provider[] = ["anthropic", "openai"];
