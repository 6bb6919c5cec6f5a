import { describe, expect, it } from "vitest";
import { insertMention, mentionParts, mentionQueryAt } from "./mentionInput.ts";
import { pinsOf, pinTransform, revealViewport } from "./pins.ts";
import { TAB_MARK, tabTitle } from "./tab.ts";
import { commentRow } from "./testkit.ts";
import { insertVariable, triggerSummary } from "./triggerText.ts";

const comment = commentRow;

describe("mention autocomplete", () => {
  it("finds the @ being typed, with spaces in the name so far, and not in an email address", () => {
    expect(mentionQueryAt("hi @an", 6)).toEqual({ start: 3, query: "an" });
    expect(mentionQueryAt("hi @Ann L", 9)).toEqual({ start: 3, query: "Ann L" });
    expect(mentionQueryAt("@", 1)).toEqual({ start: 0, query: "" });
    expect(mentionQueryAt("mail ann@example.com", 20)).toBeNull();
    expect(mentionQueryAt("hi @ann\nthere", 13)).toBeNull();
    expect(mentionQueryAt("hi @ ann", 8)).toBeNull();
    expect(mentionQueryAt("no mention here", 15)).toBeNull();
    // The caret decides: text after it is not part of the query.
    expect(mentionQueryAt("hi @an and more", 6)).toEqual({ start: 3, query: "an" });
  });

  it("replaces the query with @Full Name and a space, caret after it", () => {
    const text = "hi @an";
    const q = mentionQueryAt(text, 6)!;
    expect(insertMention(text, q, 6, "Ann Lee")).toEqual({ text: "hi @Ann Lee ", caret: 12 });
    // In the middle of text, an existing space after the caret is not doubled.
    const mid = "ask @zo about it";
    const q2 = mentionQueryAt(mid, 7)!;
    expect(insertMention(mid, q2, 7, "Zoë Ann")).toEqual({ text: "ask @Zoë Ann about it", caret: 13 });
  });

  it("splits a body into text and the mentions of named people, longest name first", () => {
    expect(mentionParts("ping @Ann Lee and @Ann, not me@ann", ["Ann", "Ann Lee"])).toEqual([
      { text: "ping ", mention: false },
      { text: "@Ann Lee", mention: true },
      { text: " and ", mention: false },
      { text: "@Ann", mention: true },
      { text: ", not me@ann", mention: false },
    ]);
    expect(mentionParts("@山田 太郎 さん", ["山田 太郎"])).toEqual([
      { text: "@山田 太郎", mention: true },
      { text: " さん", mention: false },
    ]);
  });
});

describe("pins", () => {
  it("are the board threads with a point, resolved ones only when asked, with their reply counts", () => {
    const all = [
      comment("a", { x: 10, y: 20 }),
      comment("b", { x: 5, y: 5, resolvedAt: 3 }),
      comment("c", { threadId: "a" }),
      comment("d"),
      comment("e", { target: "zone", targetId: "z1" }),
    ];
    expect(pinsOf(all, false).map((p) => [p.threadId, p.x, p.y, p.replies])).toEqual([["a", 10, 20, 1]]);
    expect(pinsOf(all, true).map((p) => p.threadId)).toEqual(["a", "b"]);
  });

  it("sit at their flow point, counter-scaled; revealing centres the view on a point", () => {
    expect(pinTransform({ x: 100, y: -40 }, 2)).toBe("translate(100px, -40px) scale(0.5)");
    expect(revealViewport({ x: 100, y: 50 }, { width: 800, height: 600 }, 2)).toEqual({ x: 200, y: 200, zoom: 2 });
  });
});

describe("the tab", () => {
  it("says the board's state before its name", () => {
    expect(tabTitle("needs-you", "Payments")).toBe("● Payments · Trellis");
    expect(tabTitle("failed", "Payments")).toBe("✕ Payments · Trellis");
    expect(tabTitle("idle", "Payments")).toBe("Payments · Trellis");
    expect(tabTitle("running", undefined)).toBe("▸ Trellis");
    expect(TAB_MARK.idle.color).toBeNull();
    expect(TAB_MARK["needs-you"].color).not.toBe(TAB_MARK.failed.color);
  });
});

describe("zone triggers", () => {
  it("insert a variable at the caret, replacing a selection", () => {
    expect(insertVariable("Review  now", 7, 7, "worktree.name")).toEqual({
      text: "Review {{worktree.name}} now",
      caret: 24,
    });
    expect(insertVariable("Review X", 7, 8, "zone.name")).toEqual({ text: "Review {{zone.name}}", caret: 20 });
  });

  it("say what a drop does", () => {
    const zone = {
      name: "Review",
      promptTemplate: "Review {{worktree.name}}",
      trigger: {
        behaviour: "ask" as const,
        provider: "anthropic" as const,
        model: "m",
        permissionMode: "ask" as const,
        runtime: "builtin" as const,
      },
    };
    expect(triggerSummary(zone)).toMatch(/^Dropping a worktree here shows the prompt to whoever dropped it/);
    expect(triggerSummary(zone)).toContain("Review {{worktree.name}}");
    expect(triggerSummary({ ...zone, trigger: null })).toBeNull();
    expect(triggerSummary({ ...zone, trigger: { ...zone.trigger, runtime: "claude-code" } })).toContain(
      "(Claude Code on Anthropic m, ask mode)",
    );
  });
});
