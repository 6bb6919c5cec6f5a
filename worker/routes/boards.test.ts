import { beforeAll, describe, expect, it } from "vitest";
import type { Board, Member, Page, Zone } from "../../protocol/index.ts";
import {
  addMember,
  call,
  createBoard,
  createZone,
  expectError,
  json,
  registerUser,
  registerUsers,
  type TestUser,
  testEnv,
} from "../../test/helpers.ts";

let owner: TestUser;
let member: TestUser;
let viewer: TestUser;
let outsider: TestUser;
let spare: TestUser;

beforeAll(async () => {
  // Registration hashes a password (scrypt): a handful of users serves the whole file.
  [owner, member, viewer, outsider, spare] = await registerUsers("Owner", "Member", "Viewer", "Outsider", "Spare");
});

/** A board with one member of each role. */
async function sharedBoard(name = "Shared") {
  const board = await createBoard(owner.token, name);
  await addMember(owner.token, board.id, member, "member");
  await addMember(owner.token, board.id, viewer, "viewer");
  return board;
}

/** Members as userId → role: order within one millisecond is not something to test. */
const roles = (ms: Member[]) => Object.fromEntries(ms.map((m) => [m.userId, m.role]));

const send = (method: string, path: string, token: string, body?: unknown) => call(path, { method, token, json: body });

describe("boards", () => {
  it("creates a board the creator owns", async () => {
    const res = await send("POST", "/api/boards", owner.token, { name: "  Launch  " });
    expect(res.status).toBe(201);
    const board = await res.json<Board>();
    expect(board).toMatchObject({ name: "Launch", ownerId: owner.id, role: "owner" });
    expect(await json(call(`/api/boards/${board.id}`, { token: owner.token }))).toEqual(board);
  });

  it("refuses a board without a name", async () => {
    const err = await expectError(send("POST", "/api/boards", owner.token, { name: "" }), 400, "bad_request");
    expect(err.message).toMatch(/name: must not be empty/);
    await expectError(send("POST", "/api/boards", owner.token, { name: "x".repeat(121) }), 400, "bad_request");
  });

  it("lists only my boards, newest first, a page at a time", async () => {
    const me = await registerUser("Lister");
    const made = [];
    for (const name of ["one", "two", "three"]) made.push(await createBoard(me.token, name));
    await createBoard(owner.token, "not mine");

    const p1 = await json<Page<Board>>(call("/api/boards?limit=2", { token: me.token }));
    expect(p1.items.map((b) => b.name)).toEqual(["three", "two"]);
    expect(p1.items.every((b) => b.role === "owner")).toBe(true);
    expect(p1.nextCursor).toBe(made[1]!.id);

    const p2 = await json<Page<Board>>(call(`/api/boards?limit=2&cursor=${p1.nextCursor}`, { token: me.token }));
    expect(p2.items.map((b) => b.name)).toEqual(["one"]);
    expect(p2.nextCursor).toBeNull();

    const all = await json<Page<Board>>(call("/api/boards", { token: me.token }));
    expect(all.items).toHaveLength(3);
    expect(all.nextCursor).toBeNull();
  });

  it("lists a shared board with my role on it", async () => {
    const board = await sharedBoard("Listed for viewer");
    const page = await json<Page<Board>>(call("/api/boards?limit=200", { token: viewer.token }));
    expect(page.items.find((b) => b.id === board.id)?.role).toBe("viewer");
  });

  it.each(["0", "201", "abc", "1.5"])("refuses limit=%s with 400", async (limit) => {
    const err = await expectError(call(`/api/boards?limit=${limit}`, { token: owner.token }), 400, "bad_request");
    expect(err.message).toMatch(/limit/);
  });

  it("renames a board (member and up) and deletes it (owner only)", async () => {
    const board = await sharedBoard("Old name");
    const renamed = await json<Board>(send("PATCH", `/api/boards/${board.id}`, member.token, { name: "New name" }));
    expect(renamed).toMatchObject({ id: board.id, name: "New name", role: "member" });
    expect(renamed.updatedAt).toBeGreaterThanOrEqual(renamed.createdAt);

    await expectError(send("DELETE", `/api/boards/${board.id}`, member.token), 403, "insufficient_role");
    await createZone(owner.token, board.id);
    expect((await send("DELETE", `/api/boards/${board.id}`, owner.token)).status).toBe(204);
    await expectError(call(`/api/boards/${board.id}`, { token: owner.token }), 404, "not_found");
    await expectError(call(`/api/boards/${board.id}/zones`, { token: member.token }), 404, "not_found");
    await expectError(send("DELETE", `/api/boards/${board.id}`, owner.token), 404, "not_found");
  });

  it("a board that does not exist is 404", async () => {
    await expectError(call("/api/boards/01900000-0000-7000-8000-000000000000", { token: owner.token }), 404);
  });
});

describe("members", () => {
  const members = async (boardId: string, token = owner.token) =>
    (await json<{ items: Member[] }>(call(`/api/boards/${boardId}/members`, { token }))).items;

  it("invites a registered user by email, as member by default", async () => {
    const board = await createBoard(owner.token, "Invites");
    const res = await send("POST", `/api/boards/${board.id}/members`, owner.token, {
      email: member.email.toUpperCase(),
    });
    expect(res.status).toBe(201);
    expect(await res.json<Member>()).toMatchObject({ userId: member.id, email: member.email, role: "member" });
    const list = await members(board.id);
    expect(roles(list)).toEqual({ [owner.id]: "owner", [member.id]: "member" });
    // The invitee now sees the board.
    expect(await json<Board>(call(`/api/boards/${board.id}`, { token: member.token }))).toMatchObject({
      role: "member",
    });
  });

  it("refuses an unknown email (404, saying to sign up) and a duplicate (409)", async () => {
    const board = await sharedBoard("Invite errors");
    const err = await expectError(
      send("POST", `/api/boards/${board.id}/members`, owner.token, { email: "nobody-here@example.com" }),
      404,
      "not_found",
    );
    // One clean sentence (it used to end "…sign up first; a user not found.").
    expect(err.message).toBe("Nobody has signed up with that email yet: ask them to sign up, then invite them.");
    await expectError(
      send("POST", `/api/boards/${board.id}/members`, owner.token, { email: viewer.email, role: "member" }),
      409,
      "already_member",
    );
    expect((await members(board.id)).find((m) => m.userId === viewer.id)?.role).toBe("viewer");
  });

  it("refuses a bad invite body", async () => {
    const board = await createBoard(owner.token, "Bad invites");
    await expectError(send("POST", `/api/boards/${board.id}/members`, owner.token, { email: "nope" }), 400);
    // Ownership is given by promotion, never by invitation.
    await expectError(
      send("POST", `/api/boards/${board.id}/members`, owner.token, { email: member.email, role: "owner" }),
      400,
    );
    await expectError(
      send("POST", `/api/boards/${board.id}/members`, owner.token, { email: member.email, role: "admin" }),
      400,
    );
  });

  it("changes a role, and the new role takes effect", async () => {
    const board = await sharedBoard("Roles");
    const res = await send("PATCH", `/api/boards/${board.id}/members/${viewer.id}`, owner.token, { role: "member" });
    expect(await json<Member>(res)).toMatchObject({ userId: viewer.id, role: "member" });
    expect((await createZone(viewer.token, board.id, { name: "now I can" })).name).toBe("now I can");
    await expectError(
      send("PATCH", `/api/boards/${board.id}/members/${outsider.id}`, owner.token, { role: "member" }),
      404,
      "not_found",
    );
    await expectError(
      send("PATCH", `/api/boards/${board.id}/members/${viewer.id}`, owner.token, { role: "boss" }),
      400,
    );
  });

  it("only owners manage members", async () => {
    const board = await sharedBoard("Owner only");
    await expectError(
      send("POST", `/api/boards/${board.id}/members`, member.token, { email: spare.email }),
      403,
      "insufficient_role",
    );
    await expectError(
      send("PATCH", `/api/boards/${board.id}/members/${viewer.id}`, member.token, { role: "owner" }),
      403,
    );
    await expectError(send("DELETE", `/api/boards/${board.id}/members/${viewer.id}`, member.token), 403);
  });

  it("removes a member, who then gets 404 for the board", async () => {
    const board = await sharedBoard("Removal");
    expect((await send("DELETE", `/api/boards/${board.id}/members/${member.id}`, owner.token)).status).toBe(204);
    await expectError(call(`/api/boards/${board.id}`, { token: member.token }), 404);
    await expectError(send("DELETE", `/api/boards/${board.id}/members/${member.id}`, owner.token), 404, "not_found");
  });

  it("protects the last owner from demotion and removal, but not a second owner", async () => {
    const board = await sharedBoard("Last owner");
    const demote = await expectError(
      send("PATCH", `/api/boards/${board.id}/members/${owner.id}`, owner.token, { role: "member" }),
      400,
      "last_owner",
    );
    expect(demote.message).toMatch(/at least one owner/);
    await expectError(send("DELETE", `/api/boards/${board.id}/members/${owner.id}`, owner.token), 400, "last_owner");

    await send("PATCH", `/api/boards/${board.id}/members/${member.id}`, owner.token, { role: "owner" });
    // With two owners, either may step down; then the other is the last one again.
    expect((await send("DELETE", `/api/boards/${board.id}/members/${owner.id}`, owner.token)).status).toBe(204);
    await expectError(send("DELETE", `/api/boards/${board.id}/members/${member.id}`, member.token), 400, "last_owner");
    expect((await members(board.id, member.token)).filter((m) => m.role === "owner")).toHaveLength(1);
  });

  it("two owners stepping down at once still leave one owner", async () => {
    const board = await sharedBoard("Race");
    await send("PATCH", `/api/boards/${board.id}/members/${member.id}`, owner.token, { role: "owner" });
    const [a, b] = await Promise.all([
      send("PATCH", `/api/boards/${board.id}/members/${owner.id}`, owner.token, { role: "member" }),
      send("DELETE", `/api/boards/${board.id}/members/${member.id}`, member.token),
    ]);
    expect([a.status, b.status].filter((s) => s === 400)).toHaveLength(1);
    expect([a.status, b.status].filter((s) => s < 300)).toHaveLength(1);
    expect((await members(board.id, viewer.token)).filter((m) => m.role === "owner")).toHaveLength(1);
  });

  it("lets a member or viewer leave by themselves", async () => {
    const board = await sharedBoard("Leaving");
    expect((await send("DELETE", `/api/boards/${board.id}/members/${viewer.id}`, viewer.token)).status).toBe(204);
    expect((await send("DELETE", `/api/boards/${board.id}/members/${member.id}`, member.token)).status).toBe(204);
    expect((await members(board.id)).map((m) => m.userId)).toEqual([owner.id]);
  });
});

describe("every board route checks who is asking", () => {
  let board: { id: string };
  let zone: Zone;
  const routes = () => [
    { method: "GET", path: `/api/boards/${board.id}`, write: false },
    { method: "PATCH", path: `/api/boards/${board.id}`, write: true, body: { name: "Hijacked" } },
    { method: "DELETE", path: `/api/boards/${board.id}`, write: true },
    { method: "POST", path: `/api/boards/${board.id}/ticket`, write: false },
    { method: "GET", path: `/api/boards/${board.id}/members`, write: false },
    { method: "POST", path: `/api/boards/${board.id}/members`, write: true, body: { email: spare.email } },
    { method: "PATCH", path: `/api/boards/${board.id}/members/${member.id}`, write: true, body: { role: "viewer" } },
    { method: "DELETE", path: `/api/boards/${board.id}/members/${member.id}`, write: true },
    { method: "GET", path: `/api/boards/${board.id}/zones`, write: false },
    { method: "POST", path: `/api/boards/${board.id}/zones`, write: true, body: { name: "Sneaky" } },
    { method: "PATCH", path: `/api/boards/${board.id}/zones/${zone.id}`, write: true, body: { x: 999 } },
    { method: "DELETE", path: `/api/boards/${board.id}/zones/${zone.id}`, write: true },
  ];

  beforeAll(async () => {
    board = await sharedBoard("Guarded");
    zone = await createZone(owner.token, board.id, { name: "Guarded zone", x: 10, y: 20 });
  });

  it("a viewer can read everything and change nothing", async () => {
    for (const r of routes()) {
      const res = await send(r.method, r.path, viewer.token, r.body);
      if (r.write) await expectError(res, 403, "insufficient_role");
      else expect(res.status, `${r.method} ${r.path}`).toBeLessThan(300);
    }
  });

  it("a non-member gets 404 on every route, reads and writes alike", async () => {
    for (const r of routes()) {
      const err = await expectError(send(r.method, r.path, outsider.token, r.body), 404, "not_found");
      expect(err.message).toBe("Board not found.");
    }
  });

  it("nothing changed after all those refusals", async () => {
    expect(await json<Board>(call(`/api/boards/${board.id}`, { token: owner.token }))).toMatchObject({
      name: "Guarded",
    });
    const { items: zones } = await json<{ items: Zone[] }>(
      call(`/api/boards/${board.id}/zones`, { token: owner.token }),
    );
    expect(zones).toEqual([zone]);
    const { items } = await json<{ items: Member[] }>(call(`/api/boards/${board.id}/members`, { token: owner.token }));
    expect(roles(items)).toEqual({ [owner.id]: "owner", [member.id]: "member", [viewer.id]: "viewer" });
  });

  it("without a token, every route asks for sign-in", async () => {
    for (const r of routes()) await expectError(call(r.path, { method: r.method, json: r.body }), 401, "unauthorized");
  });
});

describe("zones", () => {
  let board: { id: string };
  beforeAll(async () => {
    board = await sharedBoard("Zones");
  });
  const zonesPath = () => `/api/boards/${board.id}/zones`;

  it("creates a zone with defaults for what is left out", async () => {
    const res = await send("POST", zonesPath(), member.token, { name: "Backlog" });
    expect(res.status).toBe(201);
    const zone = await res.json<Zone>();
    expect(zone).toMatchObject({
      boardId: board.id,
      name: "Backlog",
      color: "#7c3aed",
      x: 0,
      y: 0,
      width: 480,
      height: 320,
      promptTemplate: "",
    });
    const { items } = await json<{ items: Zone[] }>(call(zonesPath(), { token: viewer.token }));
    expect(items).toContainEqual(zone);
  });

  it("patches only what is sent, and the change persists", async () => {
    const zone = await createZone(member.token, board.id, { name: "Doing", x: 100, y: 200, color: "#16a34a" });
    const patched = await json<Zone>(
      send("PATCH", `${zonesPath()}/${zone.id}`, member.token, { x: -50.5, width: 640 }),
    );
    expect(patched).toMatchObject({ name: "Doing", color: "#16a34a", x: -50.5, y: 200, width: 640, height: 320 });
    const renamed = await json<Zone>(send("PATCH", `${zonesPath()}/${zone.id}`, member.token, { name: "Done" }));
    expect(renamed).toMatchObject({ name: "Done", x: -50.5, width: 640 });
    const { items } = await json<{ items: Zone[] }>(call(zonesPath(), { token: owner.token }));
    expect(items.find((z) => z.id === zone.id)).toEqual(renamed);
  });

  it("deleting a zone keeps its worktrees on the board, out of any zone", async () => {
    const zone = await createZone(member.token, board.id, { name: "Has worktrees" });
    const db = testEnv.DB;
    const ids = { runner: crypto.randomUUID(), repo: crypto.randomUUID(), wt: crypto.randomUUID() };
    await db.batch([
      db.prepare("INSERT INTO runners (id, owner_id, name) VALUES (?, ?, 'r')").bind(ids.runner, owner.id),
      db
        .prepare("INSERT INTO repos (id, runner_id, name, created_by) VALUES (?, ?, 'repo', ?)")
        .bind(ids.repo, ids.runner, owner.id),
      db
        .prepare(
          "INSERT INTO worktrees (id, board_id, repo_id, runner_id, zone_id, name, branch, created_by) VALUES (?, ?, ?, ?, ?, 'wt', 'main', ?)",
        )
        .bind(ids.wt, board.id, ids.repo, ids.runner, zone.id, owner.id),
    ]);
    expect((await send("DELETE", `${zonesPath()}/${zone.id}`, member.token)).status).toBe(204);
    const wt = await db.prepare("SELECT board_id, zone_id FROM worktrees WHERE id = ?").bind(ids.wt).first();
    expect(wt).toEqual({ board_id: board.id, zone_id: null });
  });

  it("deletes a zone", async () => {
    const zone = await createZone(member.token, board.id, { name: "Temp" });
    expect((await send("DELETE", `${zonesPath()}/${zone.id}`, member.token)).status).toBe(204);
    await expectError(send("DELETE", `${zonesPath()}/${zone.id}`, member.token), 404, "not_found");
    await expectError(send("PATCH", `${zonesPath()}/${zone.id}`, member.token, { x: 1 }), 404, "not_found");
  });

  // JSON cannot carry NaN or Infinity, but 1e999 parses to Infinity; NaN arrives as null.
  const rawBody = (s: string) => ({ body: s, headers: { "content-type": "application/json" } });
  it.each([
    ["an empty name", JSON.stringify({ name: "" }), /name: must not be empty/],
    ["a blank name", JSON.stringify({ name: "   " }), /name: must not be empty/],
    ["no name", JSON.stringify({ x: 1 }), /name/],
    ["an infinite x", '{"name":"Z","x":1e999}', /x:/],
    ["a NaN y (null)", '{"name":"Z","y":null}', /y:/],
    ["a huge x", JSON.stringify({ name: "Z", x: 1e12 }), /x:/],
    ["a string x", JSON.stringify({ name: "Z", x: "10" }), /x:/],
    ["a tiny width", JSON.stringify({ name: "Z", width: 1 }), /width:/],
    ["a negative height", JSON.stringify({ name: "Z", height: -100 }), /height:/],
    ["a bad color", JSON.stringify({ name: "Z", color: "red" }), /color: must be a hex color/],
    ["an array", "[]", /expected object/],
    ["null", "null", /expected object/],
  ])("refuses creating a zone with %s (400, with a message)", async (_, body, why) => {
    const res = call(zonesPath(), { method: "POST", token: member.token, ...rawBody(body) });
    const err = await expectError(res, 400, "bad_request");
    expect(err.message).toMatch(why);
  });

  it.each([
    ["an empty patch", "{}", /nothing to change/],
    ["only unknown fields", JSON.stringify({ boardId: "elsewhere" }), /nothing to change/],
    ["an empty name", JSON.stringify({ name: "" }), /name: must not be empty/],
    ["an infinite width", '{"width":1e999}', /width:/],
    ["a null x", '{"x":null}', /x:/],
    ["a huge y", JSON.stringify({ y: -1e9 }), /y:/],
    ["a bad color", JSON.stringify({ color: "#12345" }), /color:/],
  ])("refuses a zone patch with %s (400, with a message)", async (_, body, why) => {
    const zone = await createZone(member.token, board.id, { name: "Patch target" });
    const res = call(`${zonesPath()}/${zone.id}`, { method: "PATCH", token: member.token, ...rawBody(body) });
    const err = await expectError(res, 400, "bad_request");
    expect(err.message).toMatch(why);
  });

  it("a zone is reached only through its own board", async () => {
    const mine = await createBoard(owner.token, "Other board");
    const zone = await createZone(owner.token, mine.id, { name: "Elsewhere" });
    // The owner of both boards still cannot reach the zone through the wrong board.
    await expectError(send("PATCH", `${zonesPath()}/${zone.id}`, owner.token, { x: 5 }), 404, "not_found");
    await expectError(send("DELETE", `${zonesPath()}/${zone.id}`, owner.token), 404, "not_found");
    const { items } = await json<{ items: Zone[] }>(call(`/api/boards/${mine.id}/zones`, { token: owner.token }));
    expect(items).toEqual([zone]);
  });
});

describe("request bodies", () => {
  it("invalid JSON is 400 bad_json", async () => {
    const board = await createBoard(owner.token, "Bodies");
    for (const [path, method] of [
      ["/api/boards", "POST"],
      [`/api/boards/${board.id}`, "PATCH"],
      [`/api/boards/${board.id}/zones`, "POST"],
      ["/api/auth/login", "POST"],
      ["/api/tokens", "POST"],
    ] as const) {
      const res = call(path, {
        method,
        token: owner.token,
        body: '{"name": "unterminated',
        headers: { "content-type": "application/json" },
      });
      const err = await expectError(res, 400, "bad_json");
      expect(err.message).toMatch(/not valid JSON/);
    }
  });

  it("a body that is not declared as JSON is refused with a message, not ignored", async () => {
    const err = await expectError(
      call("/api/boards", { method: "POST", token: owner.token, body: JSON.stringify({ name: "x" }) }),
      400,
    );
    expect(err.message).toMatch(/Send the body as JSON/);
  });

  it("a body over 256 KiB is 413, with or without a Content-Length", async () => {
    const board = await createBoard(owner.token, "Big");
    const big = JSON.stringify({ name: "Big", promptTemplate: "x".repeat(300 * 1024) });
    const err = await expectError(
      call(`/api/boards/${board.id}/zones`, { method: "POST", token: owner.token, json: JSON.parse(big) }),
      413,
      "too_large",
    );
    expect(err.message).toMatch(/256 KiB/);

    const bytes = new TextEncoder().encode(big);
    const stream = new ReadableStream({
      start(c) {
        for (let i = 0; i < bytes.length; i += 64 * 1024) c.enqueue(bytes.slice(i, i + 64 * 1024));
        c.close();
      },
    });
    await expectError(
      call(`/api/boards/${board.id}/zones`, {
        method: "POST",
        token: owner.token,
        body: stream,
        headers: { "content-type": "application/json" },
      }),
      413,
      "too_large",
    );
    const { items } = await json<{ items: Zone[] }>(call(`/api/boards/${board.id}/zones`, { token: owner.token }));
    expect(items).toEqual([]);
  });
});
