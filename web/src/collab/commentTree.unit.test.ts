import { describe, expect, it } from "vitest";
import type { Comment } from "../../../protocol/index.ts";
import { cardOpenCount, commentTree, type PlaceNode } from "./commentTree.ts";
import { commentRow } from "./testkit.ts";

const board = {
  zones: [
    { id: "z2", name: "Review" },
    { id: "z1", name: "Doing" },
  ],
  cards: [
    { id: "w1", name: "feature", zoneId: "z1" },
    { id: "w2", name: "bugfix", zoneId: null },
    { id: "w3", name: "idle", zoneId: "z2" },
  ],
  sessions: [
    { id: "s1", worktreeId: "w1", title: "Plan" },
    { id: "s2", worktreeId: "w2", title: "" },
  ],
};
const tree = (comments: Comment[], showResolved = false, keep: string | null = null) =>
  commentTree({ comments, ...board, showResolved, keep });
/** A node as `key(open)[threads]{children}`, to read the outline at a glance. */
const outline = (n: PlaceNode): string =>
  `${n.key}(${n.open})[${n.threads.map((t) => t.root.id).join(",")}]${n.children.length ? `{${n.children.map(outline).join(" ")}}` : ""}`;

describe("the comments panel's outline", () => {
  it("nests board → zones → worktrees → sessions, keeping only places with threads, with open counts", () => {
    const t = tree([
      commentRow("a"),
      commentRow("b", { x: 10, y: 20 }),
      commentRow("c", { target: "zone", targetId: "z1" }),
      commentRow("d", { target: "session", targetId: "s1" }),
      commentRow("e", { target: "session", targetId: "s1", messageId: "m1" }),
      commentRow("f", { target: "worktree", targetId: "w2", resolvedAt: 5 }),
      commentRow("g", { target: "session", targetId: "s2" }),
      commentRow("h", { threadId: "d", target: "session", targetId: "s1" }),
      commentRow("i", { target: "zone", targetId: "gone" }),
    ]);
    expect(t.board && outline(t.board)).toBe("board:(2)[a,b]");
    // The zone with nothing to show (Review, with an idle card) is not listed.
    expect(t.zones.map(outline)).toEqual(["zone:z1(3)[c]{worktree:w1(2)[]{session:s1(2)[d,e]}}"]);
    // The resolved thread is hidden, but the card stays for its session's open one.
    expect(t.loose.map(outline)).toEqual(["worktree:w2(1)[]{session:s2(1)[g]}"]);
    expect(t.removed.map(outline)).toEqual(["zone:gone(1)[i]"]);
    expect(t.loose[0]!.children[0]!.name).toBe("Untitled session");
  });

  it("shows resolved threads when asked, and the linked one always", () => {
    const all = [commentRow("f", { target: "worktree", targetId: "w2", resolvedAt: 5 })];
    expect(tree(all).loose).toEqual([]);
    expect(tree(all, false, "f").loose.map(outline)).toEqual(["worktree:w2(0)[f]"]);
    expect(tree(all, true).loose.map(outline)).toEqual(["worktree:w2(0)[f]"]);
  });

  it("counts a card's open threads with its sessions'", () => {
    const counts = new Map([
      ["worktree:w1", 1],
      ["session:s1", 2],
      ["session:s9", 4],
    ]);
    expect(cardOpenCount(counts, "w1", ["s1"])).toBe(3);
    expect(cardOpenCount(counts, "w2", [])).toBe(0);
  });
});
