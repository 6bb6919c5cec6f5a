import { describe, expect, it } from "vitest";
import { parseDiff } from "./diff.ts";
import { parseInline, parseMarkdown } from "./markdown.ts";
import { transcriptRows } from "./rows.ts";
import { messageRow } from "./testkit.ts";
import { RowHeights, windowOf } from "./windowing.ts";

/** The panel's pure parts: markdown and diffs as data, the transcript's rows, the windowed list's arithmetic. */

describe("parseMarkdown", () => {
  it("reads paragraphs, headings, lists, quotes, rules and fenced code", () => {
    const blocks = parseMarkdown(
      "# Plan\n\nFirst line\nsecond line\n\n- one\n- two\n  more\n\n2. b\n3. c\n\n> quoted\n\n---\n\n```ts\nconst a = 1;\n```",
    );
    expect(blocks.map((b) => b.t)).toEqual(["h", "p", "list", "list", "quote", "hr", "code"]);
    expect(blocks[1]).toEqual({ t: "p", c: [{ t: "text", s: "First line\nsecond line" }] });
    expect(blocks[2]).toMatchObject({ ordered: false, items: [[{ s: "one" }], [{ s: "two\nmore" }]] });
    expect(blocks[3]).toMatchObject({ ordered: true, start: 2 });
    expect(blocks[6]).toEqual({ t: "code", lang: "ts", s: "const a = 1;", open: false });
  });

  it("treats a fence still being written as code to the end, markup inside it untouched", () => {
    const blocks = parseMarkdown("Here:\n```js\nconst x = **1**;\n# not a heading");
    expect(blocks.at(-1)).toEqual({ t: "code", lang: "js", s: "const x = **1**;\n# not a heading", open: true });
  });

  it("inline code, bold, italics and http links; other link schemes stay text", () => {
    expect(parseInline("run `npm **test**` then **done** and *soon*")).toEqual([
      { t: "text", s: "run " },
      { t: "code", s: "npm **test**" },
      { t: "text", s: " then " },
      { t: "strong", c: [{ t: "text", s: "done" }] },
      { t: "text", s: " and " },
      { t: "em", c: [{ t: "text", s: "soon" }] },
    ]);
    expect(parseInline("[docs](https://example.com/a) and [x](javascript:alert(1))")).toEqual([
      { t: "link", href: "https://example.com/a", c: [{ t: "text", s: "docs" }] },
      { t: "text", s: " and [x](javascript:alert(1))" },
    ]);
    expect(parseInline("see https://example.com/x.")).toEqual([
      { t: "text", s: "see " },
      { t: "link", href: "https://example.com/x", c: [{ t: "text", s: "https://example.com/x" }] },
      { t: "text", s: "." },
    ]);
    // snake_case is not italics; markup-looking HTML is plain text.
    expect(parseInline("my_var_name <b>x</b>")).toEqual([{ t: "text", s: "my_var_name <b>x</b>" }]);
  });
});

describe("parseDiff", () => {
  it("numbers old and new lines and counts the change", () => {
    const d = parseDiff("--- a/x.ts\n+++ b/x.ts\n@@ -3,2 +3,2 @@\n keep\n-old\n+new\n\\ No newline at end of file\n");
    expect(d.lines.map((l) => [l.kind, l.text, l.old, l.new])).toEqual([
      ["meta", "--- a/x.ts", null, null],
      ["meta", "+++ b/x.ts", null, null],
      ["hunk", "@@ -3,2 +3,2 @@", null, null],
      ["ctx", "keep", 3, 3],
      ["del", "old", 4, null],
      ["add", "new", null, 4],
      ["meta", "\\ No newline at end of file", null, null],
    ]);
    expect([d.added, d.removed]).toEqual([1, 1]);
  });
});

describe("transcriptRows", () => {
  const S = "s";
  const call = messageRow(S, 2, {
    role: "assistant",
    content: [
      { type: "text", text: "Writing." },
      { type: "tool_call", id: "c1", name: "write_file", input: { path: "a" } },
    ],
  });
  const result = messageRow(S, 3, {
    role: "tool",
    content: [{ type: "tool_result", callId: "c1", name: "write_file", output: "ok", isError: false }],
  });

  it("puts a tool call and its result in one row, which forks after the result", () => {
    const rows = transcriptRows([messageRow(S, 1), call, result, messageRow(S, 4)]);
    expect(rows.map((r) => [r.message.seq, r.last.seq])).toEqual([
      [1, 1],
      [2, 3],
      [4, 4],
    ]);
    expect(rows[1]!.results.get("c1")?.output).toBe("ok");
  });

  it("keeps a result that answers no call of the turn before as its own row", () => {
    const orphan = { ...result, content: [{ ...result.content[0]!, callId: "other" }] } as typeof result;
    expect(transcriptRows([call, orphan]).map((r) => r.message.seq)).toEqual([2, 3]);
  });

  it("reuses the rows it made before when their messages are the same", () => {
    const list = [messageRow(S, 1), call, result];
    const first = transcriptRows(list);
    const again = transcriptRows([...list, messageRow(S, 4)], first);
    expect(again[0]).toBe(first[0]);
    expect(again[1]).toBe(first[1]);
  });
});

describe("windowOf", () => {
  const tall = Array.from({ length: 1000 }, () => 100);

  it("draws only the rows near the viewport, with spacers for the rest", () => {
    const w = windowOf(tall, 50_000, 800, 200);
    expect(w.start).toBe(498);
    expect(w.end).toBe(510);
    expect(w.before).toBe(49_800);
    expect(w.before + (w.end - w.start) * 100 + w.after).toBe(100_000);
    expect(w.total).toBe(100_000);
  });

  it("at the top and past the bottom", () => {
    expect(windowOf(tall, 0, 500, 0)).toMatchObject({ start: 0, end: 5, before: 0 });
    const w = windowOf(tall, 200_000, 500, 0);
    expect([w.start, w.end, w.after]).toEqual([1000, 1000, 0]);
    expect(windowOf([], 0, 500)).toEqual({ start: 0, end: 0, before: 0, after: 0, total: 0 });
  });

  it("uses measured heights where known, the estimate elsewhere", () => {
    const h = new RowHeights(50);
    expect(h.set("a", 120)).toBe(true);
    expect(h.set("a", 120.2)).toBe(false);
    expect(h.of(["a", "b"])).toEqual([120, 50]);
    const w = windowOf(h.of(["a", "b", "c"]), 130, 10, 0);
    expect([w.start, w.end, w.before]).toEqual([1, 2, 120]);
  });
});
