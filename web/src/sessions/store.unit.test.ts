import { beforeEach, describe, expect, it, vi } from "vitest";
import type { EntityEvent } from "../../../protocol/index.ts";
import { CatchUp } from "../board/catchUp.ts";
import { BoardEntities } from "../board/entities.ts";
import { BOARD_ID, entityEvent, ME, settle } from "../board/testkit.ts";
import { BoardSessions } from "./store.ts";
import { FakeSessionsApi, messageRow, permissionRow, piece, sessionRow, taskRow } from "./testkit.ts";

/**
 * The sessions store over a real `hc` client on fake HTTP answers: the list read, room events,
 * an open panel's pages merged with message events and stream frames, and catching up after a
 * reconnect through the board's own catch-up.
 */

let server: FakeSessionsApi;
let store: BoardSessions;
const SESSIONS = `GET /api/boards/${BOARD_ID}/sessions`;
const messagesOf = (id: string) => `GET /api/boards/${BOARD_ID}/sessions/${id}/messages`;

/** How many times a slice told its subscribers it changed. */
function wakes(s: { subscribe(l: () => void): () => void }) {
  const seen = { n: 0 };
  s.subscribe(() => seen.n++);
  return seen;
}

beforeEach(() => {
  server = new FakeSessionsApi();
  store = new BoardSessions(server.client, BOARD_ID);
});

describe("the board's sessions", () => {
  it("are read by pages and shown per worktree as a genealogy tree, with totals", async () => {
    server.sessions = [
      sessionRow("s1", { usage: { input: 100, output: 50, cacheRead: 0, cacheWrite: 0 }, costMicros: 1000 }),
      sessionRow("s2", { parentId: "s1", origin: "fork" }),
      sessionRow("s3", { parentId: "s2", origin: "spawn", status: "awaiting_permission" }),
      sessionRow("s4"),
      sessionRow("s5", { worktreeId: "w2", parentId: "s1", origin: "fork", unpriced: true }),
    ];
    await store.readAll();
    const w1 = store.byWorktree.get().get("w1")!;
    expect(w1.nodes.map((n) => [n.session.id, n.depth, n.mark])).toEqual([
      ["s1", 0, null],
      ["s2", 1, "fork"],
      ["s3", 2, "spawn"],
      ["s4", 0, null],
    ]);
    expect(w1.awaiting).toBe(1);
    expect(w1.costMicros).toBe(1000);
    // A fork into another worktree is a root there, still marked as a fork.
    expect(
      store.byWorktree
        .get()
        .get("w2")!
        .nodes.map((n) => [n.session.id, n.depth, n.mark]),
    ).toEqual([["s5", 0, "fork"]]);
    expect(store.totals.get()).toMatchObject({ costMicros: 1000, unpriced: true, sessions: 5 });
    expect(store.loaded.get()).toBe(true);
  });

  it("take the room's live now-doing line: only that card's slice changes, and a stored row replaces it", async () => {
    server.sessions = [
      sessionRow("s1", { status: "running", nowDoing: "read src/app.ts", updatedAt: 5 }),
      sessionRow("s2", { worktreeId: "w2", status: "running" }),
      sessionRow("s3", { worktreeId: "w3", status: "completed", nowDoing: null }),
    ];
    await store.readAll();
    const [w2, w3] = [store.byWorktree.get().get("w2"), store.byWorktree.get().get("w3")];
    const totals = wakes(store.totals);
    store.onDoing([{ sessionId: "s1", nowDoing: "Now I write the tests" }]);
    expect(store.byWorktree.get().get("w1")!.nodes[0]!.session.nowDoing).toBe("Now I write the tests");
    expect(store.byWorktree.get().get("w2")).toBe(w2);
    expect(store.byWorktree.get().get("w3")).toBe(w3);
    expect(totals.n).toBe(0);
    // The same line again, or a line for a session that is no longer running, changes nothing.
    const w1 = store.byWorktree.get().get("w1");
    const slices = wakes(store.byWorktree);
    store.onDoing([
      { sessionId: "s1", nowDoing: "Now I write the tests" },
      { sessionId: "s3", nowDoing: "late text" },
      { sessionId: "nope", nowDoing: "unknown" },
    ]);
    expect(slices.n).toBe(0);
    expect(store.byWorktree.get().get("w1")).toBe(w1);
    expect(store.get("s3")?.nowDoing).toBeNull();
    // The stored row that follows (its message was written) says what it does now.
    store.apply(
      entityEvent(
        "session",
        "patched",
        "s1",
        sessionRow("s1", { status: "running", nowDoing: "shell: npm test", updatedAt: 6 }),
      ),
    );
    expect(store.get("s1")?.nowDoing).toBe("shell: npm test");
  });

  it("follow their events; one worktree's change leaves every other card's slice as it was", async () => {
    server.sessions = [sessionRow("s1"), sessionRow("s2", { worktreeId: "w2" })];
    await store.readAll();
    const w2 = store.byWorktree.get().get("w2");
    const totals = wakes(store.totals);
    store.apply(
      entityEvent("session", "patched", "s1", sessionRow("s1", { nowDoing: "read src/app.ts", updatedAt: 2 })),
    );
    expect(store.get("s1")?.nowDoing).toBe("read src/app.ts");
    expect(store.byWorktree.get().get("w2")).toBe(w2);
    // No figure changed: the board bar does not wake.
    expect(totals.n).toBe(0);
    // An event older than the row held (it crossed a newer write) changes nothing.
    store.apply(entityEvent("session", "patched", "s1", sessionRow("s1", { nowDoing: "stale", updatedAt: 1 })));
    expect(store.get("s1")?.nowDoing).toBe("read src/app.ts");
    store.apply(entityEvent("session", "removed", "s1", null));
    expect(store.byWorktree.get().has("w1")).toBe(false);
    expect(store.totals.get().sessions).toBe(1);
  });

  it("a re-read drops sessions removed meanwhile, but not one written here after the read began", async () => {
    server.sessions = [sessionRow("s1"), sessionRow("s2")];
    await store.readAll();
    server.sessions = [sessionRow("s1")];
    const read = server.board.hold(SESSIONS);
    const done = store.readAll();
    await read.arrival;
    store.upsert(sessionRow("s9"));
    read.release();
    await done;
    expect([...store.rows.get().keys()].sort()).toEqual(["s1", "s9"]);
  });
});

describe("an open panel", () => {
  beforeEach(() => {
    server.sessions = [sessionRow("s1", { status: "running" })];
  });

  it("reads its transcript by pages and merges message events that arrive meanwhile, without duplicates", async () => {
    server.fill("s1", 1500);
    const firstPage = server.board.hold(messagesOf("s1"));
    const view = store.openPanel("s1");
    expect(store.open.get()).toEqual(["s1"]);
    await firstPage.arrival;
    // Written while the first page is in flight: the event comes first, the page holds it too.
    const late = messageRow("s1", 1501);
    server.messages.push(late);
    store.apply(entityEvent("message", "created", late.id, late));
    firstPage.release();
    await vi.waitFor(() => expect(view.status.get().status).toBe("ready"));
    await settle();
    const seqs = view.messages.get().map((m) => m.seq);
    expect(seqs).toHaveLength(1501);
    expect(new Set(seqs).size).toBe(1501);
    expect(seqs.every((s, i) => s === i + 1)).toBe(true);
    expect(server.board.log.filter((l) => l.startsWith(messagesOf("s1")))).toEqual([
      `${messagesOf("s1")}?after=0&limit=1000`,
      `${messagesOf("s1")}?after=1000&limit=1000`,
    ]);
  });

  it("reads the hole before a message event that skipped one (a missed event)", async () => {
    server.fill("s1", 3);
    const view = store.openPanel("s1");
    await vi.waitFor(() => expect(view.messages.get()).toHaveLength(3));
    const [m4, m5] = [messageRow("s1", 4), messageRow("s1", 5)];
    server.messages.push(m4, m5);
    store.apply(entityEvent("message", "created", m5.id, m5));
    await vi.waitFor(() => expect(view.messages.get().map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]));
    expect(server.board.log.at(-1)).toBe(`${messagesOf("s1")}?after=3&limit=1000`);
  });

  it("shows the text being written, live, then the finished message in its place", async () => {
    const view = store.openPanel("s1");
    await vi.waitFor(() => expect(view.status.get().status).toBe("ready"));
    const rows = wakes(store.rows);
    const cards = wakes(store.byWorktree);
    const messages = wakes(view.messages);
    store.onStream(piece("s1", "a1", 1, "Let me "));
    store.onStream(piece("s1", "a1", 2, "look"));
    store.onStream(piece("s1", "a1", 2, "look"));
    expect(view.live.get().get("a1")?.text).toBe("Let me look");
    // A delta wakes the panel's live text and nothing else: not the cards, not the canvas.
    expect([rows.n, cards.n, messages.n]).toEqual([0, 0, 0]);
    store.onStream(piece("s1", "a1", 3, "", { done: true }));
    expect(view.live.get().get("a1")?.done).toBe(true);
    const finished = messageRow("s1", 1, {
      id: "a1",
      role: "assistant",
      content: [{ type: "text", text: "Let me look" }],
    });
    store.apply(entityEvent("message", "created", "a1", finished));
    expect(view.live.get().size).toBe(0);
    expect(view.messages.get().map((m) => m.id)).toEqual(["a1"]);
    // A straggling piece of it shows nothing again.
    store.onStream(piece("s1", "a1", 4, "x"));
    expect(view.live.get().size).toBe(0);
  });

  it("a late joiner gets the text so far from the room's snapshot, then the rest live", async () => {
    const view = store.openPanel("s1");
    store.onStream(piece("s1", "a1", 7, "Half an ans", { snapshot: true }));
    store.onStream(piece("s1", "a1", 3, "ponder", { snapshot: true, part: "thinking" }));
    store.onStream(piece("s1", "a1", 8, "wer"));
    expect(view.live.get().get("a1")).toMatchObject({ text: "Half an answer", thinking: "ponder" });
  });

  it("ignores frames for sessions it does not show", () => {
    store.openPanel("s1");
    store.onStream(piece("other", "x1", 1, "not mine"));
    expect(store.view("other")).toBeUndefined();
  });

  it("drops text left from a message that never came when the session stops", async () => {
    const view = store.openPanel("s1");
    store.onStream(piece("s1", "a1", 1, "I will now"));
    store.apply(entityEvent("session", "patched", "s1", sessionRow("s1", { status: "stopped", updatedAt: 5 })));
    expect(view.live.get().size).toBe(0);
  });

  it("keeps its tasks: the queue from the read, then task events, never moved back", async () => {
    server.tasks = [taskRow("t1", "s1", { status: "running" }), taskRow("t2", "s1")];
    const view = store.openPanel("s1");
    await vi.waitFor(() => expect(view.tasks.get()).toHaveLength(2));
    store.apply(entityEvent("task", "patched", "t2", taskRow("t2", "s1", { prompt: "edited" })));
    store.apply(entityEvent("task", "created", "t3", taskRow("t3", "s1")));
    store.apply(entityEvent("task", "patched", "t1", taskRow("t1", "s1", { status: "queued" })));
    store.apply(entityEvent("task", "removed", "t3", null));
    expect(view.tasks.get().map((t) => [t.id, t.status, t.prompt])).toEqual([
      ["t1", "running", "prompt t1"],
      ["t2", "queued", "edited"],
    ]);
  });

  it("a queued prompt removed stays removed when a read taken before the removal lands after it", async () => {
    server.tasks = [taskRow("t1", "s1", { status: "running" }), taskRow("t2", "s1")];
    const view = store.openPanel("s1");
    await vi.waitFor(() => expect(view.tasks.get()).toHaveLength(2));
    // The server still lists t2: this read's answer was made before the delete.
    store.apply(entityEvent("task", "removed", "t2", null));
    await view.read();
    store.takeTask(taskRow("t2", "s1"));
    expect(view.tasks.get().map((t) => t.id)).toEqual(["t1"]);
  });

  it("is the watch list; one panel at a time unless asked otherwise", () => {
    store.openPanel("s1");
    store.openPanel("s2");
    expect(store.open.get()).toEqual(["s2"]);
    store.openPanel("s1", { only: false });
    expect(store.open.get()).toEqual(["s2", "s1"]);
    store.closePanel("s2");
    expect(store.open.get()).toEqual(["s1"]);
  });

  it("says so when its session is deleted", async () => {
    const view = store.openPanel("s1");
    await vi.waitFor(() => expect(view.status.get().status).toBe("ready"));
    store.apply(entityEvent("session", "removed", "s1", null));
    expect(view.status.get().status).toBe("gone");
  });

  it("a deep link to a session not on the board says it is gone", async () => {
    const view = store.openPanel("nope");
    await vi.waitFor(() => expect(view.status.get().status).toBe("gone"));
  });

  it("a pending permission request leaves the card once the session's patch says it was answered", async () => {
    server.sessions = [sessionRow("s1", { status: "awaiting_permission", pending: [permissionRow("r1")] })];
    await store.readAll();
    expect(store.byWorktree.get().get("w1")?.awaiting).toBe(1);
    store.apply(entityEvent("session", "patched", "s1", sessionRow("s1", { status: "running", updatedAt: 2 })));
    expect(store.get("s1")?.pending).toEqual([]);
    expect(store.byWorktree.get().get("w1")?.awaiting).toBe(0);
  });
});

describe("a reconnect", () => {
  /** The board's wiring (state.ts), minus the socket: events through the catch-up, the list read inside it. */
  function wire() {
    const entities = new BoardEntities(ME);
    const catchUp = new CatchUp(server.client, BOARD_ID, entities, {
      apply: (e: EntityEvent) =>
        ["session", "task", "message"].includes(e.entity) ? store.apply(e) : entities.apply(e),
      afterRead: () => {},
      readMore: () => store.readAll(),
    });
    return catchUp;
  }

  it("reads the sessions and what open panels missed; events during the read land on top of it", async () => {
    server.sessions = [sessionRow("s1", { status: "running" })];
    server.fill("s1", 2);
    const catchUp = wire();
    await catchUp.run();
    const view = store.openPanel("s1");
    await vi.waitFor(() => expect(view.messages.get()).toHaveLength(2));
    store.onStream(piece("s1", "a3", 1, "Writing"));

    // The socket drops. Meanwhile the answer finishes, and a new prompt starts another.
    server.messages.push(messageRow("s1", 3, { id: "a3", role: "assistant" }), messageRow("s1", 4));
    server.sessions = [sessionRow("s1", { status: "running", nowDoing: "shell npm test", updatedAt: 9 })];
    const list = server.board.hold(SESSIONS);
    store.rejoined();
    expect(view.live.get().size).toBe(0);
    catchUp.joined();
    await list.arrival;
    // An event that arrives during the read waits for it, then lands on top.
    catchUp.onEntity(
      entityEvent("session", "patched", "s1", sessionRow("s1", { status: "awaiting_permission", updatedAt: 10 })),
    );
    expect(store.get("s1")?.status).toBe("running");
    // The room's snapshot of the message now being written.
    store.onStream(piece("s1", "a5", 4, "Running the tests", { snapshot: true }));
    list.release();
    await vi.waitFor(() => expect(view.messages.get().map((m) => m.seq)).toEqual([1, 2, 3, 4]));
    expect(store.get("s1")?.status).toBe("awaiting_permission");
    expect(server.board.log.filter((l) => l.startsWith(messagesOf("s1"))).at(-1)).toBe(
      `${messagesOf("s1")}?after=2&limit=1000`,
    );
    expect([...view.live.get().keys()]).toEqual(["a5"]);
  });
});
