import { spawn } from "node:child_process";
import { constants } from "node:fs";
import { access, open, readFile, stat } from "node:fs/promises";
import { basename, delimiter, join, matchesGlob } from "node:path";
import { confine, PathRefused } from "../paths.ts";
import { agentEnv } from "../shell.ts";
import { oneLine, optStr, str, type Tool, type ToolContext, ToolFailure, type ToolOutcome } from "./tool.ts";
import { walkFiles } from "./walk.ts";

const MATCH_CAP = 500;
const LINE_CHARS = 500;
const OUT_CHARS = 30_000;
const FILE_BYTES = 5 * 1024 * 1024;

const rgByPath = new Map<string, string | null>();

/** ripgrep's path, looked up once per PATH (it is much faster than the fallback on a big tree). */
async function findRg(path: string | undefined): Promise<string | null> {
  const key = path ?? "";
  if (rgByPath.has(key)) return rgByPath.get(key)!;
  let found: string | null = null;
  for (const dir of key.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, "rg");
    if (
      await access(candidate, constants.X_OK).then(
        () => true,
        () => false,
      )
    ) {
      found = candidate;
      break;
    }
  }
  rgByPath.set(key, found);
  return found;
}

export interface GrepQuery {
  pattern: string;
  /** Relative to the root; "." for all of it. */
  rel: string;
  abs: string;
  isFile: boolean;
  glob?: string;
  ignoreCase: boolean;
}

function finish(lines: string[], matches: number, capped: boolean): ToolOutcome {
  if (matches === 0) return { output: "No matches." };
  let output = lines.join("\n");
  if (capped) output += `\n\n[stopped at ${lines.length} matching lines: narrow the pattern, the path or the glob]`;
  return { output, meta: { truncated: capped } };
}

const clip = (line: string) => (line.length > LINE_CHARS ? `${line.slice(0, LINE_CHARS)} [line cut]` : line);

async function withRg(rg: string, q: GrepQuery, ctx: ToolContext): Promise<ToolOutcome> {
  const args = ["--line-number", "--no-heading", "--with-filename", "--color", "never", "--no-config"];
  args.push("--max-columns", String(LINE_CHARS), "--max-columns-preview", "-g", "!node_modules", "-g", "!.git");
  if (q.ignoreCase) args.push("-i");
  if (q.glob) args.push("--glob", q.glob);
  args.push("-e", q.pattern);
  if (q.rel !== ".") args.push("--", q.rel);
  return new Promise((resolve) => {
    const child = spawn(rg, args, {
      cwd: ctx.root,
      env: agentEnv(ctx.env, ctx.userEnv),
      stdio: ["ignore", "pipe", "pipe"],
    });
    const lines: string[] = [];
    let pending = "";
    let chars = 0;
    let capped = false;
    let stderr = "";
    const onAbort = () => child.kill("SIGKILL");
    ctx.signal.addEventListener("abort", onAbort, { once: true });
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      if (capped) return;
      pending += d;
      const parts = pending.split("\n");
      pending = parts.pop()!;
      for (const line of parts) {
        if (lines.length >= MATCH_CAP || chars > OUT_CHARS) {
          capped = true;
          child.kill("SIGKILL");
          return;
        }
        lines.push(clip(line));
        chars += line.length;
      }
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      if (stderr.length < 4000) stderr += d;
    });
    child.on("error", (err) => resolve({ output: `could not run ripgrep: ${err.message}`, isError: true }));
    child.on("close", (code) => {
      ctx.signal.removeEventListener("abort", onAbort);
      if (!capped && pending) lines.push(clip(pending));
      if (code === 2 && !capped && lines.length === 0) {
        const why = stderr.trim() || "ripgrep exited with an error";
        const output = /regex parse error/.test(why)
          ? `pattern is not a valid regular expression: ${why}`
          : `grep failed: ${why}`;
        resolve({ output, isError: true });
      } else resolve(finish(lines, lines.length, capped));
    });
  });
}

async function isTextFile(abs: string): Promise<boolean> {
  const st = await stat(abs).catch(() => null);
  if (!st?.isFile() || st.size > FILE_BYTES) return false;
  const fh = await open(abs, "r");
  try {
    const { buffer, bytesRead } = await fh.read(Buffer.alloc(8192), 0, 8192, 0);
    return !buffer.subarray(0, bytesRead).includes(0);
  } finally {
    await fh.close();
  }
}

/** The same search in plain JavaScript, for machines without ripgrep. */
export async function withJs(q: GrepQuery, ctx: ToolContext): Promise<ToolOutcome> {
  let re: RegExp;
  try {
    re = new RegExp(q.pattern, q.ignoreCase ? "i" : "");
  } catch (err) {
    throw new ToolFailure(`pattern is not a valid regular expression: ${(err as Error).message}`);
  }
  const lines: string[] = [];
  let chars = 0;
  let capped = false;
  const search = async (abs: string, shownAs: string): Promise<boolean> => {
    if (!(await isTextFile(abs))) return true;
    const text = await readFile(abs, "utf8").catch(() => "");
    const rows = text.split("\n");
    for (let i = 0; i < rows.length; i++) {
      if (!re.test(rows[i]!)) continue;
      if (lines.length >= MATCH_CAP || chars > OUT_CHARS) {
        capped = true;
        return false;
      }
      const row = `${shownAs}:${i + 1}:${clip(rows[i]!)}`;
      lines.push(row);
      chars += row.length;
    }
    return true;
  };
  if (q.isFile) {
    await search(q.abs, q.rel);
  } else {
    const prefix = q.rel === "." ? "" : `${q.rel}/`;
    // As in ripgrep: a glob without a slash matches the file's name wherever it is.
    const globMatch = (rel: string) =>
      !q.glob || (q.glob.includes("/") ? matchesGlob(rel, q.glob) : matchesGlob(basename(rel), q.glob));
    await walkFiles(
      q.abs,
      (rel, entry) => (entry.isFile() && globMatch(rel) ? search(join(q.abs, rel), prefix + rel) : true),
      ctx.signal,
    );
  }
  return finish(lines, lines.length, capped);
}

export const grepTool: Tool = {
  name: "grep",
  description:
    "Search file contents in the worktree for a regular expression. Each match comes back as path:line:text, paths " +
    "relative to the worktree root. `glob` limits the files searched (`*.ts` matches by file name anywhere, " +
    "`src/**/*.ts` by path). .git, node_modules and binary files are skipped. " +
    `At most ${MATCH_CAP} matching lines per call; the result says when it stopped.`,
  inputSchema: {
    type: "object",
    properties: {
      pattern: { type: "string", description: "Regular expression, e.g. function\\s+handle|TODO" },
      path: { type: "string", description: "File or folder to search, relative to the worktree root (default: all)" },
      glob: { type: "string", description: "Only files matching this glob, e.g. *.ts" },
      ignore_case: { type: "boolean", description: "Match without regard to case (default false)" },
    },
    required: ["pattern"],
    additionalProperties: false,
  },
  kind: "read",
  nowDoing: (input) => oneLine(`grep ${String(input.pattern ?? "")}`),
  async run(input, ctx) {
    const pattern = str(input, "pattern");
    if (!pattern) throw new ToolFailure("pattern is empty");
    let where: Awaited<ReturnType<typeof confine>>;
    try {
      where = await confine(ctx.root, optStr(input, "path") ?? ".");
    } catch (err) {
      if (err instanceof PathRefused) throw new ToolFailure(err.message);
      throw err;
    }
    const st = await stat(where.abs).catch(() => null);
    if (!st) throw new ToolFailure(`${where.rel} does not exist`);
    const q: GrepQuery = {
      pattern,
      rel: where.rel,
      abs: where.abs,
      isFile: st.isFile(),
      glob: optStr(input, "glob"),
      ignoreCase: input.ignore_case === true,
    };
    const rg = await findRg(ctx.env.PATH);
    return rg ? withRg(rg, q, ctx) : withJs(q, ctx);
  },
};
