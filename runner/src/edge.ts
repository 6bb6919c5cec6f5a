import type { z } from "zod";
import {
  type CompleteJobBody,
  ErrorBody,
  type GitReport,
  GitReportResult,
  HeartbeatResult,
  Job,
  JobClaim,
  RegisterRunnerResult,
  Runner,
  type RunnerInfo,
  type RunnerWorktree,
  RunnerWorktrees,
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

/** 401 on the runner API: the credential is unknown or revoked. Retrying will not help. */
export const isRefused = (err: unknown) => err instanceof EdgeError && err.status === 401;
/** 409: the lease is stale, the job belongs to another claim now or has ended. */
export const isStaleLease = (err: unknown) => err instanceof EdgeError && (err.status === 409 || err.status === 404);
/** Worth retrying: the edge was unreachable or had a bad moment. */
export const isTransient = (err: unknown) =>
  !(err instanceof EdgeError) || err.status >= 500 || err.status === 429 || err.status === 408;

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
    u.searchParams.set("info", JSON.stringify(info));
    return { url: u.toString(), headers: { authorization: `Bearer ${this.credential}` } };
  }

  async me(): Promise<Runner> {
    return (await this.call("GET", "/runner/me", Runner))!;
  }

  claim(): Promise<JobClaim | null> {
    return this.call("POST", "/runner/jobs/claim", JobClaim);
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

  async complete(jobId: string, body: z.input<typeof CompleteJobBody>): Promise<void> {
    await this.call("POST", `/runner/jobs/${encodeURIComponent(jobId)}/complete`, Job, body);
  }
}
