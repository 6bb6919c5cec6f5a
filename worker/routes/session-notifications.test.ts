import { beforeAll, describe, expect, it } from "vitest";
import type { NotificationPage, Session, Worktree } from "../../protocol/index.ts";
import { addMember, call, joinInbox, json, registerUsers, type TestUser } from "../../test/helpers.ts";
import { boardWithRepo, GIT, openLink, runNext, takeSessionTask } from "./runner-testkit.ts";

/**
 * Sessions through the bell: a permission request reaches everyone who can answer it (not
 * viewers), and a task's end reaches whoever started the session; each live to their tabs only.
 */

let owner: TestUser;
let member: TestUser;
let viewer: TestUser;
let runner: { id: string; credential: string };
let boardId: string;
let wt: Worktree;

const bell = (token: string) => json<NotificationPage>(call("/api/me/notifications", { token }));
const start = (prompt: string) =>
  json<Session>(
    call(`/api/boards/${boardId}/sessions`, {
      method: "POST",
      token: member.token,
      json: { worktreeId: wt.id, provider: "anthropic", model: "claude-sonnet-4-5", title: "Fix login", prompt },
    }),
  );

beforeAll(async () => {
  const stage = await boardWithRepo({ path: "/home/ann/code/app", branches: ["main"] });
  ({ owner, member, runner, boardId } = stage);
  [viewer] = await registerUsers("Viewer");
  await addMember(owner.token, boardId, viewer, "viewer");
  await openLink(runner.credential, {
    version: "0.1.0",
    os: "linux",
    gitVersion: "2.45",
    providers: ["anthropic"],
    agents: [{ provider: "anthropic", ready: true }],
  });
  wt = await json<Worktree>(
    call(`/api/boards/${boardId}/worktrees`, {
      method: "POST",
      token: member.token,
      json: { repoId: stage.repo.id, name: "login", branch: "login", mode: "new" },
    }),
  );
  await runNext(runner.credential, {
    status: "succeeded",
    result: { path: "/home/ann/wt/login", git: GIT, createdBranch: true },
  });
});

describe("session notifications", () => {
  it("a permission request rings the bell of every member and owner, not the viewers", async () => {
    const [ownerTab, viewerTab] = await Promise.all([
      joinInbox(owner.id, { token: owner.token }),
      joinInbox(viewer.id, { token: viewer.token }),
    ]);
    const s = await start("run the tests");
    const t = await takeSessionTask(runner.credential);
    const asked = await t.events({
      kind: "permission",
      data: { requestId: "r1", callId: "c1", tool: "shell", summary: "run `npm test`", command: "npm test" },
    });
    expect(asked.status).toBe(200);
    // A retried post of the same events rings nobody twice.
    await t.events();

    const live = await ownerTab.inbox.next("notification", (m) => m.notification.kind === "permission");
    expect(live.notification).toMatchObject({ sessionId: s.id, body: "run `npm test`" });
    expect(live.notification.title).toBe('"Fix login" on login asks for permission');
    expect(live.notification.href).toBe(`/b/${boardId}?session=${s.id}`);
    for (const u of [owner, member]) {
      expect((await bell(u.token)).items.filter((n) => n.kind === "permission" && n.sessionId === s.id)).toHaveLength(
        1,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(viewerTab.inbox.all("notification")).toEqual([]);
    expect((await bell(viewer.token)).items).toEqual([]);

    await t.complete({ status: "succeeded", result: { finalText: "done" } });
    ownerTab.ws.close();
    viewerTab.ws.close();
  });

  it("a finished or failed task tells the person who started the session, and only them", async () => {
    const before = (await bell(owner.token)).items.length;
    const s = await start("fix it");
    await (await takeSessionTask(runner.credential)).complete({ status: "succeeded", result: { finalText: "Fixed." } });
    await call(`/api/boards/${boardId}/sessions/${s.id}/prompts`, {
      method: "POST",
      token: owner.token,
      json: { text: "again" },
    });
    await (await takeSessionTask(runner.credential)).complete({ status: "failed", error: "model overloaded" });

    const mine = (await bell(member.token)).items.filter((n) => n.sessionId === s.id);
    expect(mine.map((n) => n.kind)).toEqual(["session_failed", "session_finished"]);
    expect(mine[0]).toMatchObject({ title: '"Fix login" on login failed', body: "model overloaded" });
    expect((await bell(owner.token)).items.length).toBe(before);
  });

  it("remembers when each person last looked at a session, for them alone", async () => {
    const s = await start("look");
    await (await takeSessionTask(runner.credential)).complete({ status: "succeeded", result: { finalText: "ok" } });
    const seen = await json<{ seenAt: number }>(
      call(`/api/boards/${boardId}/sessions/${s.id}/seen`, { method: "PUT", token: viewer.token }),
    );
    expect(await json(call(`/api/boards/${boardId}/seen`, { token: viewer.token }))).toMatchObject({
      [s.id]: seen.seenAt,
    });
    expect(await json(call(`/api/boards/${boardId}/seen`, { token: member.token }))).not.toHaveProperty(s.id);
    const [stranger] = await registerUsers("Stranger");
    expect(
      (await call(`/api/boards/${boardId}/sessions/${s.id}/seen`, { method: "PUT", token: stranger.token })).status,
    ).toBe(404);
    expect((await call(`/api/boards/${boardId}/seen`, { token: stranger.token })).status).toBe(404);
  });
});
