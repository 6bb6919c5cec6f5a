/** Real git repositories in temp folders for the runner's tests. */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

const IDENTITY = ["-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"];

export function sh(cwd: string, ...args: string[]): string {
  return execFileSync("git", [...IDENTITY, ...args], { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** A fresh temp folder, removed by the returned cleanup. */
export function tempDir(prefix = "trellis-runner-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeFiles(root: string, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), content);
  }
}

export function commit(repo: string, files: Record<string, string>, message = "change"): string {
  writeFiles(repo, files);
  sh(repo, "add", "-A");
  sh(repo, "commit", "-q", "-m", message);
  return sh(repo, "rev-parse", "HEAD").trim();
}

/** A work tree on `main` with one commit. */
export function makeRepo(dir: string, files: Record<string, string> = { "README.md": "hello\n" }): string {
  mkdirSync(dir, { recursive: true });
  sh(dir, "init", "-q", "-b", "main");
  commit(dir, files, "initial");
  return dir;
}

/** A bare repo (what a `file://` URL points at) with `main` and a `feature` branch. */
export function makeBareRemote(root: string): { bare: string; url: string; work: string } {
  const work = makeRepo(join(root, "upstream-work"));
  sh(work, "checkout", "-q", "-b", "feature");
  commit(work, { "feature.txt": "feature\n" }, "feature work");
  sh(work, "checkout", "-q", "main");
  const bare = join(root, "upstream.git");
  sh(root, "clone", "-q", "--bare", work, bare);
  return { bare, url: `file://${bare}`, work };
}
