import type {
  DecisionRecord,
  Message,
  NewMessage,
  PermissionMode,
  Provider,
  TaskSecrets,
  Todo,
} from "../../../protocol/index.ts";
import type { McpSetup } from "./mcp.ts";
import type { ShellSandbox } from "./sandbox.ts";

export interface PermissionAsk {
  requestId: string;
  callId: string;
  tool: string;
  summary: string;
  command?: string;
  diff?: string;
  /**
   * Only a person may answer it: a mode that would allow the tool does not settle it (an SDK
   * runtime's edit outside the worktree, which no OS sandbox holds). Never sent to the edge.
   */
  personOnly?: boolean;
}

export interface PermissionAnswer {
  decision: "allow" | "allow_always" | "deny";
  reason?: string;
  record: DecisionRecord;
}

/** Where a running task reports to: the runner's job loop, which streams and stores it. */
export interface AgentSink {
  /** An ephemeral piece of the message being written, for every SDK delta (the caller coalesces). */
  delta(messageId: string, part: "text" | "thinking" | "tool_input", text: string): void;
  /** The stream of `messageId` is over (completed, abandoned for a retry, or stopped). */
  endStream(messageId: string): void;
  /** A finished message. Awaited: order matters. Its id is the id the deltas used. */
  message(m: NewMessage): Promise<void>;
  /** The card's one line ("shell: npm test", or the last line of text) and/or the todo list. */
  state(s: { nowDoing?: string | null; todos?: Todo[] }): Promise<void>;
  /** Wait for a person's decision. Rejects when `signal` aborts. */
  askPermission(req: PermissionAsk, signal: AbortSignal): Promise<PermissionAnswer>;
  /** The agent spawned a child session (its id is made here, with crypto.randomUUID()). */
  spawn(req: { sessionId: string; prompt: string; title?: string }): Promise<void>;
}

/** How hard to retry a failing model call. The defaults suit real providers; tests shorten them. */
export interface RetryPolicy {
  /** Model calls per turn, the first included. */
  attempts: number;
  /** The first backoff; each retry doubles it, with jitter. */
  baseMs: number;
  /** No wait is longer, whatever `retry-after` says. */
  maxMs: number;
}

export interface TaskInput {
  sessionId: string;
  provider: Provider;
  model: string;
  /** OpenAI-compatible base URL for this session (else env OPENAI_BASE_URL, else OpenAI). */
  baseUrl: string | null;
  /** The whole conversation from D1, oldest first; the new prompt is the last user message. */
  history: Message[];
  worktreePath: string;
  /** Read at every tool call: it can change mid-task. */
  permissionMode: () => PermissionMode;
  /** Tools approved "for the rest of the session"; allow_always adds to it. */
  allowedTools: Set<string>;
  /** Who approved each of those, where it is known (the edge keeps it; this task's approvals join it). */
  approvers?: Map<string, string>;
  /** The runner's environment: provider keys and base URLs come from here, unless the prompter has their own. */
  env: Record<string, string | undefined>;
  /** The prompter's own key (used instead of the runner's) and environment variables (for the agent's processes only). */
  secrets?: TaskSecrets;
  /** Stop: aborts the model call and any running tool within 2 s. */
  signal: AbortSignal;
  sink: AgentSink;
  /** Model calls per task (default 50). */
  maxTurns?: number;
  /**
   * MCP servers for this task (Trellis's own first), connected when it starts and closed when it
   * ends; the ones that fail, and the ones refused, are told in the transcript.
   */
  mcp?: McpSetup;
  /** The runner's OS sandbox for shell commands (found once at its start), or none. */
  sandbox: ShellSandbox;
  /** Hosts the session lets its shell commands reach through the sandbox (none: the network is off). */
  allowedHosts?: readonly string[];
  /** Retry tuning (defaults: 5 attempts, 1 s doubling, 60 s at most). */
  retry?: Partial<RetryPolicy>;
}
