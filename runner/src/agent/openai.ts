import type {
  ChatCompletionChunk,
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from "openai/resources/chat/completions";
import type { ContentBlock, Usage } from "../../../protocol/index.ts";
import { AgentError } from "./errors.ts";
import { type ModelClient, type ModelTurn, prepareHistory, type TurnRequest, type TurnResult } from "./provider.ts";
import { ModelCallError, transportFailure } from "./retry.ts";
import type { Tool } from "./tools/index.ts";

export const OPENAI_DEFAULT_URL = "https://api.openai.com/v1";
/** Local servers (Ollama, llama.cpp, vLLM) take any key, but the SDK insists on one. */
const PLACEHOLDER_KEY = "not-needed";

/**
 * The neutral history as Chat Completions messages: assistant tool calls with their arguments as
 * JSON text, then one `tool` message per result. Thinking is not sent back (the API has no place
 * for it), and an error result says so in words, since `tool` messages have no error flag.
 */
export function toOpenAIMessages(system: string, turns: readonly ModelTurn[]): ChatCompletionMessageParam[] {
  const out: ChatCompletionMessageParam[] = [{ role: "system", content: system }];
  for (const t of prepareHistory(turns)) {
    if (t.role === "user") {
      out.push({ role: "user", content: t.blocks.map((b) => (b.type === "text" ? b.text : "")).join("") });
    } else if (t.role === "tool") {
      for (const b of t.blocks) {
        if (b.type !== "tool_result") continue;
        const output = b.output || "(no output)";
        out.push({ role: "tool", tool_call_id: b.callId, content: b.isError ? `Error: ${output}` : output });
      }
    } else {
      const text = t.blocks
        .flatMap((b) => (b.type === "text" ? [b.text] : []))
        .join("\n\n")
        .trim();
      const calls = t.blocks.flatMap((b) =>
        b.type === "tool_call"
          ? [{ id: b.id, type: "function" as const, function: { name: b.name, arguments: JSON.stringify(b.input) } }]
          : [],
      );
      if (!text && !calls.length) continue;
      out.push({ role: "assistant", content: text || null, ...(calls.length ? { tool_calls: calls } : {}) });
    }
  }
  return out;
}

export function toOpenAITools(tools: readonly Tool[]): ChatCompletionTool[] {
  return tools.map((t) => ({
    type: "function",
    function: { name: t.name, description: t.description, parameters: t.inputSchema },
  }));
}

/** Thinking as the servers that stream it name it: vLLM and DeepSeek `reasoning_content`, Ollama and llama.cpp `reasoning`. */
type Delta = ChatCompletionChunk.Choice.Delta & { reasoning_content?: string | null; reasoning?: string | null };

export async function openaiClient(
  env: Record<string, string | undefined>,
  sessionBaseUrl: string | null,
  own: { apiKey: string; baseUrl: string | null } | null = null,
): Promise<ModelClient> {
  // The prompter's own key goes only where they saved it for: OpenAI itself, or their own server.
  const custom = own ? own.baseUrl : sessionBaseUrl || env.OPENAI_BASE_URL || null;
  const key = (own ? own.apiKey : env.OPENAI_API_KEY) || undefined;
  if (!key && !custom) {
    throw new AgentError(
      "no_credentials",
      "no OPENAI_API_KEY or OPENAI_BASE_URL: set one and restart the runner (a local server such as Ollama needs only OPENAI_BASE_URL)",
    );
  }
  const baseURL = (custom ?? OPENAI_DEFAULT_URL).replace(/\/+$/, "");
  // Loaded on the first task, not at start: the idle runner has a memory budget.
  const sdk = await import("openai");
  const OpenAI = sdk.default;
  const client = new OpenAI({ apiKey: key ?? PLACEHOLDER_KEY, baseURL, maxRetries: 0 });
  const isOpenAI = baseURL === OPENAI_DEFAULT_URL;

  const fault = (err: unknown): unknown => {
    if (err instanceof sdk.APIUserAbortError) return err;
    if (err instanceof sdk.APIConnectionError) {
      return new ModelCallError(err.message, { transport: transportFailure(err.cause) ?? "dropped", cause: err });
    }
    if (err instanceof sdk.APIError) {
      const body = err.error as { message?: unknown } | undefined;
      return new ModelCallError(err.message, {
        status: err.status,
        headers: err.headers,
        errorType: err.type ?? null,
        apiMessage: typeof body?.message === "string" ? body.message : null,
        cause: err,
      });
    }
    const transport = transportFailure(err);
    if (transport) return new ModelCallError((err as Error).message, { transport, cause: err });
    return err;
  };

  return {
    label: isOpenAI ? "OpenAI" : `the server at ${baseURL}`,
    where: baseURL,
    keyVar: "OPENAI_API_KEY",
    ...(own ? { keyFix: "the prompter's saved key is not valid: save a new one under Keys & environment" } : {}),
    async turn(req: TurnRequest): Promise<TurnResult> {
      try {
        const stream = await client.chat.completions.create(
          {
            model: req.model,
            messages: toOpenAIMessages(req.system, req.history),
            tools: toOpenAITools(req.tools),
            stream: true,
            stream_options: { include_usage: true },
          },
          { signal: req.signal },
        );
        let text = "";
        let thinking = "";
        let finished = false;
        let usage: Usage = { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 };
        let contextTokens = 0;
        const calls: { id: string; name: string; args: string }[] = [];
        for await (const chunk of stream) {
          if (chunk.usage) {
            const cached = chunk.usage.prompt_tokens_details?.cached_tokens ?? 0;
            usage = {
              input: Math.max(0, chunk.usage.prompt_tokens - cached),
              output: chunk.usage.completion_tokens,
              cacheRead: cached,
              cacheWrite: 0,
            };
            contextTokens = chunk.usage.prompt_tokens;
          }
          const choice = chunk.choices?.[0];
          if (!choice) continue;
          const d = (choice.delta ?? {}) as Delta;
          const reasoning = d.reasoning_content ?? d.reasoning;
          if (reasoning) {
            thinking += reasoning;
            req.onDelta("thinking", reasoning);
          }
          if (d.content) {
            text += d.content;
            req.onDelta("text", d.content);
          }
          for (const [i, tc] of (d.tool_calls ?? []).entries()) {
            // Some servers leave out `index` when they send each call whole.
            const at = tc.index ?? i;
            const slot = calls[at] ?? { id: "", name: "", args: "" };
            calls[at] = slot;
            if (tc.id) slot.id = tc.id;
            if (tc.function?.name && !slot.name) slot.name = tc.function.name;
            if (tc.function?.arguments) {
              slot.args += tc.function.arguments;
              req.onDelta("tool_input", tc.function.arguments);
            }
          }
          if (choice.finish_reason) finished = true;
        }
        if (!finished) {
          throw new ModelCallError("the stream ended without a finish_reason", { transport: "incomplete" });
        }
        const content: ContentBlock[] = [];
        if (thinking) content.push({ type: "thinking", thinking });
        if (text) content.push({ type: "text", text });
        const badInput = new Map<string, string>();
        for (const [i, c] of calls.entries()) {
          if (!c) continue;
          const id = c.id || `call_${i}_${Date.now().toString(36)}`;
          let input: Record<string, unknown> = {};
          try {
            const parsed: unknown = c.args.trim() ? JSON.parse(c.args) : {};
            if (parsed && typeof parsed === "object" && !Array.isArray(parsed))
              input = parsed as Record<string, unknown>;
            else badInput.set(id, c.args);
          } catch {
            badInput.set(id, c.args);
          }
          content.push({ type: "tool_call", id, name: c.name || "unnamed_tool", input });
        }
        return { content, usage, contextTokens, ...(badInput.size ? { badInput } : {}) };
      } catch (err) {
        throw fault(err);
      }
    },
  };
}
