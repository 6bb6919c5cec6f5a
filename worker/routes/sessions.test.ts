import { beforeAll, describe, expect, it } from "vitest";
import type { Message, Session, SessionDetail, Task, Worktree } from "../../protocol/index.ts";
import { costMicros } from "../../protocol/index.ts";
import { addMember, call, expectError, joinRoom, json, registerUsers, type TestUser } from "../../test/helpers.ts";
import { boardWithRepo, eventually, GIT, openLink, post, runNext, takeSessionTask, testEnv } from "./runner-testkit.ts";

/**
 * Agent sessions at the edge, with this test playing the runner over the real runner API: the
 * queue, one task at a time, events applied once, permissions, stop, fork, spawn and cost. The
 * runner's own side (the agent, real SDKs, real files) is tested in runner/test/sessions*.test.ts.
 */

let owner: TestUser;
let member: TestUser;
let viewer: TestUser;
let stranger: TestUser;
let runner: { id: string; credential: string };
let boardId: string;
let wt: Worktree;

const base = () => `/api/boards/${boardId}/sessions`;
const start = (body: Record<string, unknown>, token = member.token) =>
  call(base(), {
    method: "POST",
    token,
    json: { worktreeId: wt.id, provider: "anthropic", model: "claude-sonnet-4-5", ...body },
  });
const detail = (id: string, token = member.token) => json<SessionDetail>(call(`${base()}/${id}`, { token }));
const messagesOf = async (id: string, token = member.token) =>
  (await json<{ items: Message[] }>(call(`${base()}/${id}/messages`, { token }))).items;

/** Claim the next session task as the runner does, with its context. */
const takeTask = () => takeSessionTask(runner.credential);

const text = (t: string) => [{ type: "text", text: t }];
const assistant = (id: string, t: string, usage = { input: 1000, output: 200, cacheRead: 300, cacheWrite: 50 }) => ({
  kind: "message",
  data: { id, role: "assistant", content: text(t), usage, contextTokens: 1350 },
});

beforeAll(async () => {
  const stage = await boardWithRepo({ path: "/home/ann/code/app", branches: ["main"] });
  ({ owner, member, runner, boardId } = stage);
  [viewer, stranger] = await registerUsers("Viewer", "Stranger");
  await addMember(owner.token, boardId, viewer, "viewer");
  await openLink(runner.credential, {
    version: "0.1.0",
    os: "linux",
    gitVersion: "2.45",
    providers: ["anthropic"],
    agents: [
      { provider: "anthropic", ready: true },
      {
        provider: "openai",
        ready: false,
        // As the runner words it (runner/src/agent/readiness.ts).
        reason: "no OPENAI_API_KEY or OPENAI_BASE_URL: set one and restart the runner",
      },
    ],
  });
  const made = await json<Worktree>(
    call(`/api/boards/${boardId}/worktrees`, {
      method: "POST",
      token: member.token,
      json: { repoId: stage.repo.id, name: "feature", branch: "feature", mode: "new" },
    }),
  );
  await runNext(runner.credential, {
    status: "succeeded",
    result: { path: "/home/ann/wt/feature", git: GIT, createdBranch: true },
  });
  wt = { ...made, status: "ready" };
});

describe("starting a session", () => {
  it("refuses a provider the runner cannot serve, naming the runner and what to set", async () => {
    const err = await expectError(start({ provider: "openai", model: "gpt-5" }), 409, "provider_unavailable");
    expect(err.message).toBe(
      "OpenAI-compatible: runner 'laptop' has no OPENAI_API_KEY or OPENAI_BASE_URL: set one and restart the runner",
    );
    expect((await json<{ items: Session[] }>(call(base(), { token: member.token }))).items).toHaveLength(0);
  });

  it("refuses bad input with the field named, and writes nothing", async () => {
    expect((await expectError(await start({ permissionMode: "yolo" }), 400, "bad_request")).message).toMatch(
      /permissionMode/,
    );
    expect((await expectError(await start({ model: "" }), 400, "bad_request")).message).toMatch(/model/);
    expect(
      (await expectError(await start({ baseUrl: "http://localhost:11434/v1" }), 400, "bad_request")).message,
    ).toMatch(/baseUrl/);
  });

  it("a viewer cannot start one; a stranger cannot see the board's sessions", async () => {
    await expectError(await start({}, viewer.token), 403, "insufficient_role");
    await expectError(await call(base(), { token: stranger.token }), 404, "not_found");
  });
});

describe("a task from prompt to answer", () => {
  it("runs the prompt on the worktree's runner, records its messages and cost, and announces it all", async () => {
    const room = await joinRoom(boardId, { token: owner.token });
    const created = await json<Session>(start({ prompt: "Fix the failing test", title: "Fix tests" }));
    expect(created).toMatchObject({ status: "queued", title: "Fix tests", permissionMode: "ask", queued: 0 });
    await room.inbox.next("entity", (m) => m.entity === "session" && m.op === "created" && m.id === created.id);

    const t = await takeTask();
    expect(t.ctx.session.id).toBe(created.id);
    expect(t.ctx.worktreePath).toBe("/home/ann/wt/feature");
    expect(t.ctx.prompterName).toBe("Member");
    expect(t.ctx.history.map((m) => [m.role, m.content])).toEqual([["user", text("Fix the failing test")]]);
    expect((await detail(created.id)).session.status).toBe("running");

    // Watching the session is what brings its finished messages to a socket.
    room.send({ type: "watch", sessionIds: [created.id] });
    const res = await t.events(assistant("m-1", "Looking."), { kind: "state", data: { nowDoing: "shell: npm test" } });
    expect(res.status).toBe(200);
    const msg = await room.inbox.next("entity", (m) => m.entity === "message" && m.id === "m-1");
    expect(msg.row).toMatchObject({ seq: 2, role: "assistant", sessionId: created.id });
    // A repeated post (its answer was lost) applies nothing twice.
    await post(runner.credential, `/runner/jobs/${t.claim.job.id}/events`, {
      leaseToken: t.claim.leaseToken,
      events: [{ seq: 1, ...assistant("m-1", "Looking.") }],
    });
    await t.events(assistant("m-2", "Fixed it."));
    expect((await t.complete({ status: "succeeded", result: { finalText: "Fixed it." } })).status).toBe(200);

    const d = await detail(created.id);
    const usage = { input: 2000, output: 400, cacheRead: 600, cacheWrite: 100 };
    expect(d.session).toMatchObject({
      status: "completed",
      usage,
      contextTokens: 1350,
      unpriced: false,
      messageCount: 3,
    });
    expect(d.tasks).toHaveLength(1);
    expect(d.tasks[0]).toMatchObject({
      status: "completed",
      usage,
      costMicros: costMicros("anthropic", "claude-sonnet-4-5", usage),
    });
    expect(d.session.costMicros).toBe(d.tasks[0]!.costMicros);
    expect((await messagesOf(created.id)).map((m) => m.seq)).toEqual([1, 2, 3]);
    // It ended once: a rename afterwards changes the row, not when it ended (what a pulse counts from).
    expect(d.session.endedAt).toEqual(expect.any(Number));
    await new Promise((r) => setTimeout(r, 5));
    const renamed = await json<Session>(
      call(`${base()}/${created.id}`, { method: "PATCH", token: member.token, json: { title: "Renamed" } }),
    );
    expect(renamed.endedAt).toBe(d.session.endedAt);
    expect(renamed.updatedAt).toBeGreaterThan(d.session.endedAt!);
    room.ws.close();
  });

  it("a model with no price shows its tokens and no cost", async () => {
    const s = await json<Session>(start({ prompt: "hi", model: "my-finetune" }));
    const t = await takeTask();
    await t.events(assistant("u-1", "hello", { input: 10, output: 5, cacheRead: 0, cacheWrite: 0 }));
    await t.complete({ status: "succeeded", result: { finalText: "hello" } });
    const d = await detail(s.id);
    expect(d.tasks[0]).toMatchObject({ costMicros: null, usage: { input: 10, output: 5 } });
    expect(d.session).toMatchObject({ unpriced: true, costMicros: 0 });
  });
});

describe("queue, stop and permissions", () => {
  let s: Session;
  let t: Awaited<ReturnType<typeof takeTask>>;

  beforeAll(async () => {
    s = await json<Session>(start({ prompt: "first" }));
    t = await takeTask();
  });

  it("a prompt to a busy session waits in the queue, and can be edited or removed until it starts", async () => {
    const q1 = await json<Task>(
      call(`${base()}/${s.id}/prompts`, { method: "POST", token: member.token, json: { text: "second" } }),
    );
    const q2 = await json<Task>(
      call(`${base()}/${s.id}/prompts`, { method: "POST", token: owner.token, json: { text: "third" } }),
    );
    expect(q1).toMatchObject({ status: "queued", authorName: "Member", jobId: null });
    expect((await detail(s.id)).session.queued).toBe(2);
    const edited = await json<Task>(
      call(`${base()}/${s.id}/tasks/${q1.id}`, {
        method: "PATCH",
        token: owner.token,
        json: { prompt: "second, edited" },
      }),
    );
    expect(edited.prompt).toBe("second, edited");
    expect((await call(`${base()}/${s.id}/tasks/${q2.id}`, { method: "DELETE", token: member.token })).status).toBe(
      204,
    );
    expect((await detail(s.id)).session.queued).toBe(1);
    await expectError(
      await call(`${base()}/${s.id}/tasks/${t.ctx.task.id}`, {
        method: "PATCH",
        token: member.token,
        json: { prompt: "x" },
      }),
      409,
      "task_not_queued",
    );
  });

  it("a permission request waits for any member; a viewer cannot answer; the first answer wins and is recorded", async () => {
    await t.events({
      kind: "permission",
      data: { requestId: "r1", callId: "c1", tool: "shell", summary: "run `npm test`", command: "npm test" },
    });
    const waiting = (await detail(s.id, viewer.token)).session;
    expect(waiting.status).toBe("awaiting_permission");
    expect(waiting.pending).toMatchObject([
      { requestId: "r1", tool: "shell", command: "npm test", taskId: t.ctx.task.id },
    ]);

    const link = await openLink(runner.credential);
    const decide = (token: string, body: Record<string, unknown>) =>
      call(`${base()}/${s.id}/permissions/r1`, { method: "POST", token, json: body });
    await expectError(await decide(viewer.token, { decision: "allow" }), 403, "insufficient_role");
    const after = await json<Session>(decide(owner.token, { decision: "allow_always" }));
    expect(after).toMatchObject({
      status: "running",
      pending: [],
      allowedTools: ["shell"],
      allowedBy: { shell: "Owner" },
    });
    const frame = await link.next((m) => m.type === "permission");
    expect(frame).toMatchObject({ jobId: t.claim.job.id, requestId: "r1", decision: "allow_always", byName: "Owner" });
    await expectError(await decide(member.token, { decision: "deny" }), 404, "not_found");
    // A runner whose link was down when the answer went out asks for it once it is back.
    const kept = await json<{ decisions: Record<string, { decision: string; byName: string }> }>(
      post(runner.credential, `/runner/jobs/${t.claim.job.id}/decisions`, { leaseToken: t.claim.leaseToken }),
    );
    expect(kept.decisions.r1).toMatchObject({ decision: "allow_always", byName: "Owner" });
    link.ws.close();
  });

  it("the mode of a running session changes at once, and reaches its runner", async () => {
    const link = await openLink(runner.credential);
    const patched = await json<Session>(
      call(`${base()}/${s.id}`, { method: "PATCH", token: member.token, json: { permissionMode: "full" } }),
    );
    expect(patched.permissionMode).toBe("full");
    expect(await link.next((m) => m.type === "mode")).toMatchObject({ jobId: t.claim.job.id, permissionMode: "full" });
    link.ws.close();
  });

  it("stop reaches the runner; the task ends stopped with who stopped it, and the queued prompt runs next", async () => {
    await expectError(
      await call(`${base()}/${s.id}/stop`, { method: "POST", token: viewer.token }),
      403,
      "insufficient_role",
    );
    const link = await openLink(runner.credential);
    expect((await call(`${base()}/${s.id}/stop`, { method: "POST", token: member.token })).status).toBe(200);
    expect(await link.next((m) => m.type === "cancel")).toMatchObject({ jobId: t.claim.job.id });
    link.ws.close();
    await t.complete({ status: "cancelled" });
    const d = await eventually(async () => {
      const x = await detail(s.id);
      return x.tasks[0]?.status === "stopped" && x.session.status === "queued" && x;
    });
    expect(d.tasks[0]).toMatchObject({ stoppedBy: "Member" });
    const msgs = await messagesOf(s.id);
    expect(msgs.find((m) => m.role === "system")?.content).toEqual([
      { type: "notice", kind: "stopped", text: "Stopped by Member." },
    ]);
    const next = await takeTask();
    expect(next.ctx.task.prompt).toBe("second, edited");
    expect(next.ctx.history.at(-1)?.content).toEqual(text("second, edited"));
    await next.complete({ status: "succeeded", result: { finalText: "done" } });
  });

  it("a task whose runner was lost fails with the reason, and the session takes the next prompt", async () => {
    await call(`${base()}/${s.id}/prompts`, { method: "POST", token: member.token, json: { text: "will be lost" } });
    const lost = await takeTask();
    await testEnv.DB.prepare("update jobs set lease_expires_at = 1 where id = ?").bind(lost.claim.job.id).run();
    const { sweepExpiredLeases } = await import("../services/jobs.ts");
    const { depsFor } = await import("../context.ts");
    await sweepExpiredLeases(
      { ...depsFor(testEnv), actor: { kind: "runner", runnerId: runner.id, ownerId: owner.id } },
      runner.id,
    );
    const d = await detail(s.id);
    expect(d.session.status).toBe("failed");
    expect(d.tasks.at(-1)).toMatchObject({ status: "failed", error: "runner lost" });
    expect((await messagesOf(s.id)).at(-1)?.content[0]).toMatchObject({
      kind: "error",
      text: expect.stringMatching(/runner went away/),
    });
    await call(`${base()}/${s.id}/prompts`, { method: "POST", token: member.token, json: { text: "go on" } });
    const again = await takeTask();
    expect(again.ctx.history.map((m) => m.role)).toContain("system");
    expect(again.ctx.history.at(-1)?.content).toEqual(text("go on"));
    await again.complete({ status: "succeeded", result: { finalText: "ok" } });
  });
});

describe("fork and spawn", () => {
  it("a fork at message k holds exactly the first k messages, and remembers where it came from", async () => {
    const s = await json<Session>(start({ prompt: "one" }));
    const t = await takeTask();
    await t.events(assistant("f-2", "two"), assistant("f-3", "three"), assistant("f-4", "four"));
    await t.complete({ status: "succeeded", result: { finalText: "four" } });
    const msgs = await messagesOf(s.id);
    const at = msgs[2]!;
    const fork = await json<Session>(
      call(`${base()}/${s.id}/fork`, { method: "POST", token: member.token, json: { messageId: at.id } }),
    );
    expect(fork).toMatchObject({
      parentId: s.id,
      origin: "fork",
      forkedFromMessageId: at.id,
      status: "idle",
      messageCount: 3,
    });
    const copied = await messagesOf(fork.id);
    expect(copied.map((m) => [m.seq, m.content])).toEqual(msgs.slice(0, 3).map((m) => [m.seq, m.content]));
    await expectError(
      await call(`${base()}/${s.id}/fork`, { method: "POST", token: viewer.token, json: { messageId: at.id } }),
      403,
      "insufficient_role",
    );
  });

  it("a fork into a new worktree makes its card; its first prompt waits until the runner has made it", async () => {
    const s = await json<Session>(start({ prompt: "one" }));
    const t = await takeTask();
    await t.events(assistant("nw-2", "two"));
    await t.complete({ status: "succeeded", result: { finalText: "two" } });
    const at = (await messagesOf(s.id))[1]!;
    const forkTo = (newWorktree: Record<string, unknown>, token = member.token) =>
      call(`${base()}/${s.id}/fork`, { method: "POST", token, json: { messageId: at.id, newWorktree } });
    const cards = async () =>
      (await json<{ items: Worktree[] }>(call(`/api/boards/${boardId}/worktrees`, { token: member.token }))).items;
    const before = (await cards()).length;

    // Refused before anything is made: a viewer, a bad name (the field named), both targets at once.
    await expectError(await forkTo({ name: "fork-a" }, viewer.token), 403, "insufficient_role");
    expect((await expectError(await forkTo({ name: "../up" }), 400, "bad_request")).message).toMatch(
      /newWorktree\.name/,
    );
    const both = call(`${base()}/${s.id}/fork`, {
      method: "POST",
      token: member.token,
      json: { messageId: at.id, worktreeId: wt.id, newWorktree: { name: "fork-a" } },
    });
    expect((await expectError(await both, 400, "bad_request")).message).toMatch(/newWorktree/);
    expect(await cards()).toHaveLength(before);

    const room = await joinRoom(boardId, { token: owner.token });
    const fork = await json<Session>(forkTo({ name: "fork-a" }));
    const card = (await cards()).find((c) => c.id === fork.worktreeId)!;
    // A new branch named like the card, from the source worktree's branch, on the same runner and repo.
    expect(card).toMatchObject({
      name: "fork-a",
      branch: "fork-a",
      baseBranch: "feature",
      status: "creating",
      runnerId: wt.runnerId,
      repoId: wt.repoId,
    });
    await room.inbox.next("entity", (m) => m.entity === "worktree" && m.op === "created" && m.id === card.id);
    expect(fork).toMatchObject({ parentId: s.id, origin: "fork", messageCount: 2, status: "idle" });

    // Prompted while the card is being made: the prompt queues, and no task goes to the runner yet.
    const queued = await json<Task>(
      call(`${base()}/${fork.id}/prompts`, { method: "POST", token: member.token, json: { text: "go on there" } }),
    );
    expect(queued).toMatchObject({ status: "queued", jobId: null });
    const made = await runNext(runner.credential, {
      status: "succeeded",
      result: { path: "/home/ann/wt/fork-a", git: GIT, createdBranch: true },
    });
    expect(made.claim.job).toMatchObject({ type: "worktree.create" });
    expect(made.claim.job.payload).toMatchObject({ name: "fork-a", mode: "new", baseBranch: "feature" });

    // Ready: the waiting prompt runs there, with the forked history.
    const ft = await takeTask();
    expect(ft.ctx.session.id).toBe(fork.id);
    expect(ft.ctx.worktreePath).toBe("/home/ann/wt/fork-a");
    expect(ft.ctx.history.map((m) => m.content)).toEqual([text("one"), text("two"), text("go on there")]);
    await ft.complete({ status: "succeeded", result: { finalText: "ok" } });

    // A card the runner cannot make fails the prompt waiting for it, saying why.
    const broken = await json<Session>(forkTo({ name: "fork-b" }));
    const waiting = await json<Task>(
      call(`${base()}/${broken.id}/prompts`, { method: "POST", token: member.token, json: { text: "hello?" } }),
    );
    await runNext(runner.credential, { status: "failed", error: "fatal: disk full" });
    const d = await detail(broken.id);
    expect(d.tasks.find((x) => x.id === waiting.id)).toMatchObject({ status: "failed" });
    expect(d.tasks.find((x) => x.id === waiting.id)!.error).toBe(
      'The worktree "fork-b" could not be created, so this prompt was not sent: fatal: disk full',
    );
    expect(d.session).toMatchObject({ status: "failed", queued: 0 });
  });

  it("a spawned child runs on its own, and its answer comes back to the parent as its next prompt", async () => {
    const parent = await json<Session>(start({ prompt: "plan" }));
    const pt = await takeTask();
    // The agent spawns a child through its tool: the edge creates it with the runner's id for it.
    const childId = crypto.randomUUID();
    await pt.events({ kind: "spawn", data: { sessionId: childId, prompt: "write the docs", title: "Docs" } });
    await pt.complete({ status: "succeeded", result: { finalText: "waiting for the docs" } });
    const child = (await detail(childId)).session;
    expect(child).toMatchObject({ parentId: parent.id, origin: "spawn", title: "Docs", status: "queued" });

    const ct = await takeTask();
    expect(ct.ctx.session.id).toBe(childId);
    await ct.complete({ status: "succeeded", result: { finalText: "Docs written in README.md" } });
    const back = await takeTask();
    expect(back.ctx.session.id).toBe(parent.id);
    expect(back.ctx.history.at(-1)).toMatchObject({
      role: "user",
      fromSessionId: childId,
      content: text("Docs written in README.md"),
    });
    await back.complete({ status: "succeeded", result: { finalText: "thanks" } });
  });
});

describe("what a non-member sees", () => {
  it("nothing of a session: not over REST, not its messages, not its stream", async () => {
    const s = await json<Session>(start({}));
    await expectError(await call(`${base()}/${s.id}`, { token: stranger.token }), 404, "not_found");
    await expectError(await call(`${base()}/${s.id}/messages`, { token: stranger.token }), 404, "not_found");
    await expectError(
      await call(`${base()}/${s.id}/prompts`, { method: "POST", token: stranger.token, json: { text: "hi" } }),
      404,
      "not_found",
    );
    await expectError(
      await call(`${base()}/${s.id}/stop`, { method: "POST", token: stranger.token }),
      404,
      "not_found",
    );
  });
});
