import { describe, expect, it } from "vitest";
import { messageRow, piece, taskRow } from "./testkit.ts";
import { applyPiece, contiguous, type LiveMessage, mergeMessages, mergeTask } from "./transcript.ts";

/** The transcript's pure rules: every order in which pages, events and pieces can arrive. */

const S = "s1";
const none = () => false;

describe("mergeMessages", () => {
  it("appends in order, keeps held objects, and returns the same list when nothing is new", () => {
    const a = [messageRow(S, 1), messageRow(S, 2)];
    const merged = mergeMessages(a, [messageRow(S, 3)]);
    expect(merged.map((m) => m.seq)).toEqual([1, 2, 3]);
    expect(merged[0]).toBe(a[0]);
    expect(mergeMessages(merged, [messageRow(S, 2), messageRow(S, 3)])).toBe(merged);
  });

  it("puts a late page under an event that came first, without duplicates", () => {
    const event = [messageRow(S, 5)];
    const merged = mergeMessages(
      event,
      [1, 2, 3, 4, 5].map((n) => messageRow(S, n)),
    );
    expect(merged.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(merged[4]).toBe(event[0]);
  });
});

describe("contiguous", () => {
  it("is how far the list is whole", () => {
    expect(contiguous([])).toBe(0);
    expect(contiguous([1, 2, 3].map((n) => messageRow(S, n)))).toBe(3);
    expect(contiguous([1, 2, 4, 5].map((n) => messageRow(S, n)))).toBe(2);
    expect(contiguous([3].map((n) => messageRow(S, n)))).toBe(0);
  });
});

describe("applyPiece", () => {
  const text = (l: ReadonlyMap<string, LiveMessage>, id = "m1") => l.get(id)?.text;

  it("appends pieces per part and drops repeats", () => {
    let l: ReadonlyMap<string, LiveMessage> = new Map();
    l = applyPiece(l, piece(S, "m1", 1, "Hel"), none);
    l = applyPiece(l, piece(S, "m1", 2, "hmm", { part: "thinking" }), none);
    l = applyPiece(l, piece(S, "m1", 3, "lo"), none);
    const before = l;
    l = applyPiece(l, piece(S, "m1", 3, "lo"), none);
    l = applyPiece(l, piece(S, "m1", 1, "Hel"), none);
    expect(l).toBe(before);
    expect(text(l)).toBe("Hello");
    expect(l.get("m1")?.thinking).toBe("hmm");
  });

  it("a snapshot replaces the part's text when newer, and is ignored when older than what is held", () => {
    let l: ReadonlyMap<string, LiveMessage> = new Map();
    l = applyPiece(l, piece(S, "m1", 4, "The answer so far", { snapshot: true }), none);
    l = applyPiece(l, piece(S, "m1", 2, "reasoning", { snapshot: true, part: "thinking" }), none);
    expect(text(l)).toBe("The answer so far");
    expect(l.get("m1")?.thinking).toBe("reasoning");
    l = applyPiece(l, piece(S, "m1", 5, " is 42"), none);
    l = applyPiece(l, piece(S, "m1", 4, "The answer so far", { snapshot: true }), none);
    expect(text(l)).toBe("The answer so far is 42");
  });

  it("done marks the message finished; a done for an unknown message shows nothing", () => {
    let l: ReadonlyMap<string, LiveMessage> = new Map();
    l = applyPiece(l, piece(S, "m1", 1, "All done"), none);
    l = applyPiece(l, piece(S, "m1", 2, "", { done: true }), none);
    expect(l.get("m1")).toMatchObject({ text: "All done", done: true });
    expect(applyPiece(l, piece(S, "m2", 9, "", { done: true }), none)).toBe(l);
  });

  it("pieces of a message already held change nothing", () => {
    const l: ReadonlyMap<string, LiveMessage> = new Map();
    expect(applyPiece(l, piece(S, "m1", 1, "late"), (id) => id === "m1")).toBe(l);
  });
});

describe("mergeTask", () => {
  it("never moves a task back, and applies a queued prompt's edit", () => {
    let ts = mergeTask([], taskRow("t1", S));
    ts = mergeTask(ts, taskRow("t1", S, { status: "running" }));
    expect(mergeTask(ts, taskRow("t1", S, { status: "queued" }))).toBe(ts);
    ts = mergeTask(ts, taskRow("t2", S, { prompt: "a" }));
    ts = mergeTask(ts, taskRow("t2", S, { prompt: "b" }));
    expect(ts.map((t) => [t.id, t.status, t.prompt])).toEqual([
      ["t1", "running", "prompt t1"],
      ["t2", "queued", "b"],
    ]);
  });
});
