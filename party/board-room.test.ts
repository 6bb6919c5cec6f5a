import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { Zone } from "../protocol/index.ts";
import {
  addMember,
  BASE,
  call,
  createBoard,
  createZone,
  expectError,
  joinRoom,
  openRoom,
  registerUsers,
  type TestUser,
  testEnv,
  ticketFor,
} from "../test/helpers.ts";
import { sha256 } from "../worker/lib/crypto.ts";
import type { BoardRoom } from "./board-room.ts";
import { getBoardRoom } from "./stubs.ts";

let owner: TestUser;
let member: TestUser;
let viewer: TestUser;
let outsider: TestUser;

beforeAll(async () => {
  [owner, member, viewer, outsider] = await registerUsers("Owner", "Member", "Viewer", "Outsider");
});

async function sharedBoard(name = "Room") {
  const board = await createBoard(owner.token, name);
  await addMember(owner.token, board.id, member, "member");
  await addMember(owner.token, board.id, viewer, "viewer");
  return board;
}

/** A browser-style join: a fresh ticket, sent from our own origin. */
const browserJoin = async (user: TestUser, boardId: string) =>
  joinRoom(boardId, { ticket: await ticketFor(user.token, boardId), origin: BASE });

describe("joining a board room", () => {
  let board: { id: string };
  beforeAll(async () => {
    board = await sharedBoard("Gate");
  });

  it("refuses an upgrade with no credentials (401) before the room wakes", async () => {
    await expectError(openRoom(board.id, {}), 401, "unauthorized");
    await expectError(openRoom(board.id, { token: "not-a-token" }), 401, "unauthorized");
    await expectError(openRoom(board.id, { token: "trl_run_abcdef" }), 401, "unauthorized");
    expect(await getBoardRoom(testEnv, board.id).listPeers()).toEqual([]);
  });

  it("answers a peer's close at once, with a status code or without one", async () => {
    const by = (ms: number) => new Promise<"late">((resolve) => setTimeout(() => resolve("late"), ms));
    const [a, b] = [await browserJoin(member, board.id), await browserJoin(member, board.id)];
    a.ws.close();
    expect(await Promise.race([a.closed, by(2000)])).not.toBe("late");
    b.ws.close(1000, "done");
    expect(await Promise.race([b.closed, by(2000)])).not.toBe("late");
  });

  it("refuses a non-member with 404, as REST does", async () => {
    const err = await expectError(openRoom(board.id, { token: outsider.token }), 404, "not_found");
    expect(err.message).toBe("Board not found.");
    await expectError(call(`/api/boards/${board.id}/ticket`, { method: "POST", token: outsider.token }), 404);
  });

  it("lets members in with a bearer token (CLI) and a ticket (browser), viewers included", async () => {
    const cli = await joinRoom(board.id, { token: member.token });
    const browser = await browserJoin(viewer, board.id);
    expect(browser.welcome.peers.map((p) => p.userId).sort()).toEqual([member.id, viewer.id].sort());
    cli.ws.close();
    browser.ws.close();
  });

  it("refuses a ticket from a foreign Origin with 403", async () => {
    const ticket = await ticketFor(member.token, board.id);
    await expectError(openRoom(board.id, { ticket, origin: "https://evil.example" }), 403, "bad_origin");
  });

  it("spends a ticket on first use: a reused ticket is refused", async () => {
    const ticket = await ticketFor(member.token, board.id);
    const first = await joinRoom(board.id, { ticket, origin: BASE });
    await expectError(openRoom(board.id, { ticket, origin: BASE }), 401, "invalid_ticket");
    first.ws.close();
  });

  it("refuses an expired ticket", async () => {
    const ticket = "trl_tk_expired-ticket-for-test";
    await testEnv.DB.prepare(
      "INSERT INTO room_tickets (ticket_hash, user_id, board_id, expires_at) VALUES (?, ?, ?, ?)",
    )
      .bind(await sha256(ticket), member.id, board.id, Date.now() - 1)
      .run();
    const err = await expectError(openRoom(board.id, { ticket, origin: BASE }), 401, "invalid_ticket");
    expect(err.message).toMatch(/expired/);
  });

  it("refuses a ticket for another board, and a made-up one", async () => {
    const other = await sharedBoard("Other");
    const ticket = await ticketFor(member.token, other.id);
    await expectError(openRoom(board.id, { ticket, origin: BASE }), 401, "invalid_ticket");
    await expectError(openRoom(board.id, { ticket: "trl_tk_made-up", origin: BASE }), 401, "invalid_ticket");
  });

  it("refuses a ticket whose holder was removed from the board before using it", async () => {
    const b = await sharedBoard("Removed before joining");
    const ticket = await ticketFor(member.token, b.id);
    await call(`/api/boards/${b.id}/members/${member.id}`, { method: "DELETE", token: owner.token });
    await expectError(openRoom(b.id, { ticket, origin: BASE }), 404, "not_found");
  });

  it("takes the peer's identity from the credential, never from client headers", async () => {
    const res = await call(`/parties/board-room/${board.id}`, {
      headers: {
        upgrade: "websocket",
        authorization: `Bearer ${member.token}`,
        "x-trellis-user-id": owner.id,
        "x-trellis-user-name": "Mallory",
      },
    });
    const ws = res.webSocket;
    if (!ws) throw new Error(`upgrade refused: ${res.status}`);
    ws.accept();
    const welcome = await new Promise<{
      connectionId: string;
      peers: { connectionId: string; userId: string; name: string }[];
    }>((resolve) => ws.addEventListener("message", (e) => resolve(JSON.parse(e.data as string)), { once: true }));
    const me = welcome.peers.find((p) => p.connectionId === welcome.connectionId);
    expect(me).toMatchObject({ userId: member.id, name: "Member" });
    ws.close();
  });

  it("carries any display name through the upgrade", async () => {
    const odd = await registerUsers('Zoë 🌱 100% "quoted", ünïcode');
    const b = await createBoard(odd[0].token, "Names");
    const sock = await joinRoom(b.id, { token: odd[0].token });
    expect(sock.welcome.peers[0]?.name).toBe('Zoë 🌱 100% "quoted", ünïcode');
    sock.ws.close();
  });

  it("answers plain HTTP to a room with 404: rooms speak only WebSocket to the outside", async () => {
    await expectError(call(`/parties/board-room/${board.id}`, { token: owner.token }), 404);
    await expectError(call(`/parties/runner-link/${board.id}`, { token: owner.token }), 404);
  });
});

describe("presence in a board room", () => {
  it("welcomes with the peers already there, and announces join and leave", async () => {
    const board = await sharedBoard("Peers");
    const a = await browserJoin(owner, board.id);
    expect(a.welcome.peers).toEqual([
      expect.objectContaining({ connectionId: a.connectionId, userId: owner.id, name: "Owner", cursor: null }),
    ]);
    const b = await browserJoin(member, board.id);
    expect(b.welcome.peers.map((p) => p.userId).sort()).toEqual([owner.id, member.id].sort());
    expect(b.welcome.peers.find((p) => p.userId === owner.id)?.color).toBe(owner.user.color);

    const joined = await a.inbox.next("join");
    expect(joined.peer).toMatchObject({ connectionId: b.connectionId, userId: member.id, name: "Member" });
    // Nobody is told about their own arrival.
    expect(b.inbox.all("join")).toEqual([]);

    b.ws.close(1000, "tab closed");
    const left = await a.inbox.next("leave");
    expect(left.connectionId).toBe(b.connectionId);
    expect((await getBoardRoom(testEnv, board.id).listPeers()).map((p) => p.connectionId)).toEqual([a.connectionId]);
    a.ws.close();
  });

  it("a cursor move reaches the other socket as a coalesced presence update", async () => {
    const board = await sharedBoard("Cursors");
    const a = await browserJoin(owner, board.id);
    const b = await browserJoin(member, board.id);
    for (let x = 1; x <= 5; x++) a.send({ type: "presence", cursor: { x, y: x * 2 } });
    a.send({ type: "presence", viewport: { x: 10, y: 20, zoom: 1.5 }, selection: ["zone-1"] });

    const last = await b.inbox.next("presence", (m) =>
      m.updates.some((u) => u.connectionId === a.connectionId && u.selection.length === 1),
    );
    expect(last.updates.find((u) => u.connectionId === a.connectionId)).toEqual({
      connectionId: a.connectionId,
      cursor: { x: 5, y: 10 },
      viewport: { x: 10, y: 20, zoom: 1.5 },
      selection: ["zone-1"],
    });
    // Six moves arrive as fewer frames, each with one entry per peer.
    const frames = b.inbox.all("presence");
    expect(frames.length).toBeLessThan(6);
    for (const f of frames) expect(f.updates.filter((u) => u.connectionId === a.connectionId)).toHaveLength(1);

    // A newcomer sees where everyone already is.
    const c = await browserJoin(viewer, board.id);
    expect(c.welcome.peers.find((p) => p.connectionId === a.connectionId)?.cursor).toEqual({ x: 5, y: 10 });
    for (const s of [a, b, c]) s.ws.close();
  });

  it("answers malformed messages with an error and keeps serving", async () => {
    const board = await sharedBoard("Garbage");
    const a = await browserJoin(owner, board.id);
    const b = await browserJoin(member, board.id);
    const bad = [
      "not json",
      "{}",
      JSON.stringify({ type: "entity", op: "removed", entity: "board", id: board.id }),
      JSON.stringify({ type: "presence", cursor: { x: "1", y: 2 } }),
      JSON.stringify({ type: "presence", selection: Array.from({ length: 31 }, (_, i) => `z${i}`) }),
      JSON.stringify({ type: "presence", cursor: { x: 1, y: 1 }, pad: "x".repeat(9000) }),
      "null",
    ];
    for (const m of bad) a.send(m);
    a.ws.send(new Uint8Array([1, 2, 3]));
    await a.inbox.next("error", () => a.inbox.all("error").length >= bad.length + 1);
    for (const e of a.inbox.all("error")) expect(e.message.length).toBeGreaterThan(3);
    expect(b.inbox.all("presence")).toEqual([]);
    expect(b.inbox.all("error")).toEqual([]);

    a.send({ type: "presence", cursor: { x: 7, y: 7 } });
    const ok = await b.inbox.next("presence");
    expect(ok.updates[0]).toMatchObject({ connectionId: a.connectionId, cursor: { x: 7, y: 7 } });
    a.ws.close();
    b.ws.close();
  });
});

describe("a room that sleeps and sweeps", () => {
  it("keeps its peers across hibernation: per-socket state lives in the socket", async () => {
    const board = await sharedBoard("Hibernation");
    const a = await browserJoin(owner, board.id);
    const b = await browserJoin(member, board.id);
    a.send({ type: "presence", cursor: { x: 1, y: 1 } });
    await b.inbox.next("presence");
    const stub = getBoardRoom(testEnv, board.id);
    await evictDurableObject(stub);

    a.send({ type: "presence", cursor: { x: 2, y: 3 } });
    const update = await b.inbox.next("presence", (m) => m.updates.some((u) => u.cursor?.x === 2));
    expect(update.updates).toEqual([expect.objectContaining({ connectionId: a.connectionId, cursor: { x: 2, y: 3 } })]);
    const peers = await stub.listPeers();
    expect(peers.map((p) => p.name).sort()).toEqual(["Member", "Owner"]);
    b.ws.close();
    await a.inbox.next("leave", (m) => m.connectionId === b.connectionId);
    a.ws.close();
  });

  it("answers ping with pong (the platform auto-response, so pings never wake the room)", async () => {
    const board = await sharedBoard("Ping");
    const a = await browserJoin(owner, board.id);
    a.ws.send("ping");
    expect(await a.inbox.nextRaw((t) => t === "pong")).toBe("pong");
    a.ws.close();
  });

  it("drops a peer that has gone silent, once, and tells the others", async () => {
    const board = await sharedBoard("Sweep");
    const a = await browserJoin(owner, board.id);
    const b = await browserJoin(member, board.id);
    const stub = getBoardRoom(testEnv, board.id);
    // A laptop lid closed a minute ago: no pings and no messages since.
    await runInDurableObject(stub, (room: BoardRoom) => {
      for (const c of room.getConnections<{ seenAt: number }>()) {
        if (c.id === b.connectionId && c.state) c.setState({ ...c.state, seenAt: Date.now() - 60_000 });
      }
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await b.closed).code).toBe(4408);
    await a.inbox.next("leave", (m) => m.connectionId === b.connectionId);
    await new Promise((r) => setTimeout(r, 50));
    expect(a.inbox.all("leave")).toHaveLength(1);
    expect((await stub.listPeers()).map((p) => p.connectionId)).toEqual([a.connectionId]);
    a.ws.close();
  });
});

describe("entity events and access changes on open sockets", () => {
  it("a REST write reaches every open socket on the board, and only that board", async () => {
    const board = await sharedBoard("Events");
    const elsewhere = await createBoard(owner.token, "Elsewhere");
    const a = await browserJoin(member, board.id);
    const b = await browserJoin(viewer, board.id);
    const c = await browserJoin(owner, elsewhere.id);

    const zone = await createZone(owner.token, board.id, { name: "Live", x: 5, y: 6 });
    for (const s of [a, b]) {
      const ev = await s.inbox.next("entity", (m) => m.entity === "zone");
      expect(ev).toMatchObject({ op: "created", entity: "zone", id: zone.id, actorId: owner.id });
      expect(ev.row).toEqual(zone);
    }

    const moved = await call(`/api/boards/${board.id}/zones/${zone.id}`, {
      method: "PATCH",
      token: member.token,
      json: { x: 300 },
    });
    const patched = await moved.json<Zone>();
    const ev = await b.inbox.next("entity", (m) => m.op === "patched");
    expect(ev).toMatchObject({ entity: "zone", actorId: member.id, row: patched });

    await call(`/api/boards/${board.id}`, { method: "PATCH", token: owner.token, json: { name: "Renamed" } });
    const renamed = await a.inbox.next("entity", (m) => m.entity === "board");
    expect(renamed.row).toMatchObject({ id: board.id, name: "Renamed" });
    // The board row in the event is everyone's, not the writer's view of it.
    expect(renamed.row).not.toHaveProperty("role");

    await call(`/api/boards/${board.id}/zones/${zone.id}`, { method: "DELETE", token: member.token });
    expect(await b.inbox.next("entity", (m) => m.op === "removed")).toMatchObject({
      entity: "zone",
      id: zone.id,
      row: null,
    });
    expect(c.inbox.all("entity")).toEqual([]);
    for (const s of [a, b, c]) s.ws.close();
  });

  it("a member removed over REST has their socket closed (4403) and the others see them leave", async () => {
    const board = await sharedBoard("Eviction");
    const ownerSock = await browserJoin(owner, board.id);
    const memberSock = await browserJoin(member, board.id);
    const cli = await joinRoom(board.id, { token: member.token });

    await call(`/api/boards/${board.id}/members/${member.id}`, { method: "DELETE", token: owner.token });
    for (const s of [memberSock, cli]) expect((await s.closed).code).toBe(4403);
    const removed = await ownerSock.inbox.next("entity", (m) => m.entity === "member");
    expect(removed).toMatchObject({ op: "removed", id: member.id });
    await ownerSock.inbox.next("leave", (m) => m.connectionId === memberSock.connectionId);
    await ownerSock.inbox.next("leave", (m) => m.connectionId === cli.connectionId);
    expect((await getBoardRoom(testEnv, board.id).listPeers()).map((p) => p.userId)).toEqual([owner.id]);
    await new Promise((r) => setTimeout(r, 100));
    // One leave per socket, even though both the eviction and the close handshake end it.
    expect(
      ownerSock.inbox
        .all("leave")
        .map((m) => m.connectionId)
        .sort(),
    ).toEqual([memberSock.connectionId, cli.connectionId].sort());
    ownerSock.ws.close();
  });

  it("deleting a board closes every socket on it (4404)", async () => {
    const board = await sharedBoard("Doomed");
    const a = await browserJoin(member, board.id);
    const b = await joinRoom(board.id, { token: viewer.token });
    await call(`/api/boards/${board.id}`, { method: "DELETE", token: owner.token });
    for (const s of [a, b]) expect((await s.closed).code).toBe(4404);
    await expectError(openRoom(board.id, { token: owner.token }), 404);
  });
});
