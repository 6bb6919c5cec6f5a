/**
 * The SDK runtimes resume their own conversation after the runner process is stopped and started
 * again: the edge keeps each session's SDK session (Claude Code) or thread (Codex) id, and the SDK
 * keeps the conversation under the runner's HOME (~/.claude, ~/.codex), which a restart leaves as
 * it was. What the scripted servers get on the next prompt shows it is the SDK's resume, not the
 * runner rebuilding the conversation from D1 ("The conversation so far: …").
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RequestBody } from "../../test/model-server.ts";
import { type ResponsesServer, startResponsesServer } from "../../test/responses-server.ts";
import {
  as,
  type Client,
  lastTask,
  noticesOf,
  providerEnv,
  readyWorktree,
  taskEnded,
  textOf,
  type World,
  world,
} from "./session-kit.ts";

let w: World;
let rs: ResponsesServer;
let owner: Client;
const home = mkdtempSync(join(tmpdir(), "trellis-restart-home-"));

beforeAll(async () => {
  rs = await startResponsesServer();
  w = await world("Owner", { "README.md": "hello\n" }, { HOME: home });
  owner = as(w, w.s.user.token);
}, 60_000);
afterAll(async () => {
  await Promise.allSettled([w?.stop(), rs?.close()]);
  rmSync(home, { recursive: true, force: true });
});

/** Stop the runner process and start a new one on the same config, data and HOME. */
async function restart() {
  const old = w.runner;
  old.kill("SIGTERM");
  expect(await old.exited).toBe(0);
  w.runner = w.s.start([], { ...providerEnv(w.server), HOME: home });
  await w.runner.waitFor(/connected to /, 30_000);
}

const REBUILT = "The conversation so far";

describe("SDK runtimes across a runner restart", () => {
  it("Claude Code resumes its own session on the new runner process", async () => {
    const wt = await readyWorktree(w, "cc-restart");
    w.server.script("anthropic", [{ text: "The magic word is plover." }]);
    const s = await owner.start({
      worktreeId: wt.id,
      provider: "anthropic",
      model: "claude-sonnet-4-5",
      runtime: "claude-code",
      permissionMode: "ask",
      prompt: "Remember a magic word.",
    });
    const first = await taskEnded(owner, s.id, lastTask(await owner.detail(s.id)).id, 60_000);
    expect(first.task.status, first.task.error ?? "").toBe("completed");

    await restart();

    let sent: RequestBody | null = null;
    w.server.script("anthropic", [
      (body) => {
        sent = body;
        return { text: "It was plover." };
      },
    ]);
    const t2 = await owner.prompt(s.id, "What was the word?");
    const { task } = await taskEnded(owner, s.id, t2.id, 60_000);
    expect(w.server.failures).toEqual([]);
    expect(task.status, task.error ?? "").toBe("completed");
    expect(w.runner.output).toMatch(new RegExp(`job ${task.jobId} session\\.task`));
    // Claude Code's own transcript, turn by turn: the first prompt and answer, then only the new prompt.
    const said = JSON.stringify(sent!.messages);
    expect(said).toContain("Remember a magic word.");
    expect(said).toContain("The magic word is plover.");
    expect(said).not.toContain(REBUILT);
    expect(JSON.stringify(sent!.messages?.at(-1))).toContain("What was the word?");

    const msgs = await owner.messages(s.id);
    expect(msgs.filter((m) => m.role === "user").map(textOf)).toEqual(["Remember a magic word.", "What was the word?"]);
    expect(msgs.filter((m) => m.role === "assistant").map(textOf)).toEqual([
      "The magic word is plover.",
      "It was plover.",
    ]);
  }, 150_000);

  it("Codex resumes its thread on the new runner process", async () => {
    const wt = await readyWorktree(w, "codex-restart");
    rs.script([{ text: "The magic word is xyzzy." }]);
    const s = await owner.start({
      worktreeId: wt.id,
      provider: "openai",
      baseUrl: rs.url,
      model: "gpt-5",
      runtime: "codex",
      permissionMode: "read-only",
      prompt: "Remember another magic word.",
    });
    const first = await taskEnded(owner, s.id, lastTask(await owner.detail(s.id)).id, 60_000);
    expect(first.task.status, first.task.error ?? "").toBe("completed");

    await restart();

    let input = "";
    rs.script([
      (body) => {
        input = JSON.stringify(body.input);
        return { text: "It was xyzzy." };
      },
    ]);
    const t2 = await owner.prompt(s.id, "And that word?");
    const { task } = await taskEnded(owner, s.id, t2.id, 60_000);
    expect(rs.failures).toEqual([]);
    expect(task.status, task.error ?? "").toBe("completed");
    expect(input).toContain("Remember another magic word.");
    expect(input).toContain("The magic word is xyzzy.");
    expect(input).toContain("And that word?");
    expect(input).not.toContain(REBUILT);

    const msgs = await owner.messages(s.id);
    // This runner's HOME is under /tmp, where Codex will not set up its Linux sandbox: the session says so.
    if (process.platform === "linux") {
      expect(noticesOf(msgs).join("\n")).toContain("Codex's sandbox cannot run commands on this runner");
    }
    expect(msgs.filter((m) => m.role === "user").map(textOf)).toEqual([
      "Remember another magic word.",
      "And that word?",
    ]);
    expect(msgs.filter((m) => m.role === "assistant").map(textOf)).toEqual([
      "The magic word is xyzzy.",
      "It was xyzzy.",
    ]);
  }, 150_000);
});
