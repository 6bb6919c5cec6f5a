import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Peer } from "../protocol/index.ts";
import { applyPresence, PresenceBatcher } from "./presence.ts";

type Update = Pick<Peer, "connectionId" | "cursor" | "viewport" | "selection">;

const at = (connectionId: string, x: number): Update => ({
  connectionId,
  cursor: { x, y: x },
  viewport: null,
  selection: [],
});

describe("PresenceBatcher", () => {
  let sent: Update[][];
  let batcher: PresenceBatcher;

  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
    sent = [];
    batcher = new PresenceBatcher((updates) => sent.push(updates), 15);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("sends the first update after a quiet spell at once (leading edge)", () => {
    batcher.push(at("a", 1));
    expect(sent).toEqual([[at("a", 1)]]);
  });

  it("holds later updates until the window closes, then sends only each peer's latest", () => {
    batcher.push(at("a", 1));
    batcher.push(at("a", 2));
    batcher.push(at("b", 10));
    batcher.push(at("a", 3));
    batcher.push(at("b", 11));
    expect(sent).toHaveLength(1);
    vi.advanceTimersByTime(14);
    expect(sent).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(sent).toEqual([[at("a", 1)], [at("a", 3), at("b", 11)]]);
  });

  it("keeps at most one frame per window under a steady stream", () => {
    for (let t = 0; t < 300; t++) {
      batcher.push(at("a", t));
      batcher.push(at("b", t));
      vi.advanceTimersByTime(1);
    }
    vi.advanceTimersByTime(15);
    // 600 updates over 300 ms with a 15 ms window: one leading frame plus one per window.
    expect(sent.length).toBeLessThanOrEqual(1 + Math.ceil(300 / 15) + 1);
    expect(sent.length).toBeGreaterThanOrEqual(300 / 15);
    expect(sent.at(-1)).toEqual([at("a", 299), at("b", 299)]);
    for (const frame of sent) expect(new Set(frame.map((u) => u.connectionId)).size).toBe(frame.length);
  });

  it("is leading-edge again once a window has passed in silence", () => {
    batcher.push(at("a", 1));
    vi.advanceTimersByTime(100);
    batcher.push(at("a", 2));
    expect(sent).toEqual([[at("a", 1)], [at("a", 2)]]);
  });

  it("never sends an update for a peer it was told to forget", () => {
    batcher.push(at("a", 1));
    batcher.push(at("a", 2));
    batcher.push(at("b", 5));
    batcher.forget("a");
    vi.advanceTimersByTime(15);
    expect(sent).toEqual([[at("a", 1)], [at("b", 5)]]);
  });

  it("sends nothing when everything pending was forgotten", () => {
    batcher.push(at("a", 1));
    batcher.push(at("a", 2));
    batcher.forget("a");
    vi.advanceTimersByTime(50);
    expect(sent).toEqual([[at("a", 1)]]);
  });

  it("flush() sends what is pending right away and cancels the timer", () => {
    batcher.push(at("a", 1));
    batcher.push(at("a", 2));
    batcher.flush();
    expect(sent).toEqual([[at("a", 1)], [at("a", 2)]]);
    vi.advanceTimersByTime(50);
    expect(sent).toHaveLength(2);
  });

  it("uses the clock it is given", () => {
    let now = 0;
    const frames: unknown[] = [];
    const b = new PresenceBatcher(
      (u) => frames.push(u),
      15,
      () => now,
    );
    now = 100;
    b.push(at("a", 1));
    now = 105;
    b.push(at("a", 2));
    expect(frames).toHaveLength(1);
    vi.advanceTimersByTime(10);
    expect(frames).toEqual([[at("a", 1)], [at("a", 2)]]);
  });
});

describe("applyPresence", () => {
  const peer: Peer = {
    connectionId: "c1",
    userId: "u1",
    name: "Ada",
    color: "#e11d48",
    cursor: { x: 1, y: 2 },
    viewport: { x: 0, y: 0, zoom: 1 },
    selection: ["z1"],
  };

  it("changes what the message sets and keeps what it leaves out", () => {
    expect(applyPresence(peer, { type: "presence", cursor: { x: 5, y: 6 } })).toEqual({
      ...peer,
      cursor: { x: 5, y: 6 },
    });
    expect(applyPresence(peer, { type: "presence", selection: [] })).toEqual({ ...peer, selection: [] });
  });

  it("clears the cursor and viewport on null (the pointer left the canvas)", () => {
    expect(applyPresence(peer, { type: "presence", cursor: null, viewport: null })).toEqual({
      ...peer,
      cursor: null,
      viewport: null,
    });
  });

  it("never changes who the peer is", () => {
    const next = applyPresence(peer, { type: "presence", cursor: { x: 0, y: 0 } });
    expect(next).toMatchObject({ connectionId: "c1", userId: "u1", name: "Ada", color: "#e11d48" });
  });
});
