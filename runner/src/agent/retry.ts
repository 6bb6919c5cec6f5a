import { AgentError } from "./errors.ts";
import type { ModelClient } from "./provider.ts";
import type { RetryPolicy } from "./types.ts";

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseMs: 1000, maxMs: 60_000 };

/**
 * A model call that failed, in terms both SDKs share. `status` is the HTTP status; a fault that
 * arrives inside a stream (an SSE `error` event) has none but has the provider's error `type`.
 */
export class ModelCallError extends Error {
  override name = "ModelCallError";
  readonly status: number | undefined;
  readonly headers: Headers | undefined;
  readonly errorType: string | null;
  readonly apiMessage: string | null;
  /** The connection failed or dropped, or the stream ended before it was complete. */
  readonly transport: "refused" | "dropped" | "incomplete" | null;
  constructor(
    message: string,
    f: {
      status?: number;
      headers?: Headers;
      errorType?: string | null;
      apiMessage?: string | null;
      transport?: ModelCallError["transport"];
      cause?: unknown;
    },
  ) {
    super(message, { cause: f.cause });
    this.status = f.status;
    this.headers = f.headers;
    this.errorType = f.errorType ?? null;
    this.apiMessage = f.apiMessage ?? null;
    this.transport = f.transport ?? null;
  }
}

const CONNECTION_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
]);

/**
 * Whether an error (or one of its causes) is the network failing rather than the provider
 * answering: undici throws `TypeError: terminated` when a socket closes mid-body, and the SDKs
 * wrap a failed connect as `APIConnectionError`.
 */
export function transportFailure(err: unknown): "refused" | "dropped" | null {
  let found: "refused" | "dropped" | null = null;
  // The whole chain is read: "fetch failed" on top can hide ECONNREFUSED underneath.
  for (let e = err, depth = 0; e && depth < 6; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === "ECONNREFUSED") return "refused";
    const name = (e as Error).name ?? "";
    const message = (e as Error).message ?? "";
    if (
      (typeof code === "string" && CONNECTION_CODES.has(code)) ||
      /^APIConnection(Timeout)?Error$/.test(name) ||
      (e instanceof TypeError && /terminated|fetch failed|other side closed|socket/i.test(message))
    ) {
      found = "dropped";
    }
  }
  return found;
}

/** Milliseconds the provider asked for in `retry-after-ms` or `retry-after` (seconds or a date). */
export function retryAfterMs(headers: Headers | undefined, now = Date.now()): number | null {
  if (!headers) return null;
  const ms = Number.parseFloat(headers.get("retry-after-ms") ?? "");
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const raw = headers.get("retry-after");
  if (!raw) return null;
  const secs = Number(raw);
  if (Number.isFinite(secs) && secs >= 0) return secs * 1000;
  const at = Date.parse(raw);
  return Number.isFinite(at) ? Math.max(0, at - now) : null;
}

/**
 * Exponential backoff with jitter: the n-th retry waits between 50% and 100% of base·2^(n-1).
 * A `retry-after` from the provider is a floor (it knows when it will take the call again), with a
 * little jitter on top so many runners do not come back at the same instant. Never above maxMs.
 */
export function backoffMs(retry: number, policy: RetryPolicy, asked: number | null, random = Math.random): number {
  const exp = policy.baseMs * 2 ** (retry - 1);
  const jittered = exp * (0.5 + random() * 0.5);
  const wait = asked === null ? jittered : asked + Math.min(1000, asked * 0.1) * random();
  return Math.round(Math.min(policy.maxMs, wait));
}

const sentence = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

export type Verdict =
  | { retry: true /** "Anthropic rate-limited this request (429)" */; why: string; askedMs: number | null }
  | { retry: false; error: AgentError };

/** Whether a failed call is worth another try, and the words for either case. */
export function classify(err: ModelCallError, client: ModelClient, model: string): Verdict {
  const who = client.label;
  const Who = sentence(who);
  const asked = retryAfterMs(err.headers);
  const again = (why: string): Verdict => ({ retry: true, why, askedMs: asked });
  const fail = (code: AgentError["code"], message: string): Verdict => ({
    retry: false,
    error: new AgentError(code, message, { cause: err }),
  });
  const detail = err.apiMessage ? `: ${err.apiMessage}` : "";

  if (err.transport === "refused") return again(`${Who} could not be reached (connection refused)`);
  if (err.transport === "dropped") return again(`The connection to ${who} dropped`);
  if (err.transport === "incomplete") return again(`${Who}'s stream ended before the answer was complete`);

  const s = err.status;
  if (s === undefined) {
    // An error event inside a stream that had started well.
    if (err.errorType === "overloaded_error") return again(`${Who} is overloaded (mid-stream)`);
    if (err.errorType === "rate_limit_error") return again(`${Who} rate-limited this request (mid-stream)`);
    if (err.errorType === "invalid_request_error") return fail("bad_request", `${Who} refused the request${detail}`);
    if (err.errorType === "authentication_error") {
      return fail("auth", `${Who} rejected the API key: ${keyFix(client)}`);
    }
    return again(`${Who} failed mid-stream (${err.errorType ?? "an error without a type"})`);
  }
  if (s === 429) return again(`${Who} rate-limited this request (429)`);
  if (s === 529 || err.errorType === "overloaded_error") return again(`${Who} is overloaded (${s})`);
  if (s === 408) return again(`${Who} timed out waiting for the request (408)`);
  if (s === 409) return again(`${Who} reported a conflict (409)`);
  if (s >= 500) return again(`${Who} had a server error (${s})`);
  if (s === 401) {
    return fail("auth", `${Who} rejected the API key (401): ${keyFix(client)}`);
  }
  if (s === 403) {
    return fail("forbidden", `${Who} refused this request (403)${detail || ": the API key may not use this model"}`);
  }
  if (s === 404) {
    return fail(
      "model_not_found",
      `model '${model}' not found at ${client.where}${detail ? ` (${err.apiMessage})` : ""}: check the session's model name`,
    );
  }
  return fail("bad_request", `${Who} refused the request (${s})${detail}`);
}

/** Resolves after `ms`, or rejects with the abort reason as soon as `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

export function formatWait(ms: number): string {
  const s = ms / 1000;
  return s < 10 ? `${Math.max(0.1, Math.ceil(s * 10) / 10)} s` : `${Math.round(s)} s`;
}

/** What to do about a rejected key: the runner's variable, or the prompter's own saved key. */
const keyFix = (client: ModelClient) => client.keyFix ?? `set a valid ${client.keyVar} and restart the runner`;
