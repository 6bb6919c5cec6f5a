/**
 * A scripted OpenAI Responses API server on loopback (`POST /v1/responses`, SSE), for Codex, which
 * speaks nothing else. Tests queue turns (text, function calls, usage), point Codex at it through
 * a custom provider, and read back every request. Test code only: it never ships.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface ResponsesUsage {
  input: number;
  cached: number;
  output: number;
}

export interface ResponsesTurn {
  text?: string;
  /** Function calls, as Codex's tools take them (`arguments` is sent as JSON). */
  calls?: { name: string; arguments: Record<string, unknown>; callId?: string; namespace?: string }[];
  /** Default: 100 input, 0 cached, 20 output. */
  usage?: Partial<ResponsesUsage>;
  /** Pause before each text chunk (default 0), for stop tests. */
  chunkDelayMs?: number;
}

export type ResponsesStep = ResponsesTurn | ((body: ResponsesBody) => ResponsesTurn);

export interface ResponsesBody {
  model?: string;
  input?: unknown[];
  tools?: Array<Record<string, unknown>>;
  [key: string]: unknown;
}

export interface ResponsesServer {
  /** For a provider's `base_url` (with `/v1`). */
  url: string;
  requests: { path: string; headers: Record<string, string>; body: ResponsesBody }[];
  failures: unknown[];
  script(turns: ResponsesStep[]): void;
  pending(): number;
  close(): Promise<void>;
}

const rid = (p: string) => `${p}${randomBytes(12).toString("hex")}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

async function stream(res: ServerResponse, turn: ResponsesTurn, model: string) {
  let open = true;
  res.on("close", () => {
    open = false;
  });
  let seq = 0;
  const send = (data: Record<string, unknown>) =>
    open
      ? new Promise<void>((r) =>
          res.write(`event: ${data.type}\ndata: ${JSON.stringify({ ...data, sequence_number: seq++ })}\n\n`, () => r()),
        )
      : Promise.resolve();
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  res.flushHeaders();
  const id = rid("resp_");
  const base = {
    id,
    object: "response",
    created_at: Math.floor(Date.now() / 1000),
    model,
    status: "in_progress",
    output: [],
  };
  await send({ type: "response.created", response: base });
  const output: Record<string, unknown>[] = [];
  let index = 0;
  if (turn.text) {
    const itemId = rid("msg_");
    const item = { id: itemId, type: "message", role: "assistant", status: "in_progress", content: [] };
    await send({ type: "response.output_item.added", output_index: index, item });
    await send({
      type: "response.content_part.added",
      item_id: itemId,
      output_index: index,
      content_index: 0,
      part: { type: "output_text", text: "", annotations: [] },
    });
    for (let i = 0; i < turn.text.length; i += 8) {
      if (turn.chunkDelayMs) await sleep(turn.chunkDelayMs);
      if (!open) return;
      await send({
        type: "response.output_text.delta",
        item_id: itemId,
        output_index: index,
        content_index: 0,
        delta: turn.text.slice(i, i + 8),
      });
    }
    const done = { ...item, status: "completed", content: [{ type: "output_text", text: turn.text, annotations: [] }] };
    await send({ type: "response.output_item.done", output_index: index, item: done });
    output.push(done);
    index++;
  }
  for (const c of turn.calls ?? []) {
    const item = {
      id: rid("fc_"),
      type: "function_call",
      status: "completed",
      call_id: c.callId ?? rid("call_"),
      name: c.name,
      ...(c.namespace ? { namespace: c.namespace } : {}),
      arguments: JSON.stringify(c.arguments),
    };
    await send({ type: "response.output_item.added", output_index: index, item: { ...item, arguments: "" } });
    await send({ type: "response.output_item.done", output_index: index, item });
    output.push(item);
    index++;
  }
  const u = { input: 100, cached: 0, output: 20, ...turn.usage };
  await send({
    type: "response.completed",
    response: {
      ...base,
      status: "completed",
      output,
      usage: {
        input_tokens: u.input,
        input_tokens_details: { cached_tokens: u.cached },
        output_tokens: u.output,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: u.input + u.output,
      },
    },
  });
  if (open) res.end();
}

export async function startResponsesServer(): Promise<ResponsesServer> {
  const queue: ResponsesStep[] = [];
  const api: ResponsesServer = {
    url: "",
    requests: [],
    failures: [],
    script: (turns) => {
      queue.push(...turns);
    },
    pending: () => queue.length,
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
  const http = createServer((req, res) => {
    void (async () => {
      const path = req.url ?? "/";
      const raw = await readBody(req);
      if (req.method !== "POST" || path.split("?")[0] !== "/v1/responses") {
        res.writeHead(404, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: `no route for ${req.method} ${path}` } }));
        return;
      }
      const body = JSON.parse(raw) as ResponsesBody;
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers[k] = v;
      api.requests.push({ path, headers, body });
      const next = queue.shift() ?? { text: "OK." };
      let turn: ResponsesTurn;
      try {
        turn = typeof next === "function" ? next(body) : next;
      } catch (err) {
        api.failures.push(err);
        res.writeHead(400, { "content-type": "application/json" });
        res.end(
          JSON.stringify({ error: { message: `scripted step failed: ${String(err)}`, type: "invalid_request_error" } }),
        );
        return;
      }
      await stream(res, turn, body.model ?? "unknown");
    })().catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  api.url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/v1`;
  return api;
}
