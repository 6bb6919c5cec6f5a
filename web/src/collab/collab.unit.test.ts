import { describe, expect, it } from "vitest";
import type { Comment } from "../../../protocol/index.ts";
import { sessionRow } from "../sessions/testkit.ts";
import { attentionOf, boardStateOf, cardAttention } from "./attention.ts";
import { threadsOf } from "./comments.ts";
import { commentRow } from "./testkit.ts";

const comment = (id: string, over: Partial<Comment> = {}) =>
  commentRow(id, { target: "worktree", targetId: "w1", ...over });

describe("threads", () => {
  it("groups replies under their thread, open threads first, each in id order", () => {
    const all = [
      comment("a", { resolvedAt: 5 }),
      comment("b"),
      comment("c", { threadId: "b" }),
      comment("d", { target: "zone", targetId: "z1" }),
      comment("e", { threadId: "a" }),
    ];
    const threads = threadsOf(all, "worktree:w1");
    expect(threads.map((t) => [t.root.id, t.replies.map((r) => r.id)])).toEqual([
      ["b", ["c"]],
      ["a", ["e"]],
    ]);
  });
});

describe("attention", () => {
  const now = 10 * 24 * 60 * 60 * 1000;
  it("pulses for a permission always, and for a finish after one last looked", () => {
    expect(attentionOf(sessionRow("s", { status: "awaiting_permission" }), now, now)).toBe("permission");
    const done = sessionRow("s", { status: "completed", updatedAt: now - 1000 });
    expect(attentionOf(done, now - 2000, now)).toBe("finished");
    expect(attentionOf(done, now - 500, now)).toBeNull();
    expect(attentionOf(sessionRow("s", { status: "failed", updatedAt: now - 1000 }), undefined, now)).toBe("failed");
    // Never opened, and finished long ago: no pulse for an old board's history.
    expect(
      attentionOf(sessionRow("s", { status: "completed", updatedAt: now - 3 * 86_400_000 }), undefined, now),
    ).toBeNull();
    expect(attentionOf(sessionRow("s", { status: "running", updatedAt: now }), undefined, now)).toBeNull();
    // A rename after it ended is no news: it counts from the end.
    const renamed = sessionRow("s", { status: "completed", endedAt: now - 1000, updatedAt: now - 100 });
    expect(attentionOf(renamed, now - 500, now)).toBeNull();
    expect(attentionOf(renamed, now - 2000, now)).toBe("finished");
  });

  it("a card takes the strongest reason; the tab takes the board's", () => {
    const sessions = [
      sessionRow("a", { status: "completed", updatedAt: now - 10 }),
      sessionRow("b", { status: "failed", updatedAt: now - 10 }),
    ];
    expect(cardAttention(sessions, new Map(), now)).toBe("failed");
    expect(cardAttention(sessions, new Map([["b", now]]), now)).toBe("finished");
    expect(cardAttention([...sessions, sessionRow("c", { status: "awaiting_permission" })], new Map(), now)).toBe(
      "permission",
    );
    expect(boardStateOf([sessionRow("a", { status: "running" }), sessionRow("b", { status: "idle" })])).toBe("running");
    expect(boardStateOf([sessionRow("a", { status: "running" }), sessionRow("b", { status: "failed" })])).toBe(
      "failed",
    );
    expect(
      boardStateOf([sessionRow("a", { status: "failed" }), sessionRow("b", { status: "awaiting_permission" })]),
    ).toBe("needs-you");
  });
});
