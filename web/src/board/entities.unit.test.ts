import { beforeEach, describe, expect, it } from "vitest";
import { type BoardNode, isCard, isZone, type WorktreeNode, type ZoneNode } from "./cards.ts";
import { BoardEntities } from "./entities.ts";
import { boardRow, cardRow, entityEvent, ME, memberRow, OTHER, zoneRow } from "./testkit.ts";

/** The entity reducer on its own: room events in, store slices out. */

let entities: BoardEntities;
const card = (id: string) => entities.node(id) as WorktreeNode | undefined;
const zone = (id: string) => entities.node(id) as ZoneNode | undefined;
/** How many times a slice told its subscribers it changed. */
function wakes(store: { subscribe(l: () => void): () => void }) {
  const seen = { n: 0 };
  store.subscribe(() => seen.n++);
  return seen;
}

beforeEach(() => {
  entities = new BoardEntities(ME);
  entities.takeMeta(boardRow({ role: "member" }), [], [memberRow(ME)]);
});

describe("worktree events", () => {
  it("create, patch and remove a card", () => {
    entities.apply(entityEvent("worktree", "created", "w1", cardRow("w1", { x: 10, y: 20 })));
    expect(card("w1")?.position).toEqual({ x: 10, y: 20 });
    expect(card("w1")?.type).toBe("worktree");

    entities.apply(entityEvent("worktree", "patched", "w1", cardRow("w1", { x: 30, name: "renamed", updatedAt: 2 })));
    expect(card("w1")?.data.wt.name).toBe("renamed");
    expect(card("w1")?.position).toEqual({ x: 30, y: 0 });

    entities.apply(entityEvent("worktree", "removed", "w1", null));
    expect(card("w1")).toBeUndefined();
  });

  it("ignores a row older than the one it has, without waking anyone", () => {
    entities.apply(entityEvent("worktree", "created", "w1", cardRow("w1", { name: "new", updatedAt: 5 })));
    const before = entities.nodes.get();
    const seen = wakes(entities.nodes);
    entities.apply(entityEvent("worktree", "patched", "w1", cardRow("w1", { name: "stale", updatedAt: 4 })));
    expect(entities.nodes.get()).toBe(before);
    expect(seen.n).toBe(0);
    expect(card("w1")?.data.wt.name).toBe("new");
  });

  it("skips the echo of our own write in flight, not someone else's", () => {
    entities.apply(entityEvent("worktree", "created", "w1", cardRow("w1")));
    entities.track("w1", 1);
    entities.apply(entityEvent("worktree", "patched", "w1", cardRow("w1", { x: 99, updatedAt: 2 }), ME));
    expect(card("w1")?.position.x).toBe(0);

    entities.apply(entityEvent("worktree", "patched", "w1", cardRow("w1", { x: 50, updatedAt: 3 }), OTHER));
    expect(card("w1")?.position.x).toBe(50);

    // Once our last write is answered, our own events apply again (another tab of ours).
    expect(entities.track("w1", -1)).toBe(0);
    entities.apply(entityEvent("worktree", "patched", "w1", cardRow("w1", { x: 70, updatedAt: 4 }), ME));
    expect(card("w1")?.position.x).toBe(70);
  });

  it("keeps the local position of a card this tab is dragging", () => {
    entities.apply(entityEvent("worktree", "created", "w1", cardRow("w1")));
    entities.setNodes((ns) => ns.map((n) => (n.id === "w1" ? { ...n, dragging: true, position: { x: 5, y: 5 } } : n)));
    entities.apply(entityEvent("worktree", "patched", "w1", cardRow("w1", { x: 400, name: "moved", updatedAt: 2 })));
    expect(card("w1")?.position).toEqual({ x: 5, y: 5 });
    expect(card("w1")?.data.wt.name).toBe("moved");
  });
});

describe("zone events", () => {
  it("create, patch and remove a zone; zones draw under cards", () => {
    entities.apply(entityEvent("zone", "created", "z1", zoneRow("z1", { x: 100 })));
    expect(zone("z1")?.position).toEqual({ x: 100, y: 0 });
    expect(zone("z1")?.zIndex).toBeLessThan(-1000);

    entities.apply(entityEvent("zone", "patched", "z1", zoneRow("z1", { name: "Review", width: 800, updatedAt: 2 })));
    expect(zone("z1")?.data.zone.name).toBe("Review");
    expect(zone("z1")?.width).toBe(800);

    entities.apply(entityEvent("zone", "patched", "z1", zoneRow("z1", { name: "stale", updatedAt: 1 })));
    expect(zone("z1")?.data.zone.name).toBe("Review");

    entities.apply(entityEvent("zone", "removed", "z1", null));
    expect(zone("z1")).toBeUndefined();
  });

  it("a removed zone lets go of its cards, as the server did", () => {
    entities.apply(entityEvent("zone", "created", "z1", zoneRow("z1")));
    entities.apply(entityEvent("worktree", "created", "w1", cardRow("w1", { zoneId: "z1" })));
    entities.apply(entityEvent("worktree", "created", "w2", cardRow("w2", { zoneId: "z2" })));
    entities.apply(entityEvent("zone", "removed", "z1", null));
    expect(card("w1")?.data.wt.zoneId).toBeNull();
    expect(card("w2")?.data.wt.zoneId).toBe("z2");
  });

  it("skips the echo of our own zone write in flight", () => {
    entities.apply(entityEvent("zone", "created", "z1", zoneRow("z1")));
    entities.track("z1", 1);
    entities.apply(entityEvent("zone", "patched", "z1", zoneRow("z1", { name: "echo", updatedAt: 2 }), ME));
    expect(zone("z1")?.data.zone.name).toBe("Zone z1");
  });
});

describe("board and member events", () => {
  it("a board patch keeps our own role; a removal says why we leave", () => {
    const { role: _, ...row } = boardRow({ name: "Renamed", role: "owner", updatedAt: 2 });
    entities.apply(entityEvent("board", "patched", "b1", row));
    expect(entities.board.get()).toMatchObject({ name: "Renamed", role: "member" });
    expect(entities.gone.get()).toBeNull();
    entities.apply(entityEvent("board", "removed", "b1", null));
    expect(entities.gone.get()).toBe("This board was deleted.");
  });

  it("members join, change role and leave; our own role change reaches the board", () => {
    entities.apply(entityEvent("member", "created", OTHER, { ...memberRow(OTHER), id: OTHER }));
    expect(entities.members.get().map((m) => m.userId)).toEqual([ME, OTHER]);

    entities.apply(entityEvent("member", "patched", OTHER, { ...memberRow(OTHER, { role: "viewer" }), id: OTHER }));
    expect(entities.members.get().find((m) => m.userId === OTHER)?.role).toBe("viewer");
    expect(entities.board.get()?.role).toBe("member");

    entities.apply(entityEvent("member", "patched", ME, { ...memberRow(ME, { role: "viewer" }), id: ME }));
    expect(entities.board.get()?.role).toBe("viewer");

    entities.apply(entityEvent("member", "removed", OTHER, null));
    expect(entities.members.get().map((m) => m.userId)).toEqual([ME]);
    expect(entities.gone.get()).toBeNull();

    entities.apply(entityEvent("member", "removed", ME, null));
    expect(entities.gone.get()).toBe("You were removed from this board.");
  });

  it("a member change does not wake the canvas, nor a card change the members", () => {
    const canvas = wakes(entities.nodes);
    const members = wakes(entities.members);
    entities.apply(entityEvent("member", "created", OTHER, { ...memberRow(OTHER), id: OTHER }));
    expect([canvas.n, members.n]).toEqual([0, 1]);
    entities.apply(entityEvent("worktree", "created", "w1", cardRow("w1")));
    expect([canvas.n, members.n]).toEqual([1, 1]);
  });

  it("leaves jobs, runners and repos to their own stores", () => {
    const before = entities.nodes.get();
    const seen = [wakes(entities.nodes), wakes(entities.members), wakes(entities.board)];
    entities.apply(
      entityEvent("job", "created", "j1", {
        id: "j1",
        runnerId: "run1",
        boardId: "b1",
        type: "worktree.create",
        payload: {
          worktreeId: "w1",
          repoId: "r1",
          name: "wt-w1",
          mode: "new",
          branch: "br-w1",
          baseBranch: null,
        },
        status: "queued",
        attempts: 0,
        cancelRequested: false,
        result: null,
        error: null,
        createdAt: 1,
        updatedAt: 1,
      }),
    );
    entities.apply(entityEvent("runner", "removed", "run1", null));
    expect(entities.nodes.get()).toBe(before);
    expect(seen.map((s) => s.n)).toEqual([0, 0, 0]);
  });
});

describe("snapshots", () => {
  const ids = (ns: BoardNode[]) => ns.map((n) => n.id);

  it("a re-read keeps the node objects of unchanged rows, and the array when nothing changed", () => {
    entities.takeCards([cardRow("w1"), cardRow("w2")]);
    const first = entities.nodes.get();
    entities.takeCards([cardRow("w1"), cardRow("w2")]);
    expect(entities.nodes.get()).toBe(first);
    entities.takeCards([cardRow("w1"), cardRow("w2", { updatedAt: 2, name: "two" })]);
    expect(entities.node("w1")).toBe(first[0]);
    expect(card("w2")?.data.wt.name).toBe("two");
  });

  it("zones come first; a zone or card with our write in flight keeps our version", () => {
    entities.takeCards([cardRow("w1")]);
    entities.takeMeta(boardRow(), [zoneRow("z1"), zoneRow("z2")], [memberRow(ME)]);
    expect(ids(entities.nodes.get())).toEqual(["z1", "z2", "w1"]);
    expect(entities.nodes.get().filter(isZone)).toHaveLength(2);

    entities.setNodes((ns) =>
      ns.map((n) => (n.id === "z1" && isZone(n) ? { ...n, data: { zone: { ...n.data.zone, name: "mine" } } } : n)),
    );
    entities.track("z1", 1);
    entities.track("w1", 1);
    entities.takeMeta(boardRow(), [zoneRow("z1", { name: "theirs", updatedAt: 9 })], [memberRow(ME)]);
    entities.takeCards([cardRow("w1", { name: "theirs", updatedAt: 9 })]);
    expect(zone("z1")?.data.zone.name).toBe("mine");
    expect(card("w1")?.data.wt.name).toBe("wt-w1");
    expect(entities.nodes.get().filter(isCard)).toHaveLength(1);
  });

  it("drops cards a complete read did not see, within its range, unless a write of ours is in flight", () => {
    entities.takeCards(["w1", "w2", "w3", "w4"].map((id) => cardRow(id)));
    entities.track("w2", 1);
    entities.dropUnseen(new Set(["w3"]), "w3");
    expect(ids(entities.nodes.get())).toEqual(["w2", "w3", "w4"]);
    entities.dropUnseen(new Set(["w3"]));
    expect(ids(entities.nodes.get())).toEqual(["w2", "w3"]);
  });
});
