import type { ContentBlock, MessageRole, ToolCallBlock, ToolResultBlock, Usage } from "../../../protocol/index.ts";
import type { Tool } from "./tools/index.ts";

/** A message as the model sees it: what D1 stores (`Message`) has these fields and more. */
export interface ModelTurn {
  role: MessageRole;
  content: ContentBlock[];
  fromSessionId?: string | null;
}

export type DeltaPart = "text" | "thinking" | "tool_input";

export interface TurnRequest {
  model: string;
  system: string;
  tools: readonly Tool[];
  history: readonly ModelTurn[];
  signal: AbortSignal;
  onDelta(part: DeltaPart, text: string): void;
}

export interface TurnResult {
  /** text, thinking and tool_call blocks, in the order the model wrote them. */
  content: ContentBlock[];
  usage: Usage;
  /** The prompt's size: what the context meter shows. */
  contextTokens: number;
  /** Tool calls whose arguments were not valid JSON: call id → what the model sent. */
  badInput?: Map<string, string>;
}

/** One provider, ready to take turns. Errors it throws are `ModelCallError`s or the abort. */
export interface ModelClient {
  /** Who is answering, for sentences: "Anthropic", "OpenAI", "the server at http://…". */
  readonly label: string;
  /** Where requests go, for "model 'x' not found at …". */
  readonly where: string;
  /** The variable that holds this provider's key, for "set a valid … and restart the runner". */
  readonly keyVar: string;
  /** How to fix a rejected key when it is not the runner's (the prompter saved it in Trellis). */
  readonly keyFix?: string;
  turn(req: TurnRequest): Promise<TurnResult>;
}

export const childAnswerPrefix = (sessionId: string) => `[Answer from spawned session ${sessionId}]`;

export interface PreparedTurn {
  role: "user" | "assistant" | "tool";
  /** user: its text. assistant: text, thinking, tool_call. tool: tool_result. */
  blocks: ContentBlock[];
}

const STOPPED_BEFORE_RESULT =
  "This tool call has no result: the task ended (stopped, failed or the conversation was forked) before it ran.";

/**
 * The history both providers can send: system messages gone, a child's answer marked as such,
 * and every tool call paired with exactly one result right after it. A task stopped or cut by a
 * fork can leave a call without its result, and both APIs refuse that, so the missing result is
 * written in; a result whose call is not right before it has nothing to answer and is dropped.
 */
export function prepareHistory(turns: readonly ModelTurn[]): PreparedTurn[] {
  const out: PreparedTurn[] = [];
  let open: ToolCallBlock[] = [];
  const closeOpen = (results: ToolResultBlock[]) => {
    if (!open.length) return;
    const byId = new Map(results.map((r) => [r.callId, r]));
    out.push({
      role: "tool",
      blocks: open.map(
        (c): ToolResultBlock =>
          byId.get(c.id) ?? {
            type: "tool_result",
            callId: c.id,
            name: c.name,
            output: STOPPED_BEFORE_RESULT,
            isError: true,
          },
      ),
    });
    open = [];
  };
  for (const t of turns) {
    if (t.role === "system") continue;
    if (t.role === "tool") {
      closeOpen(t.content.filter((b): b is ToolResultBlock => b.type === "tool_result"));
      continue;
    }
    closeOpen([]);
    if (t.role === "user") {
      const text = t.content
        .flatMap((b) => (b.type === "text" ? [b.text] : []))
        .join("\n\n")
        .trim();
      if (!text) continue;
      const full = t.fromSessionId ? `${childAnswerPrefix(t.fromSessionId)}\n\n${text}` : text;
      out.push({ role: "user", blocks: [{ type: "text", text: full }] });
      continue;
    }
    const blocks = t.content.filter(
      (b) => (b.type === "text" && b.text.trim() !== "") || b.type === "thinking" || b.type === "tool_call",
    );
    if (!blocks.length) continue;
    out.push({ role: "assistant", blocks });
    open = blocks.filter((b): b is ToolCallBlock => b.type === "tool_call");
  }
  closeOpen([]);
  return out;
}

/** The text of a turn, its text blocks joined. */
export function textOf(content: readonly ContentBlock[]): string {
  return content
    .flatMap((b) => (b.type === "text" ? [b.text] : []))
    .join("\n\n")
    .trim();
}
