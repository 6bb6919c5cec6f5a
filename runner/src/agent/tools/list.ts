import { stat } from "node:fs/promises";
import { matchesGlob } from "node:path";
import { confine, PathRefused } from "../paths.ts";
import { oneLine, optStr, type Tool, ToolFailure } from "./tool.ts";
import { walkFiles } from "./walk.ts";

const LIST_CAP = 1000;
/** Counting what was left out stops somewhere: a huge tree should not cost a minute of walking. */
const SCAN_CAP = 200_000;

export const listFilesTool: Tool = {
  name: "list_files",
  description:
    "List files in the worktree (recursively, sorted), optionally filtered by a glob. Paths come back relative to " +
    "the worktree root, ready for read_file. `pattern` is matched against paths relative to `path`: `*.ts` matches " +
    "only directly inside it, `**/*.ts` at any depth, `src/**/*.{ts,tsx}` under src. .git and node_modules are " +
    `skipped. At most ${LIST_CAP} paths per call; the result says how many more there were.`,
  inputSchema: {
    type: "object",
    properties: {
      pattern: { type: "string", description: "Glob, e.g. **/*.test.ts (default: every file)" },
      path: { type: "string", description: "Folder to list, relative to the worktree root (default: the root)" },
    },
    additionalProperties: false,
  },
  kind: "read",
  nowDoing: (input) => oneLine(`list ${String(input.pattern ?? input.path ?? "files")}`),
  async run(input, ctx) {
    const pattern = optStr(input, "pattern")?.replace(/^\.\//, "");
    let base: Awaited<ReturnType<typeof confine>>;
    try {
      base = await confine(ctx.root, optStr(input, "path") ?? ".");
    } catch (err) {
      if (err instanceof PathRefused) throw new ToolFailure(err.message);
      throw err;
    }
    const st = await stat(base.abs).catch(() => null);
    if (!st) throw new ToolFailure(`${base.rel} does not exist`);
    if (!st.isDirectory()) throw new ToolFailure(`${base.rel} is a file, not a folder: use read_file to read it`);
    const prefix = base.rel === "." ? "" : `${base.rel}/`;
    const shown: string[] = [];
    let matched = 0;
    let scanned = 0;
    await walkFiles(
      base.abs,
      (rel) => {
        scanned++;
        if (!pattern || matchesGlob(rel, pattern)) {
          matched++;
          if (shown.length < LIST_CAP) shown.push(prefix + rel);
        }
        return scanned < SCAN_CAP;
      },
      ctx.signal,
    );
    if (shown.length === 0) {
      return { output: pattern ? `No files match ${pattern} in ${base.rel}.` : `${base.rel} has no files.` };
    }
    let output = shown.join("\n");
    const more = matched - shown.length;
    if (more > 0 || scanned >= SCAN_CAP) {
      const count = scanned >= SCAN_CAP ? `at least ${more}` : String(more);
      output += `\n\n[${count} more not shown: narrow the pattern or the path]`;
    }
    return { output, meta: { truncated: more > 0 } };
  },
};
