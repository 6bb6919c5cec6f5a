/**
 * Claude Code's Bash in the runner's sandbox, in a real session: a real Worker, a real runner with
 * its sandbox on, the real Claude Code binary talking to the scripted Messages server. In full mode
 * (nobody is asked) a command that writes outside the worktree, reads the runner's config folder or
 * reaches a host the session does not allow is refused, and the model reads the refusal; writing
 * in the worktree, a commit, and reaching the allowed host work. In ask mode a person is still asked
 * before each command, and the approved command runs sandboxed.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ToolResultBlock } from "../../protocol/index.ts";
import type { RequestBody } from "../../test/model-server.ts";
import { SANDBOX } from "./harness.ts";
import { sandboxTestsRun } from "./sandbox-gate.ts";
import {
  as,
  type Client,
  lastTask,
  noticesOf,
  person,
  readyWorktree,
  sessionIs,
  taskEnded,
  textOf,
  type World,
  world,
} from "./session-kit.ts";

const on = sandboxTestsRun(SANDBOX, "Claude Code sandbox tests");

let w: World;
let owner: Client;
let member: Client;
let allowed: Server;
let other: Server;
const home = mkdtempSync(join(tmpdir(), "trellis-cc-home-"));

async function listen(text: string): Promise<Server> {
  const s = createServer((_req, res) => res.end(text)).listen(0, "127.0.0.1");
  await new Promise((r) => s.once("listening", r));
  return s;
}
const portOf = (s: Server) => (s.address() as AddressInfo).port;

beforeAll(async () => {
  if (!on) return;
  w = await world("Sandbox", { "README.md": "hello\n" }, { TRELLIS_SANDBOX: "on", HOME: home });
  owner = as(w, w.s.user.token);
  member = await person(w, "Mia", "member");
  [allowed, other] = await Promise.all([listen("hello from the host"), listen("the other host")]);
}, 60_000);
afterAll(async () => {
  allowed?.close();
  other?.close();
  await w?.stop();
  rmSync(home, { recursive: true, force: true });
});

/** The last tool result Claude Code sent the model, as text. */
function lastResult(body: RequestBody): string {
  const last = body.messages?.at(-1);
  return JSON.stringify(last?.content ?? "");
}

describe.skipIf(!on)("Claude Code's Bash in the sandbox", () => {
  it("refuses writes outside the worktree, the runner's folder and other hosts; the worktree and the allowed host work", async () => {
    const wt = await readyWorktree(w, "cc-boxed");
    const escaped = join(dirname(w.s.configDir), "cc-escaped.txt");
    const port = portOf(allowed);
    const seen: string[] = [];
    const bash = (command: string) => ({ toolCalls: [{ name: "Bash", input: { command, description: "try" } }] });
    w.server.script("anthropic", [
      bash(`echo out > ${escaped}`),
      (b) => {
        seen.push(lastResult(b));
        return bash(`cat ${w.s.configDir}/runner.json`);
      },
      (b) => {
        seen.push(lastResult(b));
        return bash(`curl -sS -m 5 --noproxy '' http://127.0.0.1:${portOf(other)}/`);
      },
      (b) => {
        seen.push(lastResult(b));
        return bash(
          'echo inside > inside.txt && cat inside.txt && echo "key=[$ANTHROPIC_API_KEY]" && git add inside.txt && ' +
            "git -c user.name=Agent -c user.email=agent@example.com commit -qm inside && git log --format=%s -1",
        );
      },
      (b) => {
        seen.push(lastResult(b));
        return bash(`curl -sS -m 5 --noproxy '' http://127.0.0.1:${port}/`);
      },
      (b) => {
        seen.push(lastResult(b));
        return { text: "The sandbox held; the allowed host answered." };
      },
    ]);
    const t0 = Date.now();
    const s = await owner.start({
      worktreeId: wt.id,
      provider: "anthropic",
      model: "claude-sonnet-4-5",
      runtime: "claude-code",
      permissionMode: "full",
      allowedHosts: [`127.0.0.1:${port}`],
      prompt: "Try to get out.",
    });
    const { task } = await taskEnded(owner, s.id, lastTask(await owner.detail(s.id)).id, 120_000);
    console.log(`claude-code sandboxed task: ${Date.now() - t0} ms`);
    for (const [i, r] of seen.entries()) console.log(`result ${i}: ${r.slice(0, 600)}`);
    expect(w.server.failures).toEqual([]);
    expect(task.status, task.error ?? "").toBe("completed");

    const msgs = await owner.messages(s.id);
    expect(noticesOf(msgs)[0]).toBe(
      `info: Commands run sandboxed (${SANDBOX.kind}): writes only in the worktree and a temp folder, the runner's folders hidden, network only to 127.0.0.1:${port}.`,
    );
    // What the model read after each command.
    expect(seen).toHaveLength(5);
    expect(seen[0]).toMatch(/Read-only file system/);
    expect(existsSync(escaped)).toBe(false);
    expect(seen[1]).toMatch(/runner\.json: No such file or directory/);
    expect(seen[1]).not.toContain("trl_run_");
    expect(seen[2]).not.toContain("the other host");
    expect(seen[2]).toMatch(/403|blocked|denied/i);
    expect(seen[3]).toContain("inside");
    expect(seen[3]).toContain("key=[]");
    // A commit writes where the sandbox lets it: the repository's objects and refs, outside the worktree.
    expect(seen[3]).toMatch(/key=\[\]\\ninside\\n/);
    expect(readFileSync(join(wt.path!, "inside.txt"), "utf8")).toBe("inside\n");
    expect(seen[4]).toContain("hello from the host");

    const results = msgs.flatMap((m) => m.content.filter((b): b is ToolResultBlock => b.type === "tool_result"));
    expect(results.map((r) => r.name)).toEqual(["Bash", "Bash", "Bash", "Bash", "Bash"]);
    expect(textOf(msgs.at(-1)!)).toBe("The sandbox held; the allowed host answered.");
  }, 180_000);

  it("ask mode still asks before each command; the approved one runs in the sandbox", async () => {
    const wt = await readyWorktree(w, "cc-boxed-ask");
    const escaped = join(dirname(w.s.configDir), "cc-escaped-ask.txt");
    let read = "";
    w.server.script("anthropic", [
      { toolCalls: [{ name: "Bash", input: { command: `echo out > ${escaped}`, description: "try" } }] },
      (b) => {
        read = lastResult(b);
        return { text: "Refused, as it should be." };
      },
    ]);
    const s = await owner.start({
      worktreeId: wt.id,
      provider: "anthropic",
      model: "claude-sonnet-4-5",
      runtime: "claude-code",
      permissionMode: "ask",
      prompt: "Try to get out.",
    });
    const task = lastTask(await owner.detail(s.id));
    const d = await sessionIs(
      owner,
      s.id,
      (x) => x.status === "awaiting_permission",
      "Bash awaiting permission",
      60_000,
    );
    const [ask] = d.session.pending;
    expect(ask).toMatchObject({ tool: "Bash", command: `echo out > ${escaped}` });
    await member.decide(s.id, ask!.requestId, "allow");
    const { task: ended } = await taskEnded(owner, s.id, task.id, 60_000);
    expect(w.server.failures).toEqual([]);
    expect(ended.status, ended.error ?? "").toBe("completed");
    expect(read).toMatch(/Read-only file system/);
    expect(existsSync(escaped)).toBe(false);
  }, 120_000);
});
