/** Zones are containers: moving one moves its cards, in one write, and every open board hears of each. */
import { beforeAll, expect, it } from "vitest";
import type { Repo, Worktree, Zone } from "../../protocol/index.ts";
import {
  addMember,
  call,
  createBoard,
  createZone,
  joinRoom,
  json,
  registerUsers,
  type TestUser,
} from "../../test/helpers.ts";
import { registerRunner, runNext, testEnv } from "../routes/runner-testkit.ts";

let owner: TestUser;
let viewer: TestUser;
let boardId: string;
let repo: Repo;

beforeAll(async () => {
  [owner, viewer] = await registerUsers("Owner", "Viewer");
  const runner = await registerRunner(owner.token);
  boardId = (await createBoard(owner.token)).id;
  await addMember(owner.token, boardId, viewer, "viewer");
  await call(`/api/runners/${runner.id}/boards`, { method: "POST", token: owner.token, json: { boardId } });
  repo = await json<Repo>(
    call(`/api/runners/${runner.id}/repos`, {
      method: "POST",
      token: owner.token,
      json: { source: { kind: "path", path: "/home/ann/code/app" } },
    }),
  );
  await runNext(runner.credential, {
    status: "succeeded",
    result: { path: "/home/ann/code/app", defaultBranch: "main", branches: ["main"] },
  });
});

const card = (name: string, at: { x: number; y: number }, zoneId: string | null) =>
  json<Worktree>(
    call(`/api/boards/${boardId}/worktrees`, {
      method: "POST",
      token: owner.token,
      json: { repoId: repo.id, name, branch: name, zoneId, ...at },
    }),
  );

const cards = async () =>
  new Map(
    (await json<{ items: Worktree[] }>(call(`/api/boards/${boardId}/worktrees`, { token: owner.token }))).items.map(
      (w) => [w.name, w],
    ),
  );

it("moving a zone moves the cards in it by the same amount, announces each, and leaves other cards alone", async () => {
  const zone = await createZone(owner.token, boardId, { name: "Doing", x: 100, y: 100, width: 600, height: 400 });
  const other = await createZone(owner.token, boardId, { name: "Done", x: 1000, y: 100 });
  await card("in-a", { x: 116, y: 140 }, zone.id);
  await card("in-b", { x: 396, y: 140 }, zone.id);
  await card("elsewhere", { x: 1016, y: 140 }, other.id);
  await card("loose", { x: -400, y: -400 }, null);
  const room = await joinRoom(boardId, { token: viewer.token });
  const after = room.inbox.messages.length;

  const res = await call(`/api/boards/${boardId}/zones/${zone.id}`, {
    method: "PATCH",
    token: owner.token,
    json: { x: 150, y: 40 },
  });
  expect(res.status).toBe(200);
  expect(await res.json<Zone>()).toMatchObject({ x: 150, y: 40 });

  const now = await cards();
  expect(now.get("in-a")).toMatchObject({ x: 166, y: 80, zoneId: zone.id });
  expect(now.get("in-b")).toMatchObject({ x: 446, y: 80, zoneId: zone.id });
  expect(now.get("elsewhere")).toMatchObject({ x: 1016, y: 140 });
  expect(now.get("loose")).toMatchObject({ x: -400, y: -400 });

  // A viewer's board hears of the zone and of each card it carried, with the new positions.
  for (const name of ["in-a", "in-b"]) {
    const id = now.get(name)!.id;
    const e = await room.inbox.next("entity", (m) => m.entity === "worktree" && m.id === id);
    expect(e.row).toMatchObject({ x: now.get(name)!.x, y: now.get(name)!.y });
  }
  await room.inbox.next("entity", (m) => m.entity === "zone" && m.id === zone.id && m.op === "patched");
  const movedIds = room.inbox.messages
    .slice(after)
    .filter((m) => m.type === "entity" && m.entity === "worktree")
    .map((m) => (m as { id: string }).id);
  expect(movedIds.sort()).toEqual([now.get("in-a")!.id, now.get("in-b")!.id].sort());

  // A rename or resize moves nothing.
  await call(`/api/boards/${boardId}/zones/${zone.id}`, { method: "PATCH", token: owner.token, json: { width: 700 } });
  expect((await cards()).get("in-a")).toMatchObject({ x: 166, y: 80 });
});

it("a zone full of cards moves them all in one statement, past D1's 100 bound parameters", async () => {
  const zone = await createZone(owner.token, boardId, { name: "Big", x: 0, y: 2000, width: 5000, height: 5000 });
  // Inserted directly: 120 cards through the API would only slow the test down.
  const ids = Array.from({ length: 120 }, (_, i) => `big-${String(i).padStart(3, "0")}`);
  const db = testEnv.DB;
  const stmt = db.prepare(
    "insert into worktrees (id, board_id, repo_id, runner_id, zone_id, name, branch, x, y, data, created_by, status, created_at, updated_at) select ?1, ?2, ?3, runner_id, ?4, ?1, ?1, ?5, 2100, '{}', ?6, 'ready', 1, 1 from repos where id = ?3",
  );
  await db.batch(ids.map((id, i) => stmt.bind(id, boardId, repo.id, zone.id, i * 10, owner.id)));
  const res = await call(`/api/boards/${boardId}/zones/${zone.id}`, {
    method: "PATCH",
    token: owner.token,
    json: { x: 7, y: 2001 },
  });
  expect(res.status).toBe(200);
  const now = await cards();
  for (const [i, id] of ids.entries()) expect(now.get(id)).toMatchObject({ x: i * 10 + 7, y: 2101 });
});
