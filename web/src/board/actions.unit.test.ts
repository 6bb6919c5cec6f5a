import { beforeEach, describe, expect, it } from "vitest";
import { BoardActions } from "./actions.ts";
import type { WorktreeNode, ZoneNode } from "./cards.ts";
import { BoardEntities } from "./entities.ts";
import { CardJobs } from "./jobs.ts";
import { BOARD_ID, boardRow, cardRow, entityEvent, FakeBoardApi, ME, memberRow, zoneRow } from "./testkit.ts";

/** Writes: optimistic on the canvas, confirmed or rolled back by the API's answer, and undo. */

let server: FakeBoardApi;
let entities: BoardEntities;
let actions: BoardActions;
const card = (id: string) => (entities.node(id) as WorktreeNode | undefined)?.data.wt;
const zone = (id: string) => (entities.node(id) as ZoneNode | undefined)?.data.zone;

beforeEach(() => {
  server = new FakeBoardApi();
  server.zones = [zoneRow("z1", { x: 0, y: 0 })];
  server.setCards([cardRow("w1", { zoneId: "z1", x: 16, y: 40 }), cardRow("w2", { x: 900, y: 900 })]);
  entities = new BoardEntities(ME);
  entities.takeMeta(boardRow(), structuredClone(server.zones), [memberRow(ME)]);
  entities.takeCards(structuredClone(server.cards));
  actions = new BoardActions(server.client, BOARD_ID, entities, new CardJobs());
});

describe("patchWorktree", () => {
  it("shows the change at once, skips its own echo meanwhile, and takes the API's row", async () => {
    const write = actions.patchWorktree("w2", { x: 500 });
    expect(card("w2")?.x).toBe(500);
    // Our own echo arrives before the answer: it is not applied over the optimistic state.
    entities.apply(entityEvent("worktree", "patched", "w2", cardRow("w2", { x: 1, updatedAt: 9 }), ME));
    expect(card("w2")?.x).toBe(500);
    await write;
    expect(card("w2")).toMatchObject({ x: 500, updatedAt: 2 });
    expect(entities.isPending("w2")).toBe(false);
  });

  it("rolls back when refused, and drops a card that is gone", async () => {
    server.fail(`PATCH /api/boards/${BOARD_ID}/worktrees/w2`, 500);
    await actions.patchWorktree("w2", { x: 500 });
    expect(card("w2")?.x).toBe(900);
    server.cards = server.cards.filter((c) => c.id !== "w2");
    await actions.patchWorktree("w2", { x: 500 });
    expect(card("w2")).toBeUndefined();
  });
});

describe("patchZone", () => {
  it("carries its cards, and puts them back if refused", async () => {
    server.fail(`PATCH /api/boards/${BOARD_ID}/zones/z1`, 500);
    const write = actions.patchZone("z1", { x: 100, y: 50 });
    expect(entities.node("z1")?.position).toEqual({ x: 100, y: 50 });
    expect(card("w1")).toMatchObject({ x: 116, y: 90 });
    expect(card("w2")).toMatchObject({ x: 900, y: 900 });
    await write;
    expect(zone("z1")).toMatchObject({ x: 0, y: 0 });
    expect(card("w1")).toMatchObject({ x: 16, y: 40 });
  });
});

describe("undo", () => {
  it("puts back every write of the last gesture, and only that one", async () => {
    await actions.patchWorktree("w2", { x: 300 });
    const gesture = actions.newGesture();
    await Promise.all([
      actions.patchZone("z1", { height: 500 }, { gesture }),
      actions.patchWorktree("w2", { x: 400, y: 10 }, { gesture }),
    ]);
    expect(await actions.undo()).toBe(true);
    expect(zone("z1")?.height).toBe(344);
    expect(card("w2")).toMatchObject({ x: 300, y: 900 });
    expect(server.zones[0]?.height).toBe(344);
    expect(await actions.undo()).toBe(true);
    expect(card("w2")?.x).toBe(900);
    expect(await actions.undo()).toBe(false);
  });
});

describe("removeZone", () => {
  it("goes at once and comes back if refused", async () => {
    server.fail(`DELETE /api/boards/${BOARD_ID}/zones/z1`, 500);
    const write = actions.removeZone("z1");
    expect(entities.node("z1")).toBeUndefined();
    await write;
    expect(entities.node("z1")).toBeDefined();
    await actions.removeZone("z1");
    expect(entities.node("z1")).toBeUndefined();
    expect(server.zones).toEqual([]);
  });
});
