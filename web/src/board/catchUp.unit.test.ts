import { beforeEach, describe, expect, it, vi } from "vitest";
import type { EntityEvent } from "../../../protocol/index.ts";
import { isCard } from "./cards.ts";
import { CatchUp } from "./catchUp.ts";
import { BoardEntities } from "./entities.ts";
import { CardJobs } from "./jobs.ts";
import { BOARD_ID, cardRow, entityEvent, FakeBoardApi, ME, zoneRow } from "./testkit.ts";

/**
 * The catch-up protocol against a fake of the API's answers: what a read finds, and the room's
 * events that arrive around it, in every order that matters.
 */

let server: FakeBoardApi;
let entities: BoardEntities;
let jobs: CardJobs;
let catchUp: CatchUp;
let applied: EntityEvent[];

const cards = () =>
  entities.nodes
    .get()
    .filter(isCard)
    .map((n) => n.id);
const CARDS = `GET /api/boards/${BOARD_ID}/worktrees`;
const META = `GET /api/boards/${BOARD_ID}/zones`;
const ids = (n: number, from = 1) => Array.from({ length: n }, (_, i) => `w${String(from + i).padStart(4, "0")}`);

beforeEach(() => {
  server = new FakeBoardApi();
  entities = new BoardEntities(ME);
  jobs = new CardJobs();
  applied = [];
  catchUp = new CatchUp(server.client, BOARD_ID, entities, {
    apply: (e) => {
      applied.push(e);
      entities.apply(e);
    },
    afterRead: () => jobs.clear(),
  });
});

describe("a read", () => {
  it("shows the board once its meta and first page are in, and counts cards while loading", async () => {
    server.zones = [zoneRow("z1")];
    server.setCards(ids(700).map((id) => cardRow(id)));
    const progress: (number | null)[] = [];
    catchUp.firstLoad.subscribe(() => progress.push(catchUp.firstLoad.get()));
    let shownWith = -1;
    await catchUp.run(() => {
      shownWith = cards().length;
    });
    expect(shownWith).toBe(500);
    expect(progress).toEqual([500, 700, null]);
    expect(entities.nodes.get()[0]?.id).toBe("z1");
    expect(cards()).toHaveLength(700);
    expect(server.count(CARDS)).toBe(2);
  });

  it("drops cards removed while we were away, but not one with our write in flight", async () => {
    server.setCards(ids(4).map((id) => cardRow(id)));
    await catchUp.run();
    expect(cards()).toEqual(ids(4));
    server.setCards([cardRow("w0001"), cardRow("w0004")]);
    entities.track("w0003", 1);
    await catchUp.run();
    expect(cards()).toEqual(["w0001", "w0003", "w0004"]);
  });

  it("clears open card jobs after every read (an end we never heard of)", async () => {
    jobs.apply({
      id: "j1",
      runnerId: "run1",
      boardId: BOARD_ID,
      type: "worktree.refresh",
      payload: { worktreeId: "w0001", repoId: "r1", name: "wt-w0001", baseBranch: null },
      status: "running",
      attempts: 1,
      cancelRequested: false,
      result: null,
      error: null,
      createdAt: 1,
      updatedAt: 1,
    });
    await catchUp.run();
    expect(jobs.get("w0001")).toBeUndefined();
  });
});

describe("events during a read", () => {
  it("are applied on top of the snapshot, never under it", async () => {
    server.setCards([cardRow("w0001"), cardRow("w0002")]);
    const page = server.hold(CARDS);
    const done = catchUp.run();
    await page.arrival;
    // Meanwhile: someone makes a card and deletes another; the read in flight predates both.
    catchUp.onEntity(entityEvent("worktree", "created", "w0003", cardRow("w0003")));
    catchUp.onEntity(entityEvent("worktree", "removed", "w0001", null));
    catchUp.onEntity(entityEvent("zone", "created", "z9", zoneRow("z9")));
    expect(applied).toEqual([]);
    page.release();
    await done;
    expect(cards()).toEqual(["w0002", "w0003"]);
    expect(entities.node("z9")).toBeDefined();
    expect(applied.map((e) => e.id)).toEqual(["w0003", "w0001", "z9"]);
  });

  it("are applied at once when no read is running", async () => {
    await catchUp.run();
    catchUp.onEntity(entityEvent("worktree", "created", "w0001", cardRow("w0001")));
    expect(cards()).toEqual(["w0001"]);
  });

  it("past the buffer's size, read once more instead of queueing without end", async () => {
    const page = server.hold(CARDS);
    const done = catchUp.run();
    await page.arrival;
    for (const id of ids(501)) catchUp.onEntity(entityEvent("worktree", "created", id, cardRow(id)));
    // The read that follows finds the card whose event did not fit.
    server.setCards(ids(501).map((id) => cardRow(id)));
    page.release();
    await done;
    expect(applied).toHaveLength(500);
    await vi.waitFor(() => expect(server.count(META)).toBe(2));
    await vi.waitFor(() => expect(cards()).toHaveLength(501));
  });
});

describe("a join during a read", () => {
  it("re-reads only the part read before the join", async () => {
    server.setCards(ids(700).map((id) => cardRow(id)));
    const first = server.hold(CARDS);
    const done = catchUp.run();
    await first.arrival;
    // The room (re)joins while page 1 is in flight: its answer may predate a change we missed.
    catchUp.joined();
    server.cards[0] = cardRow("w0001", { name: "changed", updatedAt: 2 });
    first.release();
    await done;
    expect(server.log.filter((l) => l.startsWith(CARDS))).toEqual([
      `${CARDS}?limit=500`,
      `${CARDS}?limit=500&cursor=w0500`,
      `${CARDS}?limit=500`,
    ]);
    expect(server.count(META)).toBe(2);
    expect((entities.node("w0001") as { data: { wt: { name: string } } }).data.wt.name).toBe("changed");
    expect(cards()).toHaveLength(700);
  });

  it("after the last page went out, re-reads all of it", async () => {
    server.setCards(ids(3).map((id) => cardRow(id)));
    const page = server.hold(CARDS);
    const done = catchUp.run();
    await page.arrival;
    catchUp.joined();
    page.release();
    await done;
    expect(server.count(CARDS)).toBe(2);
  });
});
