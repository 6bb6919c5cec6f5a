import { beforeEach, describe, expect, it, vi } from "vitest";
import type { EntityEvent, ServerMessage } from "../protocol/index.ts";
import { MAX_WATCHED, ROOM_CLOSE, ROOM_PROTOCOL, ServerMessage as ServerMessageSchema } from "../protocol/index.ts";
import type { SocketIdentity } from "../worker/services/sockets.ts";
import { BoardRoomCore, type Joining, type PeerState, type RoomHost, type RoomSocket, STALE_MS } from "./room.ts";

/** The room core on plain sockets: no workerd, no Durable Object, a clock the test moves. */

class FakeSocket implements RoomSocket {
  state: PeerState | null = null;
  sent: ServerMessage[] = [];
  closedWith: { code?: number; reason?: string } | null = null;
  constructor(readonly id: string) {}
  setState(state: PeerState) {
    this.state = structuredClone(state);
  }
  send(text: string) {
    if (this.closedWith) throw new Error("socket closed");
    // Everything the room sends must be a frame of the contract.
    this.sent.push(ServerMessageSchema.parse(JSON.parse(text)));
  }
  close(code?: number, reason?: string) {
    this.closedWith = { code, reason };
  }
  of<K extends ServerMessage["type"]>(type: K) {
    return this.sent.filter((m): m is Extract<ServerMessage, { type: K }> => m.type === type);
  }
}

let now: number;
let sockets: FakeSocket[];
let allowed: (ids: SocketIdentity[]) => Set<string>;
let room: BoardRoomCore;
let pings: Map<string, number>;

const host: RoomHost = {
  sockets: () => sockets.filter((s) => !s.closedWith),
  fanOut: (frame) => {
    for (const s of sockets) if (!s.closedWith) s.send(frame);
  },
  lastPingAt: (s) => pings.get(s.id) ?? 0,
  stillAllowed: async (ids) => allowed(ids),
  now: () => now,
};

const who = (userId: string, extra: Partial<Joining> = {}): Joining => ({
  userId,
  name: userId.toUpperCase(),
  color: "#123456",
  credential: `fam:${userId}`,
  version: ROOM_PROTOCOL,
  ...extra,
});

function join(id: string, joining: Joining): FakeSocket {
  const s = new FakeSocket(id);
  sockets.push(s);
  room.connect(s, joining);
  return s;
}

const zoneEvent = (id: string): EntityEvent => ({
  type: "entity",
  v: ROOM_PROTOCOL,
  entity: "zone",
  op: "removed",
  id,
  row: null,
  actorId: null,
  at: now,
});

const messageEvent = (id: string, sessionId: string): EntityEvent =>
  ({
    ...zoneEvent(id),
    entity: "message",
    op: "created",
    row: {
      id,
      sessionId,
      seq: 1,
      role: "assistant",
      content: [{ type: "text", text: "Done." }],
      taskId: "t1",
      authorId: null,
      authorName: null,
      fromSessionId: null,
      usage: null,
      model: "m",
      createdAt: now,
    },
  }) as EntityEvent;

const taskEvent = (sessionId: string, status: string): EntityEvent =>
  ({
    ...zoneEvent(`task-of-${sessionId}`),
    entity: "task",
    op: "patched",
    row: {
      id: `task-of-${sessionId}`,
      boardId: "b1",
      sessionId,
      prompt: "p",
      status,
      authorId: null,
      authorName: null,
      fromSessionId: null,
      usage: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 },
      costMicros: null,
      error: status === "failed" ? "runner lost" : null,
      jobId: "j1",
      stoppedBy: null,
      keySource: null,
      createdAt: now,
      startedAt: now,
      endedAt: status === "running" ? null : now,
    },
  }) as EntityEvent;

beforeEach(() => {
  now = 1_000_000;
  sockets = [];
  pings = new Map();
  allowed = (ids) => new Set(ids.map((i) => `${i.userId} ${i.credential}`));
  room = new BoardRoomCore(host, 0);
});

describe("BoardRoomCore", () => {
  it("welcomes a socket with the peers already there and tells them it joined, without its credential", () => {
    const a = join("a", who("ann"));
    const b = join("b", who("bob"));
    expect(b.of("welcome")[0]!.peers.map((p) => p.userId)).toEqual(["ann", "bob"]);
    const joined = a.of("join")[0]!.peer;
    expect(joined).toMatchObject({ connectionId: "b", userId: "bob", name: "BOB" });
    expect(JSON.stringify([...a.sent, ...b.sent])).not.toContain("fam:");
  });

  it("closes a client of another protocol version with `outdated`, before it joins", () => {
    const a = join("a", who("ann"));
    const old = join("old", who("bob", { version: ROOM_PROTOCOL + 1 }));
    expect(old.closedWith?.code).toBe(ROOM_CLOSE.outdated);
    expect(old.closedWith?.reason).toMatch(/reload/);
    expect(a.of("join")).toEqual([]);
    // A client from before versions (no ?v=) is still let in.
    expect(join("legacy", who("cy", { version: null })).closedWith).toBeNull();
  });

  it("answers a bad frame on its own socket only, naming what is wrong", () => {
    const a = join("a", who("ann"));
    const b = join("b", who("bob"));
    room.message(a, "not json");
    room.message(a, JSON.stringify({ type: "presence", cursor: { x: "left", y: 1 } }));
    room.message(a, new ArrayBuffer(4));
    room.message(a, "x".repeat(9000));
    const errors = a.of("error").map((e) => e.message);
    expect(errors).toEqual([
      "Message is not valid JSON.",
      expect.stringMatching(/^Unrecognised message: cursor\.x/),
      "Send JSON text frames; binary frames are not understood.",
      expect.stringMatching(/larger than 8192/),
    ]);
    expect(b.of("error")).toEqual([]);
  });

  it("fans presence out with each peer's latest state", () => {
    const a = join("a", who("ann"));
    const b = join("b", who("bob"));
    room.message(a, JSON.stringify({ type: "presence", cursor: { x: 5, y: 6 } }));
    const updates = b.of("presence").flatMap((p) => p.updates);
    expect(updates.at(-1)).toMatchObject({ connectionId: "a", cursor: { x: 5, y: 6 } });
    expect(room.peers().find((p) => p.connectionId === "a")?.cursor).toEqual({ x: 5, y: 6 });
  });

  it("publishes changes to everyone, and a removed member's sockets close", () => {
    const a = join("a", who("ann"));
    const b = join("b", who("bob"));
    room.publish(zoneEvent("z1"));
    expect(a.of("entity").map((e) => e.id)).toEqual(["z1"]);
    expect(b.of("entity").map((e) => e.id)).toEqual(["z1"]);
    room.publish({ ...zoneEvent("bob"), entity: "member" } as EntityEvent);
    expect(b.closedWith?.code).toBe(ROOM_CLOSE.removed);
    expect(a.of("leave").map((l) => l.connectionId)).toEqual(["b"]);
    room.closed(b);
    expect(a.of("leave")).toHaveLength(1);
  });

  it("ends one credential's sockets, or every sign-in of a user, and no one else's", () => {
    const phone = join("p", who("ann", { credential: "fam:phone" }));
    const laptop = join("l", who("ann", { credential: "fam:laptop" }));
    const script = join("s", who("ann", { credential: "tok:cli" }));
    const bob = join("b", who("bob"));
    expect(room.endSockets({ userId: "ann", credential: "fam:phone" })).toBe(1);
    expect(phone.closedWith?.code).toBe(ROOM_CLOSE.signedOut);
    expect(laptop.closedWith).toBeNull();
    expect(room.endSockets({ userId: "ann", credential: "fam:*" })).toBe(1);
    expect(laptop.closedWith?.code).toBe(ROOM_CLOSE.signedOut);
    expect(script.closedWith).toBeNull();
    expect(bob.closedWith).toBeNull();
  });

  it("sends addressed frames to one person's sockets, or to the watchers of one session", () => {
    const ann1 = join("a1", who("ann"));
    const ann2 = join("a2", who("ann"));
    const bob = join("b", who("bob"));
    expect(room.notify("ann", { kind: "mention", title: "Bob mentioned you" })).toBe(2);
    expect([ann1, ann2].every((s) => s.of("notice").length === 1)).toBe(true);
    expect(bob.of("notice")).toEqual([]);

    room.message(bob, JSON.stringify({ type: "watch", sessionIds: ["s1"] }));
    const piece = { sessionId: "s1", messageId: "m1", part: "text" as const };
    expect(room.stream({ ...piece, seq: 1, delta: "Hel" })).toBe(1);
    expect(bob.of("stream").map((f) => f.delta)).toEqual(["Hel"]);
    expect(ann1.of("stream")).toEqual([]);
  });

  it("gives a socket that starts watching mid-answer the text so far, then the rest live", () => {
    const early = join("e", who("ann"));
    room.message(early, JSON.stringify({ type: "watch", sessionIds: ["s1"] }));
    const piece = { sessionId: "s1", messageId: "m1", part: "text" as const };
    room.stream({ ...piece, seq: 1, delta: "Hello, " });
    room.stream({ ...piece, seq: 2, delta: "wor" });
    expect(room.stream({ ...piece, seq: 2, delta: "wor" })).toBe(0); // a retried send is dropped
    expect(early.of("stream").map((f) => f.delta)).toEqual(["Hello, ", "wor"]);
    const late = join("l", who("bob"));
    room.message(late, JSON.stringify({ type: "watch", sessionIds: ["s1"] }));
    expect(late.of("stream")).toEqual([expect.objectContaining({ delta: "Hello, wor", seq: 2, snapshot: true })]);
    room.stream({ ...piece, seq: 3, delta: "ld" });
    expect(late.of("stream").map((f) => f.delta)).toEqual(["Hello, wor", "ld"]);
    room.stream({ ...piece, seq: 4, delta: "", done: true });
    const afterDone = join("x", who("cy"));
    room.message(afterDone, JSON.stringify({ type: "watch", sessionIds: ["s1"] }));
    expect(afterDone.of("stream")).toEqual([]);
  });

  it("drops a piece that comes after its stored message (the link and the event post race to the room)", () => {
    const a = join("a", who("ann"));
    room.message(a, JSON.stringify({ type: "watch", sessionIds: ["s1"] }));
    const piece = { sessionId: "s1", messageId: "m1", part: "text" as const };
    room.stream({ ...piece, seq: 1, delta: "Hello, " });
    const row = {
      id: "m1",
      sessionId: "s1",
      seq: 2,
      role: "assistant",
      content: [{ type: "text", text: "Hello, world" }],
      taskId: "t1",
      authorId: null,
      authorName: null,
      fromSessionId: null,
      usage: null,
      model: "m",
      createdAt: now,
    };
    room.publish({ ...zoneEvent("m1"), entity: "message", row } as EntityEvent);
    expect(room.stream({ ...piece, seq: 2, delta: "world" })).toBe(0);
    expect(a.of("stream").map((f) => f.delta)).toEqual(["Hello, "]);
    // Nor is the finished message's text handed to a late watcher.
    const late = join("l", who("bob"));
    room.message(late, JSON.stringify({ type: "watch", sessionIds: ["s1"] }));
    expect(late.of("stream")).toEqual([]);
  });

  it("remembers stored messages per session: a busy session never makes the room forget another's", () => {
    const a = join("a", who("ann"));
    room.message(a, JSON.stringify({ type: "watch", sessionIds: ["s1"] }));
    const piece = { sessionId: "s1", messageId: "m1", part: "text" as const };
    room.stream({ ...piece, seq: 1, delta: "Hello, " });
    room.publish(messageEvent("m1", "s1"));
    // Another session on the board finishes many messages meanwhile.
    for (let i = 0; i < 1500; i++) room.publish(messageEvent(`busy-${i}`, "s2"));
    expect(room.stream({ ...piece, seq: 2, delta: "world" })).toBe(0);
    expect(a.of("stream").map((f) => f.delta)).toEqual(["Hello, "]);
  });

  it("tells every card what a streaming session writes, at most once a second, and nothing stale", () => {
    vi.useFakeTimers();
    try {
      const watcher = join("w", who("ann"));
      room.message(watcher, JSON.stringify({ type: "watch", sessionIds: ["s1"] }));
      const other = join("o", who("bob"));
      const lines = (s: FakeSocket) => s.of("doing").flatMap((f) => f.items.map((i) => i.nowDoing));
      const piece = { sessionId: "s1", messageId: "m1", part: "text" as const };
      room.stream({ ...piece, seq: 1, delta: "Reading the code.\n\nNow I " });
      // The first line goes at once, to everyone on the board (the card), watching or not.
      expect(lines(other)).toEqual(["Now I"]);
      expect(lines(watcher)).toEqual(["Now I"]);
      room.stream({ ...piece, seq: 2, delta: "write the" });
      room.stream({ ...piece, seq: 3, delta: " tests" });
      expect(lines(other)).toEqual(["Now I"]);
      now += 1000;
      vi.advanceTimersByTime(1000);
      // Only the latest line, once.
      expect(lines(other)).toEqual(["Now I", "Now I write the tests"]);
      // A line still waiting when its message is stored is dropped: the row says what comes next.
      room.stream({ ...piece, seq: 4, delta: "\nDone" });
      room.publish(messageEvent("m1", "s1"));
      now += 1000;
      vi.advanceTimersByTime(1000);
      expect(lines(other)).toEqual(["Now I", "Now I write the tests"]);
    } finally {
      vi.useRealTimers();
    }
  });

  it("drops a session's text in flight when its task ends, and any piece of it that comes later", () => {
    const a = join("a", who("ann"));
    room.message(a, JSON.stringify({ type: "watch", sessionIds: ["s1", "s2"] }));
    const piece = { sessionId: "s1", messageId: "m1", part: "text" as const };
    for (const status of ["failed", "stopped", "completed"] as const) {
      const messageId = `m-${status}`;
      room.stream({ ...piece, messageId, seq: 1, delta: "Half a sen" });
      room.stream({ sessionId: "s2", messageId: `other-${status}`, part: "text", seq: 1, delta: "Still going" });
      room.publish(taskEvent("s1", "running"));
      const late = join(`l-${status}`, who("bob"));
      room.message(late, JSON.stringify({ type: "watch", sessionIds: ["s1"] }));
      expect(late.of("stream")).toHaveLength(1);

      room.publish(taskEvent("s1", status));
      const later = join(`x-${status}`, who("cy"));
      room.message(later, JSON.stringify({ type: "watch", sessionIds: ["s1", "s2"] }));
      // Nothing stale of s1; s2's answer is untouched.
      expect(later.of("stream").filter((f) => f.sessionId === "s1")).toEqual([]);
      expect(later.of("stream").filter((f) => f.messageId === `other-${status}`)).toHaveLength(1);
      // The runner was lost or stopped mid-send: what it sent after the end is not shown.
      expect(room.stream({ ...piece, messageId, seq: 2, delta: "tence" })).toBe(0);
    }
    // The session's next task streams as before.
    room.stream({ ...piece, messageId: "m-next", seq: 1, delta: "Again" });
    expect(a.of("stream").at(-1)).toMatchObject({ messageId: "m-next", delta: "Again" });
  });

  it("fans a runner's batch out in one frame per socket, with only the sessions it watches, in order", () => {
    const both = join("both", who("ann"));
    const one = join("one", who("bob"));
    const twin = join("twin", who("cy"));
    const none = join("none", who("dee"));
    room.message(both, JSON.stringify({ type: "watch", sessionIds: ["s1", "s2"] }));
    room.message(one, JSON.stringify({ type: "watch", sessionIds: ["s2"] }));
    room.message(twin, JSON.stringify({ type: "watch", sessionIds: ["s1", "s2"] }));
    const p = (sessionId: string, seq: number, delta: string) => ({
      sessionId,
      messageId: `m-${sessionId}`,
      part: "text" as const,
      seq,
      delta,
    });
    const before = [both, one, twin, none].map((x) => x.sent.filter((m) => m.type !== "doing").length);
    const sent = room.streams([p("s1", 1, "A"), p("s2", 1, "x"), p("s1", 2, "B"), p("s1", 2, "B"), p("s2", 2, "y")]);
    expect(sent).toBe(3);
    // The cards' "now doing" lines go to everyone (tested on their own above).
    const streamed = (x: FakeSocket) => x.sent.filter((m) => m.type !== "doing");
    const got = [both, one, twin, none].map((x, i) => streamed(x).slice(before[i]));
    expect(got[0]).toEqual([
      {
        type: "streams",
        v: ROOM_PROTOCOL,
        pieces: [p("s1", 1, "A"), p("s2", 1, "x"), p("s1", 2, "B"), p("s2", 2, "y")],
      },
    ]);
    expect(got[2]).toEqual(got[0]);
    expect(got[1]).toEqual([{ type: "streams", v: ROOM_PROTOCOL, pieces: [p("s2", 1, "x"), p("s2", 2, "y")] }]);
    expect(got[3]).toEqual([]);
    // A single piece goes as a plain `stream` frame; the text so far is kept as for single pieces.
    room.streams([p("s2", 3, "z")]);
    expect(streamed(one).at(-1)).toEqual({ type: "stream", v: ROOM_PROTOCOL, ...p("s2", 3, "z") });
    const late = join("late", who("eve"));
    room.message(late, JSON.stringify({ type: "watch", sessionIds: ["s1"] }));
    expect(late.of("stream")).toEqual([expect.objectContaining({ delta: "AB", seq: 2, snapshot: true })]);
    // A backlog the link hands over at once still goes in frames of the contract's size.
    const n = streamed(one).length;
    room.streams(Array.from({ length: 450 }, (_, i) => p("s2", 10 + i, "w")));
    expect(
      streamed(one)
        .slice(n)
        .map((m) => (m.type === "streams" ? m.pieces.length : 0)),
    ).toEqual([200, 200, 50]);
  });

  it("keeps who a socket watches in its kept state (it survives hibernation), and bounds the list", () => {
    const a = join("a", who("ann"));
    room.message(a, JSON.stringify({ type: "watch", sessionIds: ["s1", "s2"] }));
    expect(a.state?.watching).toEqual(["s1", "s2"]);
    const tooMany = Array.from({ length: MAX_WATCHED + 1 }, (_, i) => `s${i}`);
    room.message(a, JSON.stringify({ type: "watch", sessionIds: tooMany }));
    expect(a.of("error")).toHaveLength(1);
    expect(a.state?.watching).toEqual(["s1", "s2"]);
  });

  it("sweeps sockets that stopped pinging, and those whose access ended without an event", async () => {
    const quiet = join("q", who("ann"));
    const pinging = join("p", who("bob"));
    const expired = join("x", who("cy", { credential: "tok:old" }));
    now += STALE_MS + 1;
    pings.set("p", now - 1000);
    pings.set("x", now - 1000);
    allowed = (ids) => new Set(ids.filter((i) => i.credential !== "tok:old").map((i) => `${i.userId} ${i.credential}`));
    expect(await room.sweep()).toBe(1);
    expect(quiet.closedWith?.code).toBe(ROOM_CLOSE.stale);
    expect(expired.closedWith?.code).toBe(ROOM_CLOSE.signedOut);
    expect(pinging.closedWith).toBeNull();
    expect(
      pinging
        .of("leave")
        .map((l) => l.connectionId)
        .sort(),
    ).toEqual(["q", "x"]);
  });

  it("keeps everyone when the access check cannot run (D1 unreachable), and retries next sweep", async () => {
    const a = join("a", who("ann"));
    pings.set("a", now);
    allowed = () => {
      throw new Error("D1 down");
    };
    expect(await room.sweep()).toBe(1);
    expect(a.closedWith).toBeNull();
  });

  it("closes everyone when the board is deleted", () => {
    const a = join("a", who("ann"));
    room.publish({ ...zoneEvent("board-1"), entity: "board" } as EntityEvent);
    expect(a.closedWith?.code).toBe(ROOM_CLOSE.deleted);
  });
});
