import { runDurableObjectAlarm } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { ROOM_CLOSE } from "../protocol/index.ts";
import {
  addMember,
  BASE,
  call,
  createBoard,
  createZone,
  expectError,
  joinRoom,
  json,
  openRoom,
  PASSWORD,
  registerUsers,
  type TestUser,
  testEnv,
  ticketFor,
} from "../test/helpers.ts";
import { getBoardRoom } from "./stubs.ts";

/**
 * A board socket lives only as long as the credential it was opened with: revoking a token,
 * signing out, a reused refresh token, a new password or a deleted user close it within seconds,
 * on every board, and leave the person's other sign-ins alone.
 */

let owner: TestUser;
let member: TestUser;

beforeAll(async () => {
  [owner, member] = await registerUsers("Owner", "Member");
});

async function sharedBoard(name: string) {
  const board = await createBoard(owner.token, name);
  await addMember(owner.token, board.id, member, "member");
  return board;
}

const login = async (email: string, password = PASSWORD) =>
  json<{ accessToken: string; refreshToken: string }>(
    call("/api/auth/login", { method: "POST", json: { email, password } }),
  );

const personalToken = async (token: string) =>
  json<{ id: string; token: string }>(call("/api/tokens", { method: "POST", token, json: { name: "cli" } }));

/** A socket that is still open gets the next change on its board. */
async function stillHears(sock: Awaited<ReturnType<typeof joinRoom>>, boardId: string) {
  const zone = await createZone(owner.token, boardId, { name: `Z${Math.random()}` });
  await sock.inbox.next("entity", (e) => e.id === zone.id);
}

const closedWithin = async (sock: Awaited<ReturnType<typeof joinRoom>>, ms = 3000) => {
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error("socket stayed open")), ms));
  return Promise.race([sock.closed, timeout]);
};

describe("a socket ends with its credential", () => {
  it("revoking a personal token closes its sockets on every board at once; other sign-ins stay", async () => {
    const a = await sharedBoard("Token A");
    const b = await sharedBoard("Token B");
    const pat = await personalToken(member.token);
    const onA = await joinRoom(a.id, { token: pat.token });
    const onB = await joinRoom(b.id, { token: pat.token });
    const browser = await joinRoom(a.id, { ticket: await ticketFor(member.token, a.id), origin: BASE });

    expect((await call(`/api/tokens/${pat.id}`, { method: "DELETE", token: member.token })).status).toBe(204);
    for (const s of [onA, onB]) expect((await closedWithin(s)).code).toBe(ROOM_CLOSE.signedOut);
    await stillHears(browser, a.id);
    await expectError(openRoom(a.id, { token: pat.token }), 401);
    // The others on the board saw the token's sockets leave.
    const peers = await getBoardRoom(testEnv, a.id).listPeers();
    expect(peers.map((p) => p.connectionId)).toEqual([browser.connectionId]);
    browser.ws.close();
  });

  it("a ticket made before its token was revoked opens no socket", async () => {
    const board = await sharedBoard("Ticket then revoke");
    const pat = await personalToken(member.token);
    const ticket = await ticketFor(pat.token, board.id);
    await call(`/api/tokens/${pat.id}`, { method: "DELETE", token: member.token });
    await expectError(openRoom(board.id, { ticket, origin: BASE }), 401, "invalid_ticket");
  });

  it("signing out ends that sign-in's access token and sockets, and no other sign-in's", async () => {
    const board = await sharedBoard("Logout");
    const first = await login(member.email);
    const second = await login(member.email);
    const s1 = await joinRoom(board.id, { ticket: await ticketFor(first.accessToken, board.id), origin: BASE });
    const s2 = await joinRoom(board.id, { token: second.accessToken });

    const out = await call("/api/auth/logout", { method: "POST", json: { refreshToken: first.refreshToken } });
    expect(out.status).toBe(204);
    expect((await closedWithin(s1)).code).toBe(ROOM_CLOSE.signedOut);
    await expectError(call("/api/me", { token: first.accessToken }), 401, "invalid_token");
    expect((await call("/api/me", { token: second.accessToken })).status).toBe(200);
    await stillHears(s2, board.id);
    s2.ws.close();
  });

  it("a reused refresh token ends its sign-in's sockets", async () => {
    const board = await sharedBoard("Reuse");
    const stolen = await login(member.email);
    const sock = await joinRoom(board.id, { token: stolen.accessToken });
    const refresh = (refreshToken: string) => call("/api/auth/refresh", { method: "POST", json: { refreshToken } });
    expect((await refresh(stolen.refreshToken)).status).toBe(200);
    await expectError(refresh(stolen.refreshToken), 401, "token_reused");
    expect((await closedWithin(sock)).code).toBe(ROOM_CLOSE.signedOut);
  });

  it("a new password ends every sign-in and its sockets; API tokens stay; the changer stays signed in", async () => {
    const [pw] = await registerUsers("Changes password");
    const board = await createBoard(owner.token, "Password");
    await addMember(owner.token, board.id, pw, "member");
    const other = await login(pw.email);
    const pat = await personalToken(pw.token);
    const mine = await joinRoom(board.id, { ticket: await ticketFor(pw.token, board.id), origin: BASE });
    const theirs = await joinRoom(board.id, { token: other.accessToken });
    const script = await joinRoom(board.id, { token: pat.token });

    const newPassword = "a brand new passphrase";
    const res = await call("/api/me/password", {
      method: "POST",
      token: pw.token,
      json: { currentPassword: PASSWORD, newPassword },
    });
    expect(res.status).toBe(200);
    const fresh = await res.json<{ accessToken: string }>();
    for (const s of [mine, theirs]) expect((await closedWithin(s)).code).toBe(ROOM_CLOSE.signedOut);
    for (const t of [pw.token, other.accessToken]) await expectError(call("/api/me", { token: t }), 401);
    await expectError(call("/api/auth/refresh", { method: "POST", json: { refreshToken: other.refreshToken } }), 401);
    expect((await call("/api/me", { token: fresh.accessToken })).status).toBe(200);
    await stillHears(script, board.id);
    await expectError(call("/api/auth/login", { method: "POST", json: { email: pw.email, password: PASSWORD } }), 401);
    expect(
      (await call("/api/auth/login", { method: "POST", json: { email: pw.email, password: newPassword } })).status,
    ).toBe(200);
    script.ws.close();
  });

  it("a password change needs the current password, a signed-in person, and a valid new password", async () => {
    const [pw] = await registerUsers("Careful");
    const change = (token: string, body: unknown) => call("/api/me/password", { method: "POST", token, json: body });
    await expectError(
      change(pw.token, { currentPassword: "not it at all", newPassword: "another long one" }),
      403,
      "invalid_credentials",
    );
    const short = await expectError(change(pw.token, { currentPassword: PASSWORD, newPassword: "short" }), 400);
    expect(short.message).toMatch(/newPassword: must be at least 10 characters/);
    const pat = await personalToken(pw.token);
    await expectError(
      change(pat.token, { currentPassword: PASSWORD, newPassword: "another long one" }),
      403,
      "wrong_credential",
    );
    // Nothing changed: the old password still signs in.
    expect(
      (await call("/api/auth/login", { method: "POST", json: { email: pw.email, password: PASSWORD } })).status,
    ).toBe(200);
  });
});

describe("what no event announces, the room's sweep finds", () => {
  it("a deleted user gets 401 on every route, and their sockets close on the next sweep", async () => {
    const [gone] = await registerUsers("Deleted");
    const board = await createBoard(owner.token, "Deleted user");
    await addMember(owner.token, board.id, gone, "member");
    const pat = await personalToken(gone.token);
    const jwtSock = await joinRoom(board.id, { token: gone.token });
    const patSock = await joinRoom(board.id, { token: pat.token });
    const ownerSock = await joinRoom(board.id, { token: owner.token });

    // Deleted underneath the API (an operator, a data-retention job): no event tells the room.
    await testEnv.DB.prepare("delete from users where id = ?").bind(gone.id).run();
    for (const [path, body] of [
      ["/api/me", undefined],
      ["/api/boards", { name: "Mine" }],
      ["/api/tokens", { name: "again" }],
    ] as const) {
      const init = body ? { method: "POST", json: body } : {};
      await expectError(call(path, { ...init, token: gone.token }), 401, "invalid_token");
      await expectError(call(path, { ...init, token: pat.token }), 401, "invalid_token");
    }

    await runDurableObjectAlarm(getBoardRoom(testEnv, board.id));
    for (const s of [jwtSock, patSock]) expect((await closedWithin(s)).code).toBe(ROOM_CLOSE.signedOut);
    await stillHears(ownerSock, board.id);
    ownerSock.ws.close();
  });

  it("an API token that expires closes its sockets on the next sweep", async () => {
    const board = await sharedBoard("Expiring token");
    const pat = await personalToken(member.token);
    const sock = await joinRoom(board.id, { token: pat.token });
    const keep = await joinRoom(board.id, { token: member.token });
    await testEnv.DB.prepare("update api_tokens set expires_at = ? where id = ?")
      .bind(Date.now() - 1, pat.id)
      .run();
    await runDurableObjectAlarm(getBoardRoom(testEnv, board.id));
    expect((await closedWithin(sock)).code).toBe(ROOM_CLOSE.signedOut);
    await stillHears(keep, board.id);
    keep.ws.close();
  });

  it("peers never see another socket's credential", async () => {
    const board = await sharedBoard("No leak");
    const a = await joinRoom(board.id, { token: owner.token });
    const b = await joinRoom(board.id, { token: member.token });
    const join = await a.inbox.next("join");
    expect(Object.keys(join.peer)).not.toContain("credential");
    expect(JSON.stringify(b.welcome)).not.toMatch(/fam:|tok:/);
    a.ws.close();
    b.ws.close();
  });
});
