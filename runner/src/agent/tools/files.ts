import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { confine, isGitInternal, PathRefused, type ResolvedPath } from "../paths.ts";
import { thousands } from "../shell.ts";
import { oneLine, optInt, str, type Tool, type ToolContext, ToolFailure, type ToolInput } from "./tool.ts";

const READ_LINES = 2000;
const READ_CHARS = 50_000;
const LINE_CHARS = 2000;
const MAX_FILE_BYTES = 20 * 1024 * 1024;
const DIFF_CHARS = 100_000;
/** The model wrote the change itself: an echo of the diff is a check, not news, so keep it short. */
const DIFF_SHOWN = 20_000;

async function where(ctx: ToolContext, input: ToolInput): Promise<ResolvedPath> {
  try {
    return await confine(ctx.root, str(input, "path"));
  } catch (err) {
    if (err instanceof PathRefused) throw new ToolFailure(err.message);
    throw err;
  }
}

async function writable(ctx: ToolContext, input: ToolInput): Promise<ResolvedPath> {
  const p = await where(ctx, input);
  if (isGitInternal(p.rel) || isGitInternal(p.realRel)) {
    throw new ToolFailure(`${p.rel} is inside .git: git's own files are not edited directly (use git commands)`);
  }
  return p;
}

/** The file's text, or null when it does not exist. Refuses folders, binaries and huge files. */
async function readText(p: ResolvedPath): Promise<string | null> {
  const st = await stat(p.abs).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return null;
    throw err;
  });
  if (!st) return null;
  if (st.isDirectory()) throw new ToolFailure(`${p.rel} is a folder, not a file: use list_files to see what is in it`);
  if (!st.isFile()) throw new ToolFailure(`${p.rel} is not a regular file`);
  if (st.size > MAX_FILE_BYTES) {
    throw new ToolFailure(
      `${p.rel} is ${(st.size / 1024 / 1024).toFixed(1)} MB, too big to read whole: use grep, or shell with head/sed, for parts of it`,
    );
  }
  const buf = await readFile(p.abs);
  if (buf.subarray(0, 8192).includes(0)) throw new ToolFailure(`${p.rel} is a binary file (${st.size} bytes)`);
  return buf.toString("utf8");
}

/** A unified diff, as git would show it, capped for the transcript. */
export async function unifiedDiff(rel: string, before: string | null, after: string): Promise<string> {
  const { createTwoFilesPatch } = await import("diff");
  const patch = createTwoFilesPatch(before === null ? "/dev/null" : `a/${rel}`, `b/${rel}`, before ?? "", after);
  // The first line is a row of "=" that git's format does not have.
  const body = patch.replace(/^=+\n/, "");
  return body.length > DIFF_CHARS ? `${body.slice(0, DIFF_CHARS)}\n[diff cut at ${DIFF_CHARS} characters]\n` : body;
}

const lineCount = (s: string) => (s === "" ? 0 : s.split("\n").length - (s.endsWith("\n") ? 1 : 0));

export const readFileTool: Tool = {
  name: "read_file",
  description:
    "Read a text file in the worktree. Lines come back numbered (line number, a tab, the line) so you can cite them; " +
    `at most ${READ_LINES} lines or ${thousands(READ_CHARS)} characters per call, and the result says ` +
    "where it stopped and how to read on. Use `offset` and `limit` to read part of a long file. " +
    "The numbers and tab are not part of the file: leave them out of edit_file's old_string.",
  inputSchema: {
    type: "object",
    properties: {
      path: { type: "string", description: "File path relative to the worktree root, e.g. src/app.ts" },
      offset: { type: "integer", minimum: 1, description: "First line to read, counting from 1 (default 1)" },
      limit: { type: "integer", minimum: 1, description: `How many lines to read (default and most: ${READ_LINES})` },
    },
    required: ["path"],
    additionalProperties: false,
  },
  kind: "read",
  nowDoing: (input) => oneLine(`read ${String(input.path ?? "")}`),
  async run(input, ctx) {
    const p = await where(ctx, input);
    const offset = optInt(input, "offset", 1) ?? 1;
    const asked = optInt(input, "limit", 1);
    const limit = Math.min(asked ?? READ_LINES, READ_LINES);
    const text = await readText(p);
    if (text === null) throw new ToolFailure(`${p.rel} does not exist (use list_files to find files)`);
    if (text === "") return { output: `${p.rel} is empty.` };
    const lines = text.split("\n");
    if (text.endsWith("\n")) lines.pop();
    if (offset > lines.length) {
      throw new ToolFailure(`${p.rel} has ${lines.length} lines: offset ${offset} is past the end`);
    }
    const out: string[] = [];
    let chars = 0;
    let last = offset - 1;
    const end = Math.min(lines.length, offset - 1 + limit);
    for (let i = offset - 1; i < end; i++) {
      let line = lines[i]!;
      if (line.length > LINE_CHARS) line = `${line.slice(0, LINE_CHARS)} [line cut: ${line.length} characters]`;
      const row = `${String(i + 1).padStart(6)}\t${line}`;
      if (chars + row.length > READ_CHARS && out.length > 0) break;
      out.push(row);
      chars += row.length + 1;
      last = i + 1;
    }
    let output = out.join("\n");
    if (last < lines.length) {
      output += `\n\n[showing lines ${offset}-${last} of ${lines.length}; read on with offset=${last + 1}]`;
    }
    // Cut means "you did not get all you asked for", not "you asked for part of the file".
    const truncated = last < end || (asked === undefined && last < lines.length);
    return { output, meta: { truncated } };
  },
};

export const writeFileTool: Tool = {
  name: "write_file",
  description:
    "Create a file, or replace a file's whole content, in the worktree. Missing parent folders are created. " +
    "For a change to part of an existing file prefer edit_file. Depending on the session's permission mode a person " +
    "may have to approve the change (they see its diff); if they deny it, the result says why.",
  inputSchema: {
    type: "object",
    properties: {
      path: { type: "string", description: "File path relative to the worktree root" },
      content: { type: "string", description: "The complete new content of the file" },
    },
    required: ["path", "content"],
    additionalProperties: false,
  },
  kind: "edit",
  nowDoing: (input) => oneLine(`write ${String(input.path ?? "")}`),
  async preview(input, ctx) {
    const p = await writable(ctx, input);
    const content = str(input, "content");
    const before = await readText(p);
    return {
      summary: before === null ? `create ${p.rel}` : `overwrite ${p.rel}`,
      diff: await unifiedDiff(p.rel, before, content),
    };
  },
  async run(input, ctx) {
    const p = await writable(ctx, input);
    const content = str(input, "content");
    const before = await readText(p);
    await mkdir(dirname(p.abs), { recursive: true });
    // The folders just made could not have been symlinks, but the check is cheap: do it again.
    await confine(ctx.root, p.abs).catch((err: Error) => {
      throw new ToolFailure(err.message);
    });
    await writeFile(p.abs, content);
    const diff = await unifiedDiff(p.rel, before, content);
    const what = before === null ? "Created" : "Wrote";
    return {
      output: `${what} ${p.rel} (${lineCount(content)} lines, ${Buffer.byteLength(content)} bytes).`,
      meta: { diff },
    };
  },
};

/** The file's new content after replacing the one exact occurrence of `old_string`. */
async function edited(ctx: ToolContext, input: ToolInput) {
  const p = await writable(ctx, input);
  const oldString = str(input, "old_string");
  const newString = str(input, "new_string");
  if (oldString === "")
    throw new ToolFailure("old_string is empty: to create a file or replace all of it use write_file");
  if (oldString === newString)
    throw new ToolFailure("old_string and new_string are the same: there is nothing to change");
  const before = await readText(p);
  if (before === null) throw new ToolFailure(`${p.rel} does not exist: use write_file to create it`);
  const at = before.indexOf(oldString);
  if (at < 0) {
    throw new ToolFailure(
      `old_string was not found in ${p.rel}. It must match the file exactly, whitespace and indentation included ` +
        "(and without read_file's line numbers): read the file again and copy the text.",
    );
  }
  let count = 0;
  for (let i = at; i >= 0; i = before.indexOf(oldString, i + oldString.length)) count++;
  if (count > 1) {
    throw new ToolFailure(
      `old_string appears ${count} times in ${p.rel}: include more of the surrounding lines so that it matches exactly one place.`,
    );
  }
  const after = before.slice(0, at) + newString + before.slice(at + oldString.length);
  return { p, before, after };
}

export const editFileTool: Tool = {
  name: "edit_file",
  description:
    "Change part of an existing file: replaces the one exact occurrence of old_string with new_string. " +
    "old_string must match the file exactly (whitespace and indentation included) and appear exactly once; " +
    "include a few surrounding lines to make it unique. The edit is refused, with the reason, when the text is " +
    "absent or appears more than once. Read the file first. The result includes the diff.",
  inputSchema: {
    type: "object",
    properties: {
      path: { type: "string", description: "File path relative to the worktree root" },
      old_string: { type: "string", description: "The exact text to replace (must appear exactly once)" },
      new_string: { type: "string", description: "The text to put in its place" },
    },
    required: ["path", "old_string", "new_string"],
    additionalProperties: false,
  },
  kind: "edit",
  nowDoing: (input) => oneLine(`edit ${String(input.path ?? "")}`),
  async preview(input, ctx) {
    const { p, before, after } = await edited(ctx, input);
    return { summary: `edit ${p.rel}`, diff: await unifiedDiff(p.rel, before, after) };
  },
  async run(input, ctx) {
    const { p, before, after } = await edited(ctx, input);
    await writeFile(p.abs, after);
    const diff = await unifiedDiff(p.rel, before, after);
    const shown = diff.length > DIFF_SHOWN ? `${diff.slice(0, DIFF_SHOWN)}\n[diff cut]\n` : diff;
    return { output: `Edited ${p.rel}.\n\n${shown}`, meta: { diff } };
  },
};
