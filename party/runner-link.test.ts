import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { LINK_CLOSE, LINK_PROTOCOL, LINK_STALE_MS } from "../protocol/index.ts";
import { call, createBoard, joinRoom, json, registerUser, type TestUser } from "../test/helpers.ts";
import { contextFor } from "../worker/context.ts";
import { openLink, post, registerRunner, runNext, runnerRow, testEnv } from "../worker/routes/runner-testkit.ts";
import { isStale } from "./link.ts";
import type { RunnerLink } from "./runner-link.ts";
import { getRunnerLink } from "./stubs.ts";

let owner: TestUser;
beforeAll(async () => {
  owner = await registerUser("Owner");
});

describe("RunnerLink", () => {
  it("counts a socket stale only after LINK_STALE_MS without a ping", () => {
    expect(isStale(0, 1_000, 1_000 + LINK_STALE_MS)).toBe(false);
    expect(isStale(0, 1_000, 1_001 + LINK_STALE_MS)).toBe(true);
    expect(isStale(30_000, 1_000, 30_000 + LINK_STALE_MS)).toBe(false);
  });

  it("answers pings without waking the object", async () => {
    const r = await registerRunner(owner.token);
    const link = await openLink(r.credential);
    const pong = new Promise<unknown>((resolve) =>
      link.ws.addEventListener("message", (e) => {
        if (e.data === "pong") resolve(e.data);
      }),
    );
    link.ws.send("ping");
    expect(await pong).toBe("pong");
    link.ws.close();
  });

  it("closes a socket gone silent and shows the runner offline", async () => {
    const r = await registerRunner(owner.token);
    const link = await openLink(r.credential);
    await link.next((m) => m.type === "wake");
    expect((await runnerRow(owner.token, r.id))?.status).toBe("online");

    // A killed runner sends no close frame; its socket just goes quiet. Age this one past the limit.
    const stub = getRunnerLink(testEnv, r.id);
    await runInDurableObject(stub, (instance: RunnerLink) => {
      for (const c of instance.getConnections()) c.setState({ connectedAt: Date.now() - LINK_STALE_MS - 1 });
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await link.closed).code).toBe(LINK_CLOSE.stale);
    expect((await runnerRow(owner.token, r.id))?.status).toBe("offline");
  });

  it("hangs up, on its next sweep, a link whose runner was removed without a revoke", async () => {
    const someone = await registerUser("Leaving");
    const r = await registerRunner(someone.token);
    const link = await openLink(r.credential);
    await link.next((m) => m.type === "wake");
    // The owner's account is deleted underneath the API: the runner row goes with it, no RPC is sent.
    await testEnv.DB.prepare("delete from users where id = ?").bind(someone.id).run();
    await runDurableObjectAlarm(getRunnerLink(testEnv, r.id));
    expect((await link.closed).code).toBe(LINK_CLOSE.revoked);
  });

  it("relays a runner's stream frame to the board's watchers of that session, only while it runs that session's task", async () => {
    const r = await registerRunner(owner.token);
    const board = await createBoard(owner.token, "Streams");
    await call(`/api/runners/${r.id}/boards`, { method: "POST", token: owner.token, json: { boardId: board.id } });
    const repo = await json<{ id: string }>(
      call(`/api/runners/${r.id}/repos`, {
        method: "POST",
        token: owner.token,
        json: { source: { kind: "path", path: "/srv/app" } },
      }),
    );
    await runNext(r.credential, {
      status: "succeeded",
      result: { path: "/srv/app", defaultBranch: "main", branches: ["main"] },
    });
    const link = await openLink(r.credential);
    const watcher = await joinRoom(board.id, { token: owner.token });
    const other = await joinRoom(board.id, { token: owner.token });
    watcher.send({ type: "watch", sessionIds: ["sess-1"] });
    const piece = { sessionId: "sess-1", messageId: "m1", seq: 1, part: "text", delta: "Thinking about it" };

    // No job of this runner is active on the board yet: nothing is relayed, and the runner is told.
    link.ws.send(JSON.stringify({ type: "stream", v: LINK_PROTOCOL, boardId: board.id, ...piece }));
    await link.next((m) => m.type === "refused");
    expect(watcher.inbox.all("stream")).toEqual([]);

    // A session's task is claimed: now the runner works on that session (and only that one).
    await call(`/api/boards/${board.id}/worktrees`, {
      method: "POST",
      token: owner.token,
      json: { repoId: repo.id, name: "streamy", branch: "streamy" },
    });
    await runNext(r.credential, {
      status: "succeeded",
      result: { path: "/srv/wt/streamy", git: { head: "abc", ahead: 0, behind: 0, changedFiles: 0, refreshedAt: 1 } },
    });
    const wt = (
      await json<{ items: { id: string }[] }>(call(`/api/boards/${board.id}/worktrees`, { token: owner.token }))
    ).items[0]!;
    const session = await json<{ id: string }>(
      call(`/api/boards/${board.id}/sessions`, {
        method: "POST",
        token: owner.token,
        json: { worktreeId: wt.id, provider: "anthropic", model: "claude-sonnet-4-5", prompt: "hi" },
      }),
    );
    watcher.send({ type: "watch", sessionIds: [session.id] });
    await post(r.credential, "/runner/jobs/claim");
    // The link remembers its "no" for a moment (stream frames come many times a second); a
    // fresh instance asks D1 again at once.
    await evictDurableObject(getRunnerLink(testEnv, r.id)).catch(() => {});
    const again = await openLink(r.credential);
    // Another session on the same board is still not this runner's to write into.
    again.ws.send(JSON.stringify({ type: "stream", v: LINK_PROTOCOL, boardId: board.id, ...piece, seq: 2 }));
    await again.next((m) => m.type === "refused");
    again.ws.send(
      JSON.stringify({ type: "stream", v: LINK_PROTOCOL, boardId: board.id, ...piece, sessionId: session.id, seq: 2 }),
    );
    const got = await watcher.inbox.next("stream");
    expect(got).toMatchObject({ sessionId: session.id, messageId: "m1", delta: "Thinking about it", seq: 2 });
    // Only watchers of that session get it.
    await new Promise((res) => setTimeout(res, 100));
    expect(other.inbox.all("stream")).toEqual([]);
    for (const s of [watcher, other]) s.ws.close();
    link.ws.close();
    again.ws.close();
  });

  it("the edge addresses one runner's socket through the links port", async () => {
    const r = await registerRunner(owner.token);
    const link = await openLink(r.credential);
    await link.next((m) => m.type === "wake");
    const seen = link.messages.length;
    const ctx = contextFor(testEnv, { kind: "runner", runnerId: r.id, ownerId: owner.id });
    await ctx.links.send(r.id, { type: "cancel", v: LINK_PROTOCOL, jobId: "job-42" });
    expect(await link.next((m) => m.type === "cancel", seen)).toEqual({
      type: "cancel",
      v: LINK_PROTOCOL,
      jobId: "job-42",
    });
    link.ws.close();
  });
});
