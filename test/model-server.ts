/**
 * A scripted model server on loopback that speaks the providers' real streaming wire formats: the
 * Anthropic Messages API (`POST /v1/messages`, SSE) and OpenAI Chat Completions (`POST
 * /v1/chat/completions`, `data:` chunks). Tests queue turns, point the real SDKs at it, and read
 * back every request it got. It is the one stand-in the tests use, because the providers' hosts
 * are out of reach; it is test code and never ships.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type ScriptProvider = "anthropic" | "openai";

export interface ScriptUsage {
  /** Prompt tokens at the full rate (OpenAI: prompt_tokens minus the cached ones). */
  input: number;
  output: number;
  cacheRead: number;
  /** Anthropic only (OpenAI has no cache writes). */
  cacheWrite: number;
}

export interface ScriptToolCall {
  name: string;
  input: Record<string, unknown>;
  /** Default: a fresh `toolu_…` / `call_…` id. */
  id?: string;
  /** OpenAI only: send these arguments verbatim instead of `input` as JSON (to test broken JSON). */
  rawArguments?: string;
}

/** One model turn: thinking, then text, then tool calls, streamed in chunks. */
export interface TurnScript {
  text?: string;
  thinking?: string;
  toolCalls?: ScriptToolCall[];
  /** Default: 10 input, output ≈ characters / 4, no cache. */
  usage?: Partial<ScriptUsage>;
  /** Pause before each chunk (default 0). */
  chunkDelayMs?: number;
  /** Characters per text, thinking or argument chunk (default 8). */
  chunkSize?: number;
}

export type FaultScript =
  /** 429 with `retry-after` in seconds (default 1) and the provider's error body. */
  | { fault: "429"; retryAfter?: number }
  | { fault: "500" }
  | { fault: "401" }
  /** The model does not exist. */
  | { fault: "404" }
  /** Streams `text` (default a long sentence) until `afterChars`, then an SSE error event (overloaded). */
  | { fault: "overloaded_mid_stream"; afterChars?: number; text?: string; chunkDelayMs?: number }
  /** Streams until `afterChars`, then destroys the socket. */
  | { fault: "drop"; afterChars?: number; text?: string; chunkDelayMs?: number };

export type Scripted = TurnScript | FaultScript;
/** A turn, or a function of the request body that returns one (to check what history was sent; it may wait). */
export type ScriptStep = Scripted | ((body: RequestBody) => Scripted | Promise<Scripted>);

/** A request body as JSON; tests dig into `messages` / `system` / `tools`. */
export interface RequestBody {
  model?: string;
  stream?: boolean;
  messages?: Array<Record<string, unknown>>;
  tools?: Array<Record<string, unknown>>;
  system?: unknown;
  [key: string]: unknown;
}

export interface LoggedRequest {
  provider: ScriptProvider;
  /** Path with query, e.g. `/v1/messages?beta=true`. */
  path: string;
  headers: Record<string, string>;
  body: RequestBody;
  at: number;
}

export interface ModelServer {
  /** For `new Anthropic({ baseURL })` or ANTHROPIC_BASE_URL (no `/v1`). */
  anthropicUrl: string;
  /** For `new OpenAI({ baseURL })` or OPENAI_BASE_URL (with `/v1`). */
  openaiUrl: string;
  /** Every request, in arrival order. */
  requests: LoggedRequest[];
  /** Errors thrown by scripted step functions (each was answered with a 400). */
  failures: unknown[];
  /** Called as each text delta is written (epoch ms, sub-millisecond): for latency benchmarks. */
  onDelta?: (text: string, at: number) => void;
  /** Queue turns for a provider; each request takes the next one (an empty queue answers "OK."). */
  script(provider: ScriptProvider, turns: ScriptStep[]): void;
  /** Turns still queued. */
  pending(provider: ScriptProvider): number;
  close(): Promise<void>;
}

const DEFAULT_TURN: TurnScript = { text: "OK." };
const FILLER =
  "Let me look at the code first, then make the change and check it with the tests before I report back to you. ".repeat(
    4,
  );

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rid = (prefix: string) => `${prefix}${randomBytes(12).toString("hex")}`;

function chunks(s: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < s.length; i += size) out.push(s.slice(i, i + size));
  return out;
}

/** Split a JSON text into at least three pieces, as providers stream tool arguments. */
function jsonPieces(json: string, size: number): string[] {
  const piece = Math.max(1, Math.min(size, Math.ceil(json.length / 3)));
  return chunks(json, piece);
}

const isFault = (s: Scripted): s is FaultScript => "fault" in s;

function usageOf(turn: TurnScript): ScriptUsage {
  const chars = (turn.text?.length ?? 0) + (turn.thinking?.length ?? 0) + JSON.stringify(turn.toolCalls ?? []).length;
  return {
    input: 10,
    output: Math.max(1, Math.ceil(chars / 4)),
    cacheRead: 0,
    cacheWrite: 0,
    ...turn.usage,
  };
}

// ---- HTTP error bodies, as each provider writes them ----

const ANTHROPIC_ERRORS: Record<string, [number, string, string]> = {
  "429": [429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"],
  "500": [500, "api_error", "Internal server error"],
  "401": [401, "authentication_error", "invalid x-api-key"],
  "404": [404, "not_found_error", "model: MODEL"],
};
const OPENAI_ERRORS: Record<string, [number, string, string | null, string]> = {
  "429": [429, "requests", "rate_limit_exceeded", "Rate limit reached for requests"],
  "500": [500, "server_error", null, "The server had an error while processing your request."],
  "401": [401, "invalid_request_error", "invalid_api_key", "Incorrect API key provided."],
  "404": [
    404,
    "invalid_request_error",
    "model_not_found",
    "The model `MODEL` does not exist or you do not have access to it.",
  ],
};

function sendError(
  res: ServerResponse,
  provider: ScriptProvider,
  kind: string,
  model: string,
  headers: Record<string, string> = {},
) {
  if (provider === "anthropic") {
    const [status, type, message] = ANTHROPIC_ERRORS[kind]!;
    res.writeHead(status, { "content-type": "application/json", "request-id": rid("req_"), ...headers });
    res.end(JSON.stringify({ type: "error", error: { type, message: message.replace("MODEL", model) } }));
  } else {
    const [status, type, code, message] = OPENAI_ERRORS[kind]!;
    res.writeHead(status, { "content-type": "application/json", "x-request-id": rid("req_"), ...headers });
    res.end(JSON.stringify({ error: { message: message.replace("MODEL", model), type, param: null, code } }));
  }
}

/** Writes SSE while the client listens; `open` turns false when it hangs up. */
class Sse {
  open = true;
  private readonly res: ServerResponse;
  constructor(res: ServerResponse) {
    this.res = res;
    res.on("close", () => {
      this.open = false;
    });
  }
  start(headers: Record<string, string>) {
    this.res.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
      connection: "keep-alive",
      ...headers,
    });
    this.res.flushHeaders();
  }
  event(name: string | null, data: unknown): Promise<void> {
    if (!this.open) return Promise.resolve();
    const payload = typeof data === "string" ? data : JSON.stringify(data);
    const text = `${name ? `event: ${name}\n` : ""}data: ${payload}\n\n`;
    return new Promise((resolve) => this.res.write(text, () => resolve()));
  }
  end() {
    if (this.open) this.res.end();
  }
  /** Cut the connection as a network failure would: no clean end of the chunked body. */
  drop() {
    this.open = false;
    this.res.socket?.destroy();
  }
}

interface StreamPlan {
  turn: TurnScript;
  /** Stop streaming text after this many characters, then fail this way. */
  cut?: { afterChars: number; how: "overloaded" | "drop" };
}

function planFor(step: Scripted): StreamPlan | null {
  if (!isFault(step)) return { turn: step };
  if (step.fault === "overloaded_mid_stream" || step.fault === "drop") {
    const text = step.text ?? FILLER;
    const afterChars = Math.min(step.afterChars ?? 40, text.length);
    return {
      turn: { text, chunkDelayMs: step.chunkDelayMs ?? 1 },
      cut: { afterChars, how: step.fault === "drop" ? "drop" : "overloaded" },
    };
  }
  return null;
}

async function streamAnthropic(sse: Sse, plan: StreamPlan, model: string, server: ModelServer) {
  const { turn, cut } = plan;
  const size = turn.chunkSize ?? 8;
  const delay = turn.chunkDelayMs ?? 0;
  const usage = usageOf(turn);
  const pause = () => (delay > 0 ? sleep(delay) : Promise.resolve());
  sse.start({ "request-id": rid("req_") });
  await sse.event("message_start", {
    type: "message_start",
    message: {
      id: rid("msg_"),
      type: "message",
      role: "assistant",
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: {
        input_tokens: usage.input,
        output_tokens: 1,
        cache_creation_input_tokens: usage.cacheWrite,
        cache_read_input_tokens: usage.cacheRead,
      },
    },
  });
  await sse.event("ping", { type: "ping" });
  let index = 0;
  if (turn.thinking) {
    await sse.event("content_block_start", {
      type: "content_block_start",
      index,
      content_block: { type: "thinking", thinking: "", signature: "" },
    });
    for (const c of chunks(turn.thinking, size)) {
      await pause();
      await sse.event("content_block_delta", {
        type: "content_block_delta",
        index,
        delta: { type: "thinking_delta", thinking: c },
      });
    }
    await sse.event("content_block_delta", {
      type: "content_block_delta",
      index,
      delta: { type: "signature_delta", signature: randomBytes(48).toString("base64") },
    });
    await sse.event("content_block_stop", { type: "content_block_stop", index });
    index++;
  }
  if (turn.text) {
    await sse.event("content_block_start", {
      type: "content_block_start",
      index,
      content_block: { type: "text", text: "" },
    });
    let written = 0;
    for (const c of chunks(turn.text, size)) {
      if (!sse.open) return;
      const piece = cut ? c.slice(0, Math.max(0, cut.afterChars - written)) : c;
      if (piece) {
        await pause();
        await sse.event("content_block_delta", {
          type: "content_block_delta",
          index,
          delta: { type: "text_delta", text: piece },
        });
        server.onDelta?.(piece, now());
        written += piece.length;
      }
      if (cut && written >= cut.afterChars) {
        if (cut.how === "drop") return sse.drop();
        await sse.event("error", { type: "error", error: { type: "overloaded_error", message: "Overloaded" } });
        return sse.end();
      }
    }
    await sse.event("content_block_stop", { type: "content_block_stop", index });
    index++;
  }
  for (const call of turn.toolCalls ?? []) {
    await sse.event("content_block_start", {
      type: "content_block_start",
      index,
      content_block: { type: "tool_use", id: call.id ?? rid("toolu_"), name: call.name, input: {} },
    });
    for (const piece of jsonPieces(JSON.stringify(call.input), size)) {
      await pause();
      await sse.event("content_block_delta", {
        type: "content_block_delta",
        index,
        delta: { type: "input_json_delta", partial_json: piece },
      });
    }
    await sse.event("content_block_stop", { type: "content_block_stop", index });
    index++;
  }
  await sse.event("message_delta", {
    type: "message_delta",
    delta: { stop_reason: turn.toolCalls?.length ? "tool_use" : "end_turn", stop_sequence: null },
    usage: { output_tokens: usage.output },
  });
  await sse.event("message_stop", { type: "message_stop" });
  sse.end();
}

async function streamOpenAI(sse: Sse, plan: StreamPlan, body: RequestBody, server: ModelServer) {
  const { turn, cut } = plan;
  const size = turn.chunkSize ?? 8;
  const delay = turn.chunkDelayMs ?? 0;
  const usage = usageOf(turn);
  const pause = () => (delay > 0 ? sleep(delay) : Promise.resolve());
  const id = rid("chatcmpl-");
  const created = Math.floor(Date.now() / 1000);
  const model = body.model ?? "unknown";
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
    sse.event(null, {
      id,
      object: "chat.completion.chunk",
      created,
      model,
      system_fingerprint: null,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    });
  sse.start({ "x-request-id": rid("req_") });
  await chunk({ role: "assistant", content: "" });
  for (const c of turn.thinking ? chunks(turn.thinking, size) : []) {
    await pause();
    await chunk({ reasoning_content: c });
  }
  let written = 0;
  for (const c of turn.text ? chunks(turn.text, size) : []) {
    if (!sse.open) return;
    const piece = cut ? c.slice(0, Math.max(0, cut.afterChars - written)) : c;
    if (piece) {
      await pause();
      await chunk({ content: piece });
      server.onDelta?.(piece, now());
      written += piece.length;
    }
    if (cut && written >= cut.afterChars) {
      if (cut.how === "drop") return sse.drop();
      await sse.event(null, { error: { message: "Overloaded", type: "server_error", param: null, code: null } });
      return sse.end();
    }
  }
  const calls = (turn.toolCalls ?? []).map((c, index) => ({
    index,
    id: c.id ?? rid("call_"),
    name: c.name,
    pieces: jsonPieces(c.rawArguments ?? JSON.stringify(c.input), size),
  }));
  for (const c of calls) {
    await chunk({
      tool_calls: [{ index: c.index, id: c.id, type: "function", function: { name: c.name, arguments: "" } }],
    });
  }
  // Parallel calls' arguments interleave, as they do from the real API: only `index` says whose they are.
  for (let round = 0; calls.some((c) => round < c.pieces.length); round++) {
    for (const c of calls) {
      const piece = c.pieces[round];
      if (piece === undefined) continue;
      await pause();
      await chunk({ tool_calls: [{ index: c.index, function: { arguments: piece } }] });
    }
  }
  await chunk({}, calls.length ? "tool_calls" : "stop");
  const streamOptions = body.stream_options as { include_usage?: boolean } | undefined;
  if (streamOptions?.include_usage) {
    await sse.event(null, {
      id,
      object: "chat.completion.chunk",
      created,
      model,
      system_fingerprint: null,
      choices: [],
      usage: {
        prompt_tokens: usage.input + usage.cacheRead,
        completion_tokens: usage.output,
        total_tokens: usage.input + usage.cacheRead + usage.output,
        prompt_tokens_details: { cached_tokens: usage.cacheRead },
        completion_tokens_details: { reasoning_tokens: 0 },
      },
    });
  }
  await sse.event(null, "[DONE]");
  sse.end();
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let s = "";
    req.setEncoding("utf8");
    req.on("data", (d: string) => {
      s += d;
    });
    req.on("end", () => resolve(s));
    req.on("error", reject);
  });
}

export async function startModelServer(): Promise<ModelServer> {
  const queues: Record<ScriptProvider, ScriptStep[]> = { anthropic: [], openai: [] };
  const api: ModelServer = {
    anthropicUrl: "",
    openaiUrl: "",
    requests: [],
    failures: [],
    script(provider, turns) {
      queues[provider].push(...turns);
    },
    pending: (provider) => queues[provider].length,
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? "/";
    const pathname = path.split("?")[0];
    const provider: ScriptProvider | null =
      req.method === "POST" && pathname === "/v1/messages"
        ? "anthropic"
        : req.method === "POST" && pathname === "/v1/chat/completions"
          ? "openai"
          : null;
    const raw = await readBody(req);
    if (!provider) {
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: `no route for ${req.method} ${path}` } }));
      return;
    }
    let body: RequestBody;
    try {
      body = JSON.parse(raw) as RequestBody;
    } catch {
      res.writeHead(400, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { type: "invalid_request_error", message: "the body is not JSON" } }));
      return;
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers[k] = v;
    api.requests.push({ provider, path, headers, body, at: now() });
    const model = body.model ?? "unknown";

    const hasKey =
      provider === "anthropic"
        ? Boolean(headers["x-api-key"] || headers.authorization?.startsWith("Bearer "))
        : Boolean(headers.authorization?.startsWith("Bearer "));
    if (!hasKey) return sendError(res, provider, "401", model);
    if (body.stream !== true) {
      res.writeHead(400, { "content-type": "application/json" });
      res.end(
        JSON.stringify({ error: { type: "invalid_request_error", message: "this scripted server only streams" } }),
      );
      return;
    }

    const next = queues[provider].shift() ?? DEFAULT_TURN;
    let step: Scripted;
    try {
      step = typeof next === "function" ? await next(body) : next;
    } catch (err) {
      // A failed expectation inside a scripted step: answer 400 (never retried) so the task fails
      // with the expectation's own words instead of carrying on with the next turn.
      api.failures.push(err);
      res.writeHead(400, { "content-type": "application/json" });
      const message = `scripted step failed: ${err instanceof Error ? err.message : String(err)}`;
      res.end(
        JSON.stringify(
          provider === "anthropic"
            ? { type: "error", error: { type: "invalid_request_error", message } }
            : { error: { message, type: "invalid_request_error", param: null, code: null } },
        ),
      );
      return;
    }
    if (
      isFault(step) &&
      (step.fault === "429" || step.fault === "500" || step.fault === "401" || step.fault === "404")
    ) {
      const extra: Record<string, string> = step.fault === "429" ? { "retry-after": String(step.retryAfter ?? 1) } : {};
      return sendError(res, provider, step.fault, model, extra);
    }
    const plan = planFor(step)!;
    const sse = new Sse(res);
    if (provider === "anthropic") await streamAnthropic(sse, plan, model, api);
    else await streamOpenAI(sse, plan, body, api);
  };

  const http = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { type: "api_error", message: String(err) } }));
      } else res.destroy();
    });
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const { port } = http.address() as AddressInfo;
  api.anthropicUrl = `http://127.0.0.1:${port}`;
  api.openaiUrl = `http://127.0.0.1:${port}/v1`;
  return api;
}
