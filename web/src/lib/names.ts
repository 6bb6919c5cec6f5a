/**
 * The server's git-name rules (`WorktreeName`, `BranchName` in protocol/runner.ts), mirrored as plain
 * checks so the form can say what is wrong before sending, without pulling zod into the board's
 * bundle. The server stays the judge: its 400 message is shown as is if the two ever disagree.
 * Each returns null when the name is fine, else what is wrong with it.
 */

export function worktreeNameProblem(raw: string): string | null {
  const s = raw.trim();
  if (!s) return "Give it a name.";
  if (s.length > 100) return "At most 100 characters.";
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(s))
    return "Use letters, digits, '.', '_' and '-', starting with a letter or digit.";
  if (s.includes("..") || s.endsWith(".lock") || s.endsWith(".")) return "Not a safe folder name.";
  return null;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: git refuses control characters in ref names
const REF_FORBIDDEN = /[\x00-\x20\x7f~^:?*[\\]/;

export function branchNameProblem(raw: string): string | null {
  const s = raw.trim();
  if (!s) return "Give the branch a name.";
  if (s.length > 200) return "At most 200 characters.";
  const bad =
    REF_FORBIDDEN.test(s) ||
    s.includes("..") ||
    s.includes("@{") ||
    s.includes("//") ||
    s.startsWith("/") ||
    s.endsWith("/") ||
    s.startsWith("-") ||
    s.endsWith(".") ||
    s === "@" ||
    s.split("/").some((part) => part.length === 0 || part.startsWith(".") || part.endsWith(".lock"));
  return bad ? "Not a valid git branch name (no spaces, '..', '~', '^', ':', '?', '*', '[' or '\\')." : null;
}

export function urlProblem(raw: string): string | null {
  const s = raw.trim();
  if (!s) return null;
  try {
    new URL(s);
    return null;
  } catch {
    return "Paste a full link, e.g. https://github.com/org/repo/issues/12.";
  }
}
