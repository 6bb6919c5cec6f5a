import type { z } from "zod";
import {
  type CompleteJobBody,
  ErrorBody,
  type ErrorCode,
  type GitReport,
  GitReportResult,
  HeartbeatResult,
  Job,
  JobClaim,
  type JobEventsBody,
  JobEventsResult,
  LINK_INFO_PARAM,
  LINK_PROTOCOL,
  LINK_VERSION_PARAM,
  RegisterRunnerResult,
  Runner,
  type RunnerInfo,
  type RunnerWorktree,
  RunnerWorktrees,
  TaskContext,
  TaskDecisions,
} from "../../protocol/index.ts";

/** The edge answered with an error: `status` and `code` say which, the message is the edge's own. */
export class EdgeError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = "EdgeError";
    this.status = status;
    this.code = code;
  }
}

/**
 * How the runner reads the edge's answers: by error code (`protocol/errors.ts`), never by status,
 * so a 409 that means "post your events in order" is not mistaken for a lost lease.
 */
const has = (err: unknown, codes: readonly string[]): err is EdgeError =>
  err instanceof EdgeError && codes.includes(err.code);

/** The credential is unknown or revoked. Retrying will not help. */
export const isRefused = (err: unknown): err is EdgeError =>
  has(err, ["invalid_credential", "wrong_credential", "unauthorized"] satisfies ErrorCode[]);
/** The lease is stale: the job belongs to another claim now, or has ended, or is gone. */
export const isStaleLease = (err: unknown): err is EdgeError =>
  has(err, ["stale_lease", "not_found"] satisfies ErrorCode[]);
/** The edge will not take this result as it stands (it does not match the job type's schema). */
export const isBadResult = (err: unknown): err is EdgeError =>
  has(err, ["invalid_result", "bad_request"] satisfies ErrorCode[]);
/**
 * Worth retrying: the edge was unreachable, had a bad moment, asked us to slow down, or saw two of
 * our own writes cross (`concurrent_events`). Answers that are not our JSON (a proxy's 502 page)
 * count as a bad moment.
 */
export const isTransient = (err: unknown) =>
  !(err instanceof EdgeError) ||
  has(err, ["internal", "rate_limited", "concurrent_events", "bad_response", "http_error"] as const);

const REQUEST_TIMEOUT_MS = 15_000;

async function request<T>(
  url: string,
  init: { method: string; credential?: string; body?: unknown; schema: z.ZodType<T> },
): Promise<T | null> {
  const res = await fetch(url, {
    method: init.method,
    headers: {
      ...(init.credential ? { authorization: `Bearer ${init.credential}` } : {}),
      ...(init.body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  if (res.status === 204) return null;
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new EdgeError(
      res.status,
      "bad_response",
      `${init.method} ${url} answered ${res.status}: ${text.slice(0, 200)}`,
    );
  }
  if (!res.ok) {
    const err = ErrorBody.safeParse(json);
    if (err.success) throw new EdgeError(res.status, err.data.error.code, err.data.error.message);
    throw new EdgeError(res.status, "http_error", `${init.method} ${url} answered ${res.status}`);
  }
  return init.schema.parse(json);
}

/** Turn a user-typed URL into the edge's origin (`http://host:port`, no trailing slash). */
export function normalizeUrl(input: string): string {
  let u: URL;
  try {
    u = new URL(input);
  } catch {
    throw new Error(`not a URL: ${input} (expected something like https://trellis.example.com)`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error(`not an http(s) URL: ${input}`);
  return u.origin;
}

export async function register(url: string, body: { token: string; name?: string; info: RunnerInfo }) {
  const r = await request(`${url}/runner/register`, { method: "POST", body, schema: RegisterRunnerResult });
  return r!;
}

/** The runner API for one credential. */
export class Edge {
  readonly url: string;
  private readonly credential: string;

  constructor(url: string, credential: string) {
    this.url = url;
    this.credential = credential;
  }

  private call<T>(method: string, path: string, schema: z.ZodType<T>, body?: unknown) {
    return request(`${this.url}${path}`, { method, credential: this.credential, body, schema });
  }

  /** The WebSocket URL and headers for the link (the credential goes in a header, never the URL). */
  link(info: RunnerInfo): { url: string; headers: Record<string, string> } {
    const u = new URL("/runner/link", this.url);
    u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
    u.searchParams.set(LINK_INFO_PARAM, JSON.stringify(info));
    u.searchParams.set(LINK_VERSION_PARAM, String(LINK_PROTOCOL));
    return { url: u.toString(), headers: { authorization: `Bearer ${this.credential}` } };
  }

  async me(): Promise<Runner> {
    return (await this.call("GET", "/runner/me", Runner))!;
  }

  /** The oldest queued job of one of `types` (the ones this runner can run), or null. */
  claim(types: readonly string[]): Promise<JobClaim | null> {
    return this.call("POST", "/runner/jobs/claim", JobClaim, { types });
  }

  async start(jobId: string, leaseToken: string) {
    return (await this.call("POST", `/runner/jobs/${encodeURIComponent(jobId)}/start`, HeartbeatResult, {
      leaseToken,
    }))!;
  }

  async heartbeat(jobId: string, leaseToken: string) {
    return (await this.call("POST", `/runner/jobs/${encodeURIComponent(jobId)}/heartbeat`, HeartbeatResult, {
      leaseToken,
    }))!;
  }

  /** This runner's cards that should be on disk, for the watcher. */
  async worktrees(): Promise<RunnerWorktree[]> {
    return (await this.call("GET", "/runner/worktrees", RunnerWorktrees))!.items;
  }

  /** Git state the watcher saw change. */
  async reportGit(report: GitReport): Promise<void> {
    await this.call("POST", "/runner/git", GitReportResult, report);
  }

  /** A session task's config, prompt and whole history, from D1. */
  async taskContext(jobId: string, leaseToken: string): Promise<TaskContext> {
    return (await this.call("POST", `/runner/jobs/${encodeURIComponent(jobId)}/session`, TaskContext, {
      leaseToken,
    }))!;
  }

  /** Answers given to a session task's permission requests (after a link reconnect). */
  async taskDecisions(jobId: string, leaseToken: string): Promise<TaskDecisions> {
    return (await this.call("POST", `/runner/jobs/${encodeURIComponent(jobId)}/decisions`, TaskDecisions, {
      leaseToken,
    }))!;
  }

  /** Progress events of a job, in seq order; a repeat is skipped by the edge. */
  async events(jobId: string, body: z.input<typeof JobEventsBody>): Promise<JobEventsResult> {
    return (await this.call("POST", `/runner/jobs/${encodeURIComponent(jobId)}/events`, JobEventsResult, body))!;
  }

  async complete(jobId: string, body: z.input<typeof CompleteJobBody>): Promise<void> {
    await this.call("POST", `/runner/jobs/${encodeURIComponent(jobId)}/complete`, Job, body);
  }
}
