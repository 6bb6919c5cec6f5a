import { describe, expect, it } from "vitest";
import { LINK_PROTOCOL, MAX_RUNNER_FRAME_CHARS, RunnerFrame } from "../../protocol/index.ts";
import type { FrameBody } from "./link.ts";
import { StreamWindow } from "./stream-window.ts";

/** The runner's one stream window, sending into a list; every frame is checked against the contract. */
function recording() {
  const frames: Extract<RunnerFrame, { type: "streams" }>[] = [];
  const send = (frame: FrameBody) => {
    const text = JSON.stringify({ ...frame, v: LINK_PROTOCOL });
    expect(text.length).toBeLessThanOrEqual(MAX_RUNNER_FRAME_CHARS);
    const parsed = RunnerFrame.parse(JSON.parse(text));
    if (parsed.type === "streams") frames.push(parsed);
    return true;
  };
  return { frames, window: new StreamWindow(send, 5) };
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("the runner's stream window", () => {
  it("gathers every session's deltas into one frame per board per window, each message's pieces in seq order", async () => {
    const { frames, window } = recording();
    window.delta("b1", "s1", "m1", "text", "Hel");
    window.delta("b1", "s2", "m2", "text", "Wor");
    window.delta("b1", "s1", "m1", "text", "lo");
    window.delta("b2", "s3", "m3", "thinking", "Hmm");
    expect(frames).toEqual([]);
    await wait(20);
    expect(frames.map((f) => [f.boardId, f.pieces.map((p) => [p.messageId, p.seq, p.delta])])).toEqual([
      [
        "b1",
        [
          ["m1", 1, "Hello"],
          ["m2", 1, "Wor"],
        ],
      ],
      ["b2", [["m3", 1, "Hmm"]]],
    ]);
    window.delta("b1", "s1", "m1", "text", ", you");
    window.end("m1");
    // The message's own text, then its done, at once; the others wait for the window.
    expect(frames.at(-1)!.pieces).toEqual([
      { sessionId: "s1", messageId: "m1", seq: 2, part: "text", delta: ", you" },
      { sessionId: "s1", messageId: "m1", seq: 3, part: "text", delta: "", done: true },
    ]);
  });

  it("sends one message's text at once before its stored message is posted, without hurrying the others", () => {
    const { frames, window } = recording();
    window.delta("b1", "s1", "m1", "text", "all of it");
    window.delta("b1", "s2", "m2", "text", "still going");
    window.flushMessage("m1");
    expect(frames).toHaveLength(1);
    expect(frames[0]!.pieces.map((p) => p.messageId)).toEqual(["m1"]);
    window.flush();
    expect(frames[1]!.pieces.map((p) => p.messageId)).toEqual(["m2"]);
  });

  it("splits a window into frames within the piece count and the frame size, never inside a surrogate pair", () => {
    const { frames, window } = recording();
    for (let i = 0; i < 450; i++) window.delta("b1", `s${i}`, `m${i}`, "text", "x");
    window.flush();
    expect(frames.map((f) => f.pieces.length)).toEqual([200, 200, 50]);

    const big = `${"a".repeat(59_999)}😀${"b".repeat(200_000)}`;
    for (let i = 0; i < 6; i++) window.delta("b1", "s1", `big${i}`, "text", big);
    window.flush();
    const bigFrames = frames.slice(3);
    expect(bigFrames.length).toBeGreaterThan(1);
    const pieces = bigFrames.flatMap((f) => f.pieces);
    for (let i = 0; i < 6; i++) {
      const mine = pieces.filter((p) => p.messageId === `big${i}`);
      expect(mine.map((p) => p.delta).join("")).toBe(big);
      expect(mine.map((p) => p.seq)).toEqual(mine.map((_, n) => n + 1));
    }
  });
});
