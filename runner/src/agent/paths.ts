import { lstat, realpath } from "node:fs/promises";
import { dirname, isAbsolute, relative, resolve, sep } from "node:path";

/** A path the agent may not use, in words it can read and act on. */
export class PathRefused extends Error {
  override name = "PathRefused";
}

export interface ResolvedPath {
  /** Where to read or write (inside the worktree's real path). */
  abs: string;
  /** For messages, diffs and the card: the path as named, relative to the worktree root, `/`-separated. */
  rel: string;
  /** The same once symlinks are followed (still inside the worktree). */
  realRel: string;
}

function inside(root: string, p: string): boolean {
  const r = relative(root, p);
  return r === "" || (!r.startsWith(`..${sep}`) && r !== ".." && !isAbsolute(r));
}

const toRel = (root: string, p: string) => relative(root, p).split(sep).join("/") || ".";

/**
 * Resolve a path the model gave against the worktree and refuse anything that lands outside it once
 * symlinks are followed. `root` must already be a real path (the loop resolves it once per task).
 * A path that does not exist yet is judged by its deepest existing ancestor, found with lstat so a
 * dangling symlink cannot smuggle a write out of the tree.
 */
export async function confine(root: string, given: string): Promise<ResolvedPath> {
  if (typeof given !== "string" || given.trim() === "") throw new PathRefused("the path is empty");
  if (given.includes("\0")) throw new PathRefused("the path contains a NUL character");
  const lexical = resolve(root, given);
  if (!inside(root, lexical)) {
    throw new PathRefused(`${given} is outside the worktree: only paths inside it (relative to its root) can be used`);
  }
  let probe = lexical;
  let rest = "";
  for (;;) {
    const st = await lstat(probe).catch(() => null);
    if (st) break;
    const parent = dirname(probe);
    if (parent === probe) break;
    rest = rest ? `${probe.slice(parent.length + 1)}${sep}${rest}` : probe.slice(parent.length + 1);
    probe = parent;
  }
  let real: string;
  try {
    real = await realpath(probe);
  } catch {
    throw new PathRefused(`${toRel(root, probe)} is a symlink to something that does not exist`);
  }
  const abs = rest ? resolve(real, rest) : real;
  if (!inside(root, abs)) {
    throw new PathRefused(`${given} leads outside the worktree (through a symlink): it cannot be used`);
  }
  return { abs, rel: toRel(root, lexical), realRel: toRel(root, abs) };
}

/** The worktree's own git folder: writing hooks or config there would run code outside any approval. */
export function isGitInternal(rel: string): boolean {
  return rel === ".git" || rel.startsWith(".git/");
}
