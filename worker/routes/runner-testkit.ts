/**
 * Test helpers for the runner tests: they play the runner's side over real HTTP and a real link
 * socket, through the real Worker entry. Imported only by `*.test.ts`.
 */
import type { GitState, JobClaim, LinkMessage, Repo, RunnerInfo, TaskContext } from "../../protocol/index.ts";
import { addMember, call, createBoard, json, registerUsers, testEnv } from "../../test/helpers.ts";

/** The runner link of a runner, for tests that drive its alarm. */
export { getRunnerLink } from "../../party/stubs.ts";
export { testEnv };

export const INFO: RunnerInfo = { version: "0.1.0", os: "linux x64", gitVersion: "2.45.2", providers: ["anthropic"] };

export async function addRunner(userToken: string, name = "laptop") {
  const res = await call("/api/runners", { method: "POST", token: userToken, json: { name } });
  if (res.status !== 201) throw new Error(`add runner: ${res.status} ${await res.text()}`);
  return res.json<{ runner: { id: string }; registrationToken: string; expiresAt: number; command: string }>();
}

/** A registered runner: its id and credential. */
export async function registerRunner(userToken: string, name = "laptop") {
  const { registrationToken } = await addRunner(userToken, name);
  const res = await call("/runner/register", { method: "POST", json: { token: registrationToken, info: INFO } });
  if (res.status !== 201) throw new Error(`register: ${res.status} ${await res.text()}`);
  const r = await res.json<{ runnerId: string; credential: string }>();
  return { id: r.runnerId, credential: r.credential };
}

export function post(credential: string, path: string, body: unknown = {}) {
  return call(path, { method: "POST", token: credential, json: body });
}

export async function claim(credential: string): Promise<JobClaim> {
  const res = await post(credential, "/runner/jobs/claim");
  if (res.status !== 200) throw new Error(`claim: ${res.status} ${await res.text()}`);
  return res.json<JobClaim>();
}

/** Claim the next job, start it and complete it with `outcome`, as a runner does. */
export async function runNext(credential: string, outcome: Record<string, unknown>) {
  const c = await claim(credential);
  const started = await post(credential, `/runner/jobs/${c.job.id}/start`, { leaseToken: c.leaseToken });
  if (started.status !== 200) throw new Error(`start: ${started.status} ${await started.text()}`);
  const done = await post(credential, `/runner/jobs/${c.job.id}/complete`, { leaseToken: c.leaseToken, ...outcome });
  if (done.status !== 200) throw new Error(`complete: ${done.status} ${await done.text()}`);
  return { claim: c, job: await done.json<{ status: string }>() };
}

export async function openLink(credential: string, info: RunnerInfo | null = INFO) {
  const q = info ? `?info=${encodeURIComponent(JSON.stringify(info))}` : "";
  const res = await call(`/runner/link${q}`, { token: credential, headers: { upgrade: "websocket" } });
  const ws = res.webSocket;
  if (!ws) throw new Error(`link: ${res.status} ${await res.text()}`);
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.addEventListener("close", (e) => resolve({ code: e.code, reason: e.reason })),
  );
  const messages: LinkMessage[] = [];
  ws.addEventListener("message", (e) => {
    // Everything the link sends is JSON except the platform's `pong`.
    if (e.data !== "pong") messages.push(JSON.parse(String(e.data)));
  });
  ws.accept();
  const next = (pred: (m: LinkMessage) => boolean, after = 0) =>
    eventually(async () => messages.slice(after).find(pred), 3000);
  return { ws, messages, next, closed };
}

export const runnerRow = (userToken: string, runnerId: string) =>
  json<{ items: Array<{ id: string; status: string; info: Partial<RunnerInfo> }> }>(
    call("/api/runners", { token: userToken }),
  ).then((r) => r.items.find((x) => x.id === runnerId));

/** Wait until `check` passes, polling briefly: for effects that land after a socket event. */
export async function eventually<T>(check: () => Promise<T | undefined | false>, timeoutMs = 2000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Git state a runner might report for a fresh worktree. */
export const GIT: GitState = { head: "abc1234", ahead: 0, behind: 0, changedFiles: 0, refreshedAt: 1 };

/**
 * The usual stage for worktree tests: an owner and a member on a board, the owner's runner shared
 * with it, and a repo the owner added by path, which the runner reported ready with `branches`.
 */
export async function boardWithRepo(opts: { path: string; branches: string[] }) {
  const [owner, member] = await registerUsers("Owner", "Member");
  const runner = await registerRunner(owner.token);
  const boardId = (await createBoard(owner.token)).id;
  await addMember(owner.token, boardId, member, "member");
  await call(`/api/runners/${runner.id}/boards`, { method: "POST", token: owner.token, json: { boardId } });
  const repo = await json<Repo>(
    call(`/api/runners/${runner.id}/repos`, {
      method: "POST",
      token: owner.token,
      json: { source: { kind: "path", path: opts.path } },
    }),
  );
  await runNext(runner.credential, {
    status: "succeeded",
    result: { path: opts.path, defaultBranch: "main", branches: opts.branches },
  });
  return { owner, member, runner, boardId, repo };
}

/** Claim the next job as a session task, start it and fetch its context, as the runner does. */
export async function takeSessionTask(credential: string) {
  const c: JobClaim = await claim(credential);
  if (c.job.type !== "session.task") throw new Error(`expected a session task, got ${c.job.type}`);
  const started = await post(credential, `/runner/jobs/${c.job.id}/start`, { leaseToken: c.leaseToken });
  if (started.status !== 200) throw new Error(`start failed: ${started.status} ${await started.text()}`);
  const ctx = await json<TaskContext>(
    post(credential, `/runner/jobs/${c.job.id}/session`, { leaseToken: c.leaseToken }),
  );
  let seq = 0;
  const events = (...evs: { kind: string; data: Record<string, unknown> }[]) =>
    post(credential, `/runner/jobs/${c.job.id}/events`, {
      leaseToken: c.leaseToken,
      events: evs.map((e) => ({ seq: ++seq, ...e })),
    });
  const complete = (outcome: Record<string, unknown>) =>
    post(credential, `/runner/jobs/${c.job.id}/complete`, { leaseToken: c.leaseToken, ...outcome });
  return { claim: c, ctx, events, complete };
}
