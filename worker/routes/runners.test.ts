import { beforeAll, describe, expect, it } from "vitest";
import { LINK_PROTOCOL } from "../../protocol/index.ts";
import { call, createBoard, joinRoom, json, registerUser } from "../../test/helpers.ts";
import { contextFor } from "../context.ts";
import { sha256 } from "../lib/crypto.ts";
import { createBoard as createBoardAs } from "../services/boards.ts";
import { addRunner, INFO, openLink, post, registerRunner, runnerRow, testEnv } from "./runner-testkit.ts";

type Items = { items: Array<{ id: string }> };

let owner: Awaited<ReturnType<typeof registerUser>>;
let other: Awaited<ReturnType<typeof registerUser>>;

beforeAll(async () => {
  [owner, other] = await Promise.all([registerUser("Owner"), registerUser("Other")]);
});

describe("registration", () => {
  it("gives a one-time token and the command to paste, then a credential that works once", async () => {
    const reg = await addRunner(owner.token, "Ann's laptop");
    expect(reg.registrationToken).toMatch(/^trl_reg_/);
    expect(reg.command).toBe(
      `npm run runner -- register --url http://localhost --token ${reg.registrationToken} --name 'Ann'\\''s laptop'`,
    );
    expect(reg.expiresAt - Date.now()).toBeGreaterThan(59 * 60_000);

    const first = await call("/runner/register", {
      method: "POST",
      json: { token: reg.registrationToken, info: INFO },
    });
    expect(first.status).toBe(201);
    const { credential, runnerId, name } = await first.json<{ credential: string; runnerId: string; name: string }>();
    expect(credential).toMatch(/^trl_run_/);
    expect(runnerId).toBe(reg.runner.id);
    expect(name).toBe("Ann's laptop");

    const again = await call("/runner/register", {
      method: "POST",
      json: { token: reg.registrationToken, info: INFO },
    });
    expect(again.status).toBe(401);
    expect(await again.json()).toMatchObject({ error: { code: "invalid_registration" } });

    // Only hashes are stored.
    const row = await testEnv.DB.prepare("select credential_hash, registration_hash from runners where id = ?")
      .bind(runnerId)
      .first<{ credential_hash: string; registration_hash: string | null }>();
    expect(row?.credential_hash).toBe(await sha256(credential));
    expect(row?.registration_hash).toBeNull();
  });

  it("refuses an expired token", async () => {
    const reg = await addRunner(owner.token);
    await testEnv.DB.prepare("update runners set registration_expires_at = ? where id = ?")
      .bind(Date.now() - 1, reg.runner.id)
      .run();
    const res = await call("/runner/register", { method: "POST", json: { token: reg.registrationToken, info: INFO } });
    expect(res.status).toBe(401);
  });
});

describe("credentials", () => {
  it("a runner credential works only on /runner, and a user token never does", async () => {
    const r = await registerRunner(owner.token);
    const me = await call("/runner/me", { token: r.credential });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ id: r.id, status: "offline", info: INFO });

    const onApi = await call("/api/boards", { token: r.credential });
    expect(onApi.status).toBe(401);
    expect(await onApi.json()).toMatchObject({ error: { code: "wrong_credential" } });

    const userOnRunner = await post(owner.token, "/runner/jobs/claim");
    expect(userOnRunner.status).toBe(401);
    expect(await userOnRunner.json()).toMatchObject({ error: { code: "wrong_credential" } });
    expect((await call("/runner/me")).status).toBe(401);
  });

  it("a revoked runner is refused at once and its link is closed", async () => {
    const r = await registerRunner(owner.token);
    const link = await openLink(r.credential);
    await link.next((m) => m.type === "wake");

    expect((await call(`/api/runners/${r.id}`, { method: "DELETE", token: other.token })).status).toBe(404);
    expect((await call(`/api/runners/${r.id}`, { method: "DELETE", token: owner.token })).status).toBe(204);

    expect((await link.closed).code).toBe(4403);
    const res = await post(r.credential, "/runner/jobs/claim");
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: "invalid_credential" } });
    const relink = await call("/runner/link", { token: r.credential, headers: { upgrade: "websocket" } });
    expect(relink.status).toBe(401);
    expect((await runnerRow(owner.token, r.id))?.status).toBe("revoked");
  });
});

describe("sharing and listing", () => {
  it("the owner shares a runner with a board; its members then see it", async () => {
    const r = await registerRunner(owner.token, "shared");
    const board = await createBoard(owner.token);
    await call(`/api/boards/${board.id}/members`, {
      method: "POST",
      token: owner.token,
      json: { email: other.email, role: "member" },
    });
    expect((await json<Items>(call("/api/runners", { token: other.token }))).items).not.toContainEqual(
      expect.objectContaining({ id: r.id }),
    );

    // Only the owner may share.
    const notOwner = await call(`/api/runners/${r.id}/boards`, {
      method: "POST",
      token: other.token,
      json: { boardId: board.id },
    });
    expect(notOwner.status).toBe(404);
    const shared = await call(`/api/runners/${r.id}/boards`, {
      method: "POST",
      token: owner.token,
      json: { boardId: board.id },
    });
    expect(shared.status).toBe(200);
    expect(await shared.json()).toMatchObject({ id: r.id, boardIds: [board.id] });

    const mine = await json<Items>(call("/api/runners", { token: other.token }));
    expect(mine.items).toContainEqual(expect.objectContaining({ id: r.id, name: "shared", boardIds: [] }));
    const onBoard = await json<Items>(call(`/api/boards/${board.id}/runners`, { token: other.token }));
    expect(onBoard.items.map((x) => x.id)).toEqual([r.id]);
    // A member who is not the runner's owner cannot revoke it.
    expect((await call(`/api/runners/${r.id}`, { method: "DELETE", token: other.token })).status).toBe(403);

    expect(
      (await call(`/api/runners/${r.id}/boards/${board.id}`, { method: "DELETE", token: owner.token })).status,
    ).toBe(204);
    expect((await json<Items>(call(`/api/boards/${board.id}/runners`, { token: other.token }))).items).toEqual([]);
  });

  it("in single-user mode a new board can use the one person's runners at once", async () => {
    const mine = await registerRunner(owner.token, "this machine");
    const revoked = await registerRunner(owner.token, "old laptop");
    expect((await call(`/api/runners/${revoked.id}`, { method: "DELETE", token: owner.token })).status).toBe(204);
    const theirs = await registerRunner(other.token, "someone else's");
    // The Worker under test runs with SINGLE_USER=0, so the service is called with the flag on.
    const ctx = contextFor(
      { ...testEnv, SINGLE_USER: "1" },
      { kind: "user", userId: owner.id, via: "jwt", credential: "fam:test" },
    );
    const board = await createBoardAs(ctx, "Local");
    const onBoard = (await json<Items>(call(`/api/boards/${board.id}/runners`, { token: owner.token }))).items;
    const ownersLive = (
      await json<{ items: Array<{ id: string; status: string }> }>(call("/api/runners", { token: owner.token }))
    ).items.filter((r) => r.status !== "revoked");
    expect(onBoard.map((x) => x.id).sort()).toEqual(ownersLive.map((x) => x.id).sort());
    expect(onBoard.map((x) => x.id)).toContain(mine.id);
    expect(onBoard.map((x) => x.id)).not.toContain(revoked.id);
    expect(onBoard.map((x) => x.id)).not.toContain(theirs.id);
    // With accounts, sharing stays the owner's choice.
    const plain = await createBoard(owner.token);
    expect((await json<Items>(call(`/api/boards/${plain.id}/runners`, { token: owner.token }))).items).toEqual([]);
  });

  it("cannot share with a board the owner is not a member of", async () => {
    const r = await registerRunner(owner.token);
    const theirs = await createBoard(other.token);
    const res = await call(`/api/runners/${r.id}/boards`, {
      method: "POST",
      token: owner.token,
      json: { boardId: theirs.id },
    });
    expect(res.status).toBe(404);
  });
});

describe("the link", () => {
  it("shows the runner online on its boards at once, offline when the socket closes", async () => {
    const r = await registerRunner(owner.token);
    const board = await createBoard(owner.token);
    await call(`/api/runners/${r.id}/boards`, { method: "POST", token: owner.token, json: { boardId: board.id } });
    const room = await joinRoom(board.id, { token: owner.token });

    const link = await openLink(r.credential, { ...INFO, providers: ["anthropic", "openai"] });
    const online = await room.inbox.next("entity", (m) => m.entity === "runner" && m.row?.status === "online");
    expect(online.row).toMatchObject({ id: r.id, info: { providers: ["anthropic", "openai"] } });

    link.ws.close(1000, "bye");
    await room.inbox.next("entity", (m) => m.entity === "runner" && m.row?.status === "offline");
    expect((await runnerRow(owner.token, r.id))?.status).toBe("offline");
    room.ws.close();
  });

  it("sends wake when a job is queued, and a newer connection replaces an older one", async () => {
    const r = await registerRunner(owner.token);
    const first = await openLink(r.credential);
    await first.next((m) => m.type === "wake");
    const second = await openLink(r.credential);
    expect((await first.closed).code).toBe(4409);
    await second.next((m) => m.type === "wake");
    const before = second.messages.length;

    const queued = await call(`/api/runners/${r.id}/jobs`, {
      method: "POST",
      token: owner.token,
      json: { type: "ping" },
    });
    expect(queued.status).toBe(201);
    expect(await second.next(() => true, before)).toEqual({ type: "wake", v: LINK_PROTOCOL });
    expect((await runnerRow(owner.token, r.id))?.status).toBe("online");
    second.ws.close();
  });

  it("refuses a link without an upgrade or with bad info", async () => {
    const r = await registerRunner(owner.token);
    expect((await call("/runner/link", { token: r.credential })).status).toBe(426);
    const bad = await call(`/runner/link?info=${encodeURIComponent('{"version":1}')}`, {
      token: r.credential,
      headers: { upgrade: "websocket" },
    });
    expect(bad.status).toBe(400);
  });

  it("only ping jobs can be queued directly, and only by the owner", async () => {
    const r = await registerRunner(owner.token);
    const bad = await call(`/api/runners/${r.id}/jobs`, {
      method: "POST",
      token: owner.token,
      json: { type: "worktree.delete" },
    });
    expect(bad.status).toBe(400);
    const notOwner = await call(`/api/runners/${r.id}/jobs`, {
      method: "POST",
      token: other.token,
      json: { type: "ping" },
    });
    expect(notOwner.status).toBe(404);
  });
});
