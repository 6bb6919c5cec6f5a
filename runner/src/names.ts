import type { z } from "zod";
import { BranchName, WorktreeName } from "../../protocol/index.ts";

/**
 * The edge checks names before a job exists; the runner checks again, because it is the one about
 * to turn them into folders and git refs, and an edge bug must not become a path outside the data dir.
 */
function check(schema: z.ZodType<string>, value: string, what: string): string {
  const r = schema.safeParse(value);
  if (!r.success) throw new Error(`invalid ${what} ${JSON.stringify(value)}: ${r.error.issues[0]?.message}`);
  if (r.data !== value) throw new Error(`invalid ${what} ${JSON.stringify(value)}: has surrounding spaces`);
  return r.data;
}

/** One safe folder name (worktree names, repo ids). */
export const safeSegment = (value: string, what: string) => check(WorktreeName, value, what);
export const branchName = (value: string, what = "branch name") => check(BranchName, value, what);
