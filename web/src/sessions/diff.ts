/** A unified diff (as the runner writes an edit's) in lines the panel colours and numbers. */

export interface DiffLine {
  kind: "meta" | "hunk" | "add" | "del" | "ctx";
  text: string;
  /** Line numbers in the old and the new file, where the line has one. */
  old: number | null;
  new: number | null;
}

export interface ParsedDiff {
  lines: DiffLine[];
  added: number;
  removed: number;
}

const HUNK = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/;

export function parseDiff(text: string): ParsedDiff {
  const lines: DiffLine[] = [];
  let added = 0;
  let removed = 0;
  let oldNo = 0;
  let newNo = 0;
  let inHunk = false;
  const src = text.replace(/\n$/, "").split("\n");
  for (const l of src) {
    const h = HUNK.exec(l);
    if (h) {
      inHunk = true;
      oldNo = Number(h[1]);
      newNo = Number(h[2]);
      lines.push({ kind: "hunk", text: l, old: null, new: null });
    } else if (!inHunk || l.startsWith("\\") || l.startsWith("diff ") || l.startsWith("index ")) {
      lines.push({ kind: "meta", text: l, old: null, new: null });
      if (l.startsWith("diff ")) inHunk = false;
    } else if (l.startsWith("+")) {
      added++;
      lines.push({ kind: "add", text: l.slice(1), old: null, new: newNo++ });
    } else if (l.startsWith("-")) {
      removed++;
      lines.push({ kind: "del", text: l.slice(1), old: oldNo++, new: null });
    } else {
      lines.push({ kind: "ctx", text: l.startsWith(" ") ? l.slice(1) : l, old: oldNo++, new: newNo++ });
    }
  }
  return { lines, added, removed };
}
