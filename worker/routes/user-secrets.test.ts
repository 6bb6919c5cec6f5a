import { beforeAll, describe, expect, it } from "vitest";
import type { Session, SessionDetail, TaskContext, UserSecret, Worktree } from "../../protocol/index.ts";
import { addMember, call, expectError, joinRoom, json, registerUsers, type TestUser } from "../../test/helpers.ts";
import { depsFor } from "../context.ts";
import { rotateSecrets } from "../services/user-secrets.ts";
import {
  boardWithRepo,
  claim,
  GIT,
  openLink,
  post,
  registerRunner,
  runNext,
  takeSessionTask,
  testEnv,
} from "./runner-testkit.ts";

/**
 * A person's keys and environment variables: sealed in D1, never read back over REST, and
 * released only inside the context of a task they prompted, to the runner holding its lease.
 * What the runner does with them (the model client, the shell) is runner/test/user-keys.test.ts.
 */

const ANTHROPIC_KEY = "sk-ant-member-secret-0001-WXYZ";
const COMPAT_KEY = "local-server-key-9876";
const TOKEN_VALUE = "ghp_member_token_value_4321";

let owner: TestUser;
let member: TestUser;
let viewer: TestUser;
let stranger: TestUser;
let runner: { id: string; credential: string };
let boardId: string;
let wt: Worktree;

const secrets = (token: string) => call("/api/me/secrets", { token });
const putKey = (token: string, provider: string, body: Record<string, unknown>) =>
  call(`/api/me/secrets/keys/${provider}`, { method: "PUT", token, json: body });
const putEnv = (token: string, name: string, value: string) =>
  call(`/api/me/secrets/env/${name}`, { method: "PUT", token, json: { value } });
const start = (token: string, body: Record<string, unknown> = {}) =>
  json<Session>(
    call(`/api/boards/${boardId}/sessions`, {
      method: "POST",
      token,
      json: { worktreeId: wt.id, provider: "anthropic", model: "claude-sonnet-4-5", prompt: "go", ...body },
    }),
  );
const rowsOf = (userId: string) =>
  testEnv.DB.prepare("select * from user_secrets where user_id = ? order by name")
    .bind(userId)
    .all<Record<string, unknown>>()
    .then((r) => r.results);

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
  await runNext(runner.credential, { status: "succeeded", result: { path: "/home/ann/wt/feature", git: GIT } });
  wt = { ...made, status: "ready" };
});

describe("saving keys and variables", () => {
  it("answers with the name and last four only, and lists the same", async () => {
    const saved = await json<UserSecret>(putKey(member.token, "anthropic", { apiKey: ANTHROPIC_KEY }));
    expect(saved).toMatchObject({ kind: "key", name: "anthropic", last4: "WXYZ", baseUrl: null });
    await json(
      putKey(member.token, "openai-compatible", { apiKey: COMPAT_KEY, baseUrl: "http://127.0.0.1:11434/v1/" }),
    );
    await json(putEnv(member.token, "GITHUB_TOKEN", TOKEN_VALUE));
    await json(putEnv(member.token, "SHORT", "abc"));
    const res = await secrets(member.token);
    const text = await res.text();
    expect(res.status).toBe(200);
    for (const v of [ANTHROPIC_KEY, COMPAT_KEY, TOKEN_VALUE]) expect(text).not.toContain(v);
    const { items } = JSON.parse(text) as { items: UserSecret[] };
    expect(items.map((s) => [s.kind, s.name, s.last4, s.baseUrl])).toEqual([
      ["env", "GITHUB_TOKEN", "4321", null],
      ["env", "SHORT", null, null],
      ["key", "anthropic", "WXYZ", null],
      ["key", "openai-compatible", "9876", "http://127.0.0.1:11434/v1"],
    ]);
  });

  it("keeps only ciphertext in D1, sealed with the current key version", async () => {
    const rows = await rowsOf(member.id);
    expect(rows).toHaveLength(4);
    const dump = JSON.stringify(rows);
    for (const v of [ANTHROPIC_KEY, COMPAT_KEY, TOKEN_VALUE, "abc"]) expect(dump).not.toContain(`"${v}"`);
    for (const v of [ANTHROPIC_KEY, COMPAT_KEY, TOKEN_VALUE]) expect(dump).not.toContain(v.slice(0, 12));
    for (const r of rows) {
      expect(r.sealed).toMatch(/^v1\.[\w-]+\.[\w-]+$/);
      expect(r.key_version).toBe(1);
    }
  });

  it("replacing a key keeps one row with the new value's last four", async () => {
    await json(putKey(member.token, "anthropic", { apiKey: `${ANTHROPIC_KEY}-NEW1` }));
    const rows = (await rowsOf(member.id)).filter((r) => r.name === "anthropic");
    expect(rows.map((r) => r.last4)).toEqual(["NEW1"]);
    await json(putKey(member.token, "anthropic", { apiKey: ANTHROPIC_KEY }));
  });

  it("another person sees none of them and cannot delete them", async () => {
    for (const u of [owner, viewer, stranger]) {
      expect((await json<{ items: UserSecret[] }>(secrets(u.token))).items).toEqual([]);
    }
    await expectError(call("/api/me/secrets/keys/anthropic", { method: "DELETE", token: stranger.token }), 404);
    await expectError(call("/api/me/secrets/env/GITHUB_TOKEN", { method: "DELETE", token: viewer.token }), 404);
    expect(await rowsOf(member.id)).toHaveLength(4);
  });

  it("refuses bad input with the field named, and writes nothing", async () => {
    const cases: [Promise<Response>, RegExp][] = [
      [putEnv(member.token, "github_token", "x"), /name: must be capital letters/],
      [putEnv(member.token, "9LIVES", "x"), /name:/],
      [putEnv(member.token, "PATH", "/tmp/evil"), /name: PATH is reserved/],
      [putEnv(member.token, "LD_PRELOAD", "/tmp/evil.so"), /name: LD_PRELOAD is reserved/],
      [putEnv(member.token, "NODE_OPTIONS", "--require /tmp/x"), /name: NODE_OPTIONS is reserved/],
      [putEnv(member.token, "TRELLIS_RUNNER_CREDENTIAL", "x"), /name: TRELLIS_RUNNER_CREDENTIAL is reserved/],
      [putEnv(member.token, "EMPTY", ""), /value: must not be empty/],
      [putKey(member.token, "mistral", { apiKey: "k" }), /provider/],
      [putKey(member.token, "anthropic", { apiKey: "" }), /apiKey: must not be empty/],
      [putKey(member.token, "anthropic", {}), /apiKey: must not be empty/],
      [putKey(member.token, "anthropic", { apiKey: "two words" }), /apiKey: must not contain spaces/],
      [putKey(member.token, "openai", { apiKey: "sk-1234567890", baseUrl: "http://x.test" }), /baseUrl: only/],
      [putKey(member.token, "openai-compatible", { apiKey: "k" }), /baseUrl: an OpenAI-compatible server needs/],
      [putKey(member.token, "openai-compatible", { baseUrl: "file:///etc/passwd" }), /baseUrl: must be an http/],
    ];
    for (const [res, message] of cases) {
      expect((await expectError(res, 400, "bad_request")).message).toMatch(message);
    }
    expect(await rowsOf(member.id)).toHaveLength(4);
  });
});

describe("releasing them to a task's runner", () => {
  let ctx: TaskContext;
  let claimed: Awaited<ReturnType<typeof takeSessionTask>>;
  let session: Session;

  beforeAll(async () => {
    session = await start(member.token);
    claimed = await takeSessionTask(runner.credential);
    ctx = claimed.ctx;
  });

  it("the runner holding the task's lease gets the prompter's key and variables, and the task says so", async () => {
    expect(ctx.session.id).toBe(session.id);
    expect(ctx.secrets).toEqual({
      keySource: "user",
      model: { apiKey: ANTHROPIC_KEY, baseUrl: null },
      env: { GITHUB_TOKEN: TOKEN_VALUE, SHORT: "abc" },
    });
    expect(ctx.task.keySource).toBe("user");
    const d = await json<SessionDetail>(call(`/api/boards/${boardId}/sessions/${session.id}`, { token: owner.token }));
    expect(d.tasks[0]!.keySource).toBe("user");
    // The session's REST view, seen by anyone on the board, carries no secret.
    expect(JSON.stringify(d)).not.toContain(ANTHROPIC_KEY);
  });

  it("the agent's session token cannot list or replace its user's secrets", async () => {
    await expectError(secrets(ctx.mcp.token), 403, "wrong_credential");
    await expectError(putKey(ctx.mcp.token, "anthropic", { apiKey: "sk-ant-hijack-1234" }), 403, "wrong_credential");
  });

  it("no other runner, and no one without the lease, can read the context", async () => {
    const jobId = claimed.claim.job.id;
    const otherRunner = await registerRunner(stranger.token, "elsewhere");
    // Nor another runner serving the same board, even one of the board owner's.
    const sameBoard = await registerRunner(owner.token, "second laptop");
    await json(call(`/api/runners/${sameBoard.id}/boards`, { method: "POST", token: owner.token, json: { boardId } }));
    for (const other of [otherRunner, sameBoard]) {
      await expectError(
        post(other.credential, `/runner/jobs/${jobId}/session`, { leaseToken: claimed.claim.leaseToken }),
        404,
      );
      await expectError(
        post(other.credential, `/runner/jobs/${jobId}/decisions`, { leaseToken: claimed.claim.leaseToken }),
        404,
      );
    }
    await expectError(post(runner.credential, `/runner/jobs/${jobId}/session`, { leaseToken: "not-the-lease" }), 404);
    // A person's credential is not a runner's.
    await expectError(
      post(member.token, `/runner/jobs/${jobId}/session`, { leaseToken: claimed.claim.leaseToken }),
      401,
    );
    expect((await claimed.complete({ status: "succeeded", result: { finalText: "done" } })).status).toBe(200);
    // Once the task is over, its lease opens nothing either.
    await expectError(
      post(runner.credential, `/runner/jobs/${jobId}/session`, { leaseToken: claimed.claim.leaseToken }),
      404,
    );
  });

  it("a viewer's board socket and session views carry no key or variable while the prompter's task runs", async () => {
    const room = await joinRoom(boardId, { token: viewer.token });
    room.send({ type: "watch", sessionIds: [session.id] });
    await json(
      call(`/api/boards/${boardId}/sessions/${session.id}/prompts`, {
        method: "POST",
        token: member.token,
        json: { text: "member's second turn" },
      }),
    );
    const t = await takeSessionTask(runner.credential);
    expect(t.ctx.secrets?.model?.apiKey).toBe(ANTHROPIC_KEY);
    const said = {
      id: "0190aaaa-0000-7000-8000-00000000beef",
      role: "assistant",
      content: [{ type: "text", text: "ok" }],
    };
    expect(
      (await t.events({ kind: "message", data: said }, { kind: "state", data: { nowDoing: "working" } })).status,
    ).toBe(200);
    // What a task's key becomes on the board: its source, never its value.
    const entity = await room.inbox.next(
      "entity",
      (e) => e.entity === "task" && (e.row as { keySource?: string } | null)?.keySource === "user",
    );
    expect(entity).toBeTruthy();
    await room.inbox.next("entity", (e) => e.entity === "message");
    await t.complete({ status: "succeeded", result: { finalText: "ok" } });
    await room.inbox.next(
      "entity",
      (e) => e.entity === "task" && (e.row as { status?: string } | null)?.status === "completed",
    );

    const views = [
      JSON.stringify(room.inbox.messages),
      await call(`/api/boards/${boardId}/sessions/${session.id}`, { token: viewer.token }).then((r) => r.text()),
      await call(`/api/boards/${boardId}/sessions/${session.id}/messages`, { token: viewer.token }).then((r) =>
        r.text(),
      ),
      await call(`/api/boards/${boardId}/sessions`, { token: viewer.token }).then((r) => r.text()),
    ];
    for (const view of views) {
      for (const v of [ANTHROPIC_KEY, TOKEN_VALUE, COMPAT_KEY]) expect(view).not.toContain(v);
    }
    expect(views[1]).toContain('"keySource":"user"');
    room.ws.close();
  });

  it("a prompt by someone with no keys runs on the runner's, and gets none of another person's", async () => {
    await call(`/api/boards/${boardId}/sessions/${session.id}/prompts`, {
      method: "POST",
      token: owner.token,
      json: { text: "owner's turn" },
    });
    const t = await takeSessionTask(runner.credential);
    expect(t.ctx.secrets).toEqual({ keySource: "runner", model: null, env: {} });
    expect(t.ctx.task.keySource).toBe("runner");
    expect(JSON.stringify(t.ctx)).not.toContain(ANTHROPIC_KEY);
    expect(JSON.stringify(t.ctx)).not.toContain(TOKEN_VALUE);
    await t.complete({ status: "succeeded", result: { finalText: "ok" } });
  });

  it("an OpenAI-compatible key goes only to the server it was saved for", async () => {
    // The runner cannot serve OpenAI itself; the member's own server key lets the session start.
    const s = await start(member.token, { provider: "openai", model: "qwen3" });
    const t = await takeSessionTask(runner.credential);
    expect(t.ctx.session.id).toBe(s.id);
    expect(t.ctx.secrets?.model).toEqual({ apiKey: COMPAT_KEY, baseUrl: "http://127.0.0.1:11434/v1" });
    await t.complete({ status: "succeeded", result: { finalText: "ok" } });

    // A session naming another server gets the runner's credentials, not the member's key.
    await start(member.token, { provider: "openai", model: "qwen3", baseUrl: "https://elsewhere.example/v1" });
    const other = await takeSessionTask(runner.credential);
    expect(other.ctx.secrets).toMatchObject({ keySource: "runner", model: null });
    expect(JSON.stringify(other.ctx)).not.toContain(COMPAT_KEY);
    await other.complete({ status: "succeeded", result: { finalText: "ok" } });
  });

  it("a runner without a key for the provider refuses a person who has none either", async () => {
    await expectError(
      call(`/api/boards/${boardId}/sessions`, {
        method: "POST",
        token: owner.token,
        json: { worktreeId: wt.id, provider: "openai", model: "gpt-5" },
      }),
      409,
      "provider_unavailable",
    );
  });
});

describe("rotation", () => {
  const NEW_KEY = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));

  it("re-seals every row under the newest key, and back again, with nothing lost", async () => {
    const before = await rowsOf(member.id);
    const deps = { ...depsFor(testEnv), config: { ...depsFor(testEnv).config } };
    deps.config.encryptionKey = `2:${NEW_KEY},${testEnv.ENCRYPTION_KEY}`;
    // A small page bound, so the rotation takes several rounds.
    const first = await rotateSecrets(deps, { maxRows: 3 });
    expect(first).toMatchObject({ resealed: 3, unreadable: 0, remaining: true });
    const rest = await rotateSecrets(deps);
    expect(rest.remaining).toBe(false);
    const after = await rowsOf(member.id);
    for (const r of after) {
      expect(r.key_version).toBe(2);
      expect(r.sealed).toMatch(/^v2\./);
      expect(before.find((b) => b.id === r.id)?.sealed).not.toBe(r.sealed);
    }
    expect(await rotateSecrets(deps)).toEqual({ resealed: 0, unreadable: 0, remaining: false });

    // The Worker's own key (version 1 only) cannot open what is now sealed with version 2.
    await start(member.token);
    const c = await claim(runner.credential);
    const lease = { leaseToken: c.leaseToken };
    await post(runner.credential, `/runner/jobs/${c.job.id}/start`, lease);
    const err = await expectError(post(runner.credential, `/runner/jobs/${c.job.id}/session`, lease), 409);
    expect(err).toMatchObject({ code: "secret_unreadable", message: expect.stringMatching(/can no longer be opened/) });

    // Rotating back (version 1 newest again) restores what the Worker can open.
    deps.config.encryptionKey = `1:${testEnv.ENCRYPTION_KEY},2:${NEW_KEY}`;
    expect((await rotateSecrets(deps)).resealed).toBe(4);
    expect((await rowsOf(member.id)).every((r) => r.key_version === 1)).toBe(true);
    const ctx = await json<TaskContext>(post(runner.credential, `/runner/jobs/${c.job.id}/session`, lease));
    expect(ctx.secrets?.model?.apiKey).toBe(ANTHROPIC_KEY);
  });
});
