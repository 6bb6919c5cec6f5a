import type {
  Tool as AnthropicTool,
  ContentBlockParam,
  MessageParam,
  TextBlockParam,
} from "@anthropic-ai/sdk/resources/messages/messages";
import type { ContentBlock } from "../../../protocol/index.ts";
import { AgentError } from "./errors.ts";
import { type ModelClient, type ModelTurn, prepareHistory, type TurnRequest, type TurnResult } from "./provider.ts";
import { ModelCallError, transportFailure } from "./retry.ts";
import type { Tool } from "./tools/index.ts";

export const ANTHROPIC_DEFAULT_URL = "https://api.anthropic.com";
const CACHE = { type: "ephemeral" } as const;

/** Anthropic accepts tool ids of letters, digits, `_` and `-`; another provider's ids may not be. */
const toolId = (id: string) => id.replace(/[^a-zA-Z0-9_-]/g, "_");

/**
 * The neutral history as Messages API turns: tool results travel in a user turn, thinking only with
 * the signature that lets Anthropic verify it, and turns of the same role are merged (a prompt right
 * after tool results, say). The last block carries a cache breakpoint, so the next call reads the
 * whole conversation so far from the prompt cache.
 */
export function toAnthropicMessages(turns: readonly ModelTurn[]): MessageParam[] {
  const out: { role: "user" | "assistant"; content: ContentBlockParam[] }[] = [];
  for (const t of prepareHistory(turns)) {
    const role = t.role === "assistant" ? "assistant" : "user";
    const content: ContentBlockParam[] = [];
    for (const b of t.blocks) {
      if (b.type === "text") content.push({ type: "text", text: b.text });
      else if (b.type === "thinking" && b.signature) {
        content.push({ type: "thinking", thinking: b.thinking, signature: b.signature });
      } else if (b.type === "tool_call") {
        content.push({ type: "tool_use", id: toolId(b.id), name: b.name, input: b.input });
      } else if (b.type === "tool_result") {
        content.push({
          type: "tool_result",
          tool_use_id: toolId(b.callId),
          content: b.output || "(no output)",
          is_error: b.isError,
        });
      }
    }
    if (!content.length || content.every((c) => c.type === "thinking")) continue;
    const last = out[out.length - 1];
    if (last && last.role === role) last.content.push(...content);
    else out.push({ role, content });
  }
  const lastBlock = out[out.length - 1]?.content.findLast((c) => c.type !== "thinking");
  if (lastBlock) (lastBlock as TextBlockParam).cache_control = CACHE;
  return out;
}

export function toAnthropicTools(tools: readonly Tool[]): AnthropicTool[] {
  return tools.map((t, i) => ({
    name: t.name,
    description: t.description,
    input_schema: t.inputSchema,
    ...(i === tools.length - 1 ? { cache_control: CACHE } : {}),
  }));
}

/** Output room per call: the most each model family takes (older ones refuse more). */
export function maxTokensFor(model: string): number {
  if (/^claude-3-(haiku|sonnet|opus)/.test(model)) return 4096;
  if (/^claude-3-5/.test(model)) return 8192;
  return 32_000;
}

/** `own`: the prompter's saved key, used instead of the runner's (still through its ANTHROPIC_BASE_URL). */
export async function anthropicClient(
  env: Record<string, string | undefined>,
  own: { apiKey: string } | null = null,
): Promise<ModelClient> {
  const apiKey = own ? own.apiKey : env.ANTHROPIC_API_KEY || undefined;
  const authToken = apiKey ? undefined : env.ANTHROPIC_AUTH_TOKEN || undefined;
  if (!apiKey && !authToken) {
    throw new AgentError("no_credentials", "no ANTHROPIC_API_KEY: set it and restart the runner");
  }
  const baseURL = env.ANTHROPIC_BASE_URL || ANTHROPIC_DEFAULT_URL;
  // Loaded on the first task, not at start: the idle runner has a memory budget.
  const sdk = await import("@anthropic-ai/sdk");
  const Anthropic = sdk.default;
  const client = new Anthropic({ ...(apiKey ? { apiKey } : { authToken }), baseURL, maxRetries: 0 });

  const fault = (err: unknown): unknown => {
    if (err instanceof sdk.APIUserAbortError) return err;
    if (err instanceof sdk.APIConnectionError) {
      return new ModelCallError(err.message, { transport: transportFailure(err.cause) ?? "dropped", cause: err });
    }
    if (err instanceof sdk.APIError) {
      return new ModelCallError(err.message, {
        status: err.status,
        headers: err.headers,
        errorType: err.type,
        apiMessage: err.apiMessage,
        cause: err,
      });
    }
    const transport = transportFailure(err);
    if (transport) return new ModelCallError((err as Error).message, { transport, cause: err });
    if (err instanceof sdk.AnthropicError && /ended without|without sending any chunks/i.test(err.message)) {
      return new ModelCallError(err.message, { transport: "incomplete", cause: err });
    }
    return err;
  };

  return {
    label: "Anthropic",
    where: baseURL,
    keyVar: apiKey ? "ANTHROPIC_API_KEY" : "ANTHROPIC_AUTH_TOKEN",
    ...(own ? { keyFix: "the prompter's Anthropic key is not valid: save a new one under Keys & environment" } : {}),
    async turn(req: TurnRequest): Promise<TurnResult> {
      try {
        const stream = client.messages.stream(
          {
            model: req.model,
            max_tokens: maxTokensFor(req.model),
            system: [{ type: "text", text: req.system, cache_control: CACHE }],
            tools: toAnthropicTools(req.tools),
            messages: toAnthropicMessages(req.history),
          },
          { signal: req.signal },
        );
        // Failures reach us through the iterator below; without a listener of its own the SDK also
        // raises them as an unhandled rejection when none is attached at that instant.
        stream.on("error", () => {});
        for await (const ev of stream) {
          if (ev.type !== "content_block_delta") continue;
          const d = ev.delta;
          if (d.type === "text_delta") req.onDelta("text", d.text);
          else if (d.type === "thinking_delta") req.onDelta("thinking", d.thinking);
          else if (d.type === "input_json_delta") req.onDelta("tool_input", d.partial_json);
        }
        const msg = await stream.finalMessage();
        const content: ContentBlock[] = [];
        for (const b of msg.content) {
          if (b.type === "text") content.push({ type: "text", text: b.text });
          else if (b.type === "thinking")
            content.push({ type: "thinking", thinking: b.thinking, signature: b.signature });
          else if (b.type === "tool_use") {
            const input = b.input && typeof b.input === "object" && !Array.isArray(b.input) ? b.input : {};
            content.push({ type: "tool_call", id: b.id, name: b.name, input: input as Record<string, unknown> });
          }
        }
        const u = msg.usage;
        const usage = {
          input: u.input_tokens ?? 0,
          output: u.output_tokens ?? 0,
          cacheRead: u.cache_read_input_tokens ?? 0,
          cacheWrite: u.cache_creation_input_tokens ?? 0,
        };
        return { content, usage, contextTokens: usage.input + usage.cacheRead + usage.cacheWrite };
      } catch (err) {
        throw fault(err);
      }
    },
  };
}
