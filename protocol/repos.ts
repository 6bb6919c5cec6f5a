import { z } from "zod";
import { Text } from "./common.ts";
import { WorktreeName } from "./worktrees.ts";

/** Repos: a git repository a runner has, by local folder or cloned from a URL. */

/**
 * Where a runner may clone from: `https://`, `ssh://` or `git@host:path`, and `file://` (which the
 * service allows only for the runner's owner, since it reads the owner's disk). A host or path
 * that starts with `-` would reach git or ssh as an option (`ssh://-oProxyCommand=…`), and
 * whitespace or control characters have no place in a URL: both are refused here rather than left
 * to git.
 */
export function repoUrlProblem(url: string): string | null {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\s\x00-\x1f\x7f]/.test(url)) return "must not contain spaces or control characters";
  let host: string;
  let path: string;
  const scp = /^git@([^:/]+):(.*)$/.exec(url);
  if (scp) [, host, path] = scp as unknown as [string, string, string];
  else {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return "must be an https://, ssh://, git@host:path or file:// URL";
    }
    if (!["https:", "ssh:", "file:"].includes(u.protocol)) {
      return "must be an https://, ssh://, git@host:path or file:// URL";
    }
    if (u.protocol !== "file:" && !u.hostname) return "must name a host";
    host = `${u.username}@${u.hostname}`.replace(/^@/, "");
    path = u.pathname;
  }
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  if (
    decode(host)
      .split("@")
      .some((part) => part.startsWith("-"))
  )
    return "host must not start with '-'";
  if (/^[/~]*-/.test(decode(path))) return "path must not start with '-'";
  return null;
}

export const RepoUrl = Text.trim()
  .min(1)
  .max(2000)
  .superRefine((url, ctx) => {
    const problem = repoUrlProblem(url);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

/**
 * A folder on the runner's machine: absolute (`/…`, `C:\\…`) or from the home folder (`~/…`). A
 * relative path would be resolved against wherever the runner happened to be started: refused.
 */
export const RepoPath = Text.trim()
  .min(1)
  .max(1000)
  .regex(
    /^(\/|~$|~\/|[A-Za-z]:[\\/]|\\\\)/,
    "must be an absolute path on the runner's machine (like /home/you/code/app or ~/code/app), not a relative one",
  );

export const RepoSource = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("path"), path: RepoPath }),
  z.object({ kind: z.literal("url"), url: RepoUrl }),
]);
export type RepoSource = z.infer<typeof RepoSource>;

export const Repo = z.object({
  id: z.string(),
  runnerId: z.string(),
  name: z.string(),
  status: z.enum(["adding", "ready", "error"]),
  source: RepoSource,
  defaultBranch: z.string().nullable(),
  branches: z.array(z.string()),
  lastFetchedAt: z.number().nullable(),
  error: z.string().nullable(),
  /** Where the repo lives on the runner's machine, once added. */
  path: z.string().nullable(),
  createdAt: z.number(),
});
export type Repo = z.infer<typeof Repo>;

export const AddRepoBody = z.object({ name: WorktreeName.optional(), source: RepoSource });
