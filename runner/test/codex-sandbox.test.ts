/**
 * Codex inside the runner's sandbox, in a real session: a real Worker, a real runner with its
 * sandbox on, the real Codex CLI (spawned by the SDK through the runner's wrapper) talking to the
 * scripted Responses server. In every mode a command that reads the runner's config folder or
 * writes outside the worktree is refused, and the model reads the refusal; a read-only session
 * cannot write in the worktree either. In full mode the host the session allows answers and
 * another is refused, while Codex itself still reaches the model and the edge. A stop ends the task
 * within 2 s and leaves none of its processes behind.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PermissionMode, ToolResultBlock } from "../../protocol/index.ts";
import { type ResponsesBody, type ResponsesServer, startResponsesServer } from "../../test/responses-server.ts";
import { SANDBOX } from "./harness.ts";
import { sandboxTestsRun } from "./sandbox-gate.ts";
import {
  as,
  type Client,
  lastTask,
  noticesOf,
  readyWorktree,
  taskEnded,
  until,
  type World,
  world,
} from "./session-kit.ts";

const on = sandboxTestsRun(SANDBOX, "Codex sandbox tests");

let w: World;
let rs: ResponsesServer;
let owner: Client;
let allowed: Server;
let other: Server;
const home = mkdtempSync(join(tmpdir(), "trellis-codex-boxed-home-"));

async function listen(text: string): Promise<Server> {
  const s = createServer((_req, res) => res.end(text)).listen(0, "127.0.0.1");
  await new Promise((r) => s.once("listening", r));
  return s;
}
const portOf = (s: Server) => (s.address() as AddressInfo).port;

/** Processes whose command line holds this text. */
function processesNaming(text: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
      if (cmd.includes(text)) out.push(`${pid} ${cmd}`);
    } catch {}
  }
  return out;
}

/** Where Codex keeps its config on this runner: its home under the runner's HOME. */
const codexConfig = join(home, ".codex", "config.toml");

beforeAll(async () => {
  if (!on) return;
  rs = await startResponsesServer();
  w = await world("Sandbox", { "README.md": "hello\n" }, { TRELLIS_SANDBOX: "on", HOME: home });
  owner = as(w, w.s.user.token);
  [allowed, other] = await Promise.all([listen("hello from the host"), listen("the other host")]);
}, 60_000);
afterAll(async () => {
  allowed?.close();
  other?.close();
  await Promise.allSettled([w?.stop(), rs?.close()]);
  rmSync(home, { recursive: true, force: true });
});

/** What the last function call returned to the model, as Codex sent it. */
const lastOutput = (body: ResponsesBody): string => {
  const out = (body.input ?? []).findLast((i) => (i as { type?: string }).type === "function_call_output");
  return String((out as { output?: unknown } | undefined)?.output ?? "");
};

/** One Codex task running `cmd` in a new session; what the model read back, and the transcript's results. */
async function runs(name: string, mode: PermissionMode, cmd: string, allowedHosts: string[] = []) {
  const wt = await readyWorktree(w, name);
  let read = "";
  rs.script([
    { calls: [{ name: "exec_command", arguments: { cmd } }] },
    (body) => {
      read = lastOutput(body);
      return { text: "Tried it." };
    },
  ]);
  const s = await owner.start({
    worktreeId: wt.id,
    provider: "openai",
    baseUrl: rs.url,
    model: "gpt-5",
    runtime: "codex",
    permissionMode: mode,
    allowedHosts,
    prompt: "Try to get out.",
  });
  const { task } = await taskEnded(owner, s.id, lastTask(await owner.detail(s.id)).id, 90_000);
  expect(rs.failures).toEqual([]);
  expect(task.status, task.error ?? "").toBe("completed");
  const msgs = await owner.messages(s.id);
  const results = msgs.flatMap((m) => m.content.filter((b): b is ToolResultBlock => b.type === "tool_result"));
  return { wt, read, results, notices: noticesOf(msgs) };
}

describe.skipIf(!on)("Codex in the runner's sandbox", () => {
  it.each(["ask", "auto-edit", "full"] as const)(
    "%s: the runner's config folder is hidden and nothing outside the worktree is writable",
    async (mode) => {
      const escaped = join(dirname(w.s.configDir), `codex-escaped-${mode}.txt`);
      const { wt, read, results, notices } = await runs(
        `codex-boxed-${mode}`,
        mode,
        `cat ${w.s.configDir}/runner.json; echo out > ${escaped}; echo 'notify = ["sh"]' >> ${codexConfig}; ` +
          "echo inside > inside.txt && echo wrote inside",
      );
      console.log(`codex ${mode} read: ${read.slice(0, 800)}`);
      expect(notices).toContain(
        `info: Commands run sandboxed (${SANDBOX.kind}), Codex itself with them: writes only in the worktree, a temp ` +
          `folder and Codex's home, the runner's folders hidden, network only to the model (${new URL(rs.url).host}), ` +
          "the session's MCP servers.",
      );
      expect(read).toMatch(/runner\.json: No such file or directory/);
      expect(read).not.toContain("trl_run_");
      expect(read).toMatch(new RegExp(`${escaped}: Read-only file system`));
      expect(existsSync(escaped)).toBe(false);
      // Codex's own config would run its commands outside the wall the next time its owner runs it.
      expect(read).toMatch(new RegExp(`${codexConfig}: Read-only file system`));
      expect(readFileSync(codexConfig, "utf8")).not.toContain("notify");
      if (mode === "ask") {
        expect(read).toMatch(/inside\.txt: Read-only file system/);
        expect(existsSync(join(wt.path!, "inside.txt"))).toBe(false);
      } else {
        expect(read).toContain("wrote inside");
        expect(readFileSync(join(wt.path!, "inside.txt"), "utf8")).toBe("inside\n");
      }
      expect(results.map((r) => r.name)).toEqual(["exec_command"]);
    },
    120_000,
  );

  it("full: the host the session allows answers, another is refused; Trellis's own MCP is still reached", async () => {
    const wt = await readyWorktree(w, "codex-boxed-net");
    const port = portOf(allowed);
    const boardId = w.s.boardId;
    let read = "";
    let listed = "";
    rs.script([
      {
        calls: [
          {
            name: "exec_command",
            arguments: {
              cmd: `curl -sS -m 5 http://127.0.0.1:${portOf(other)}/; echo; curl -sS -m 5 http://127.0.0.1:${port}/`,
            },
          },
        ],
      },
      (body) => {
        read = lastOutput(body);
        return { calls: [{ namespace: "mcp__trellis", name: "trellis_sessions_list", arguments: { boardId } }] };
      },
      (body) => {
        listed = lastOutput(body);
        return { text: "Tried it." };
      },
    ]);
    const s = await owner.start({
      worktreeId: wt.id,
      provider: "openai",
      baseUrl: rs.url,
      model: "gpt-5",
      runtime: "codex",
      permissionMode: "full",
      allowedHosts: [`127.0.0.1:${port}`],
      prompt: "Try the network.",
    });
    const { task } = await taskEnded(owner, s.id, lastTask(await owner.detail(s.id)).id, 90_000);
    console.log(`codex network read: ${read.slice(0, 800)}`);
    expect(rs.failures).toEqual([]);
    expect(task.status, task.error ?? "").toBe("completed");
    expect(noticesOf(await owner.messages(s.id)).join("\n")).toContain(
      `the session's MCP servers and 127.0.0.1:${port}.`,
    );
    expect(read).not.toContain("the other host");
    expect(read).toMatch(/403|blocked|denied/i);
    expect(read).toContain("hello from the host");
    // The edge answered through the sandbox's proxy: the list has this very session in it.
    expect(listed).toContain(s.id);
  }, 120_000);
  it("stops within 2 s inside the sandbox, and nothing of Codex's is left running", async () => {
    const wt = await readyWorktree(w, "codex-boxed-stop");
    rs.script([{ text: "word ".repeat(2000), chunkDelayMs: 20 }]);
    const before = rs.requests.length;
    const s = await owner.start({
      worktreeId: wt.id,
      provider: "openai",
      baseUrl: rs.url,
      model: "gpt-5",
      runtime: "codex",
      permissionMode: "full",
      prompt: "Write a lot.",
    });
    const task = lastTask(await owner.detail(s.id));
    await until("the model is streaming", () => rs.requests.length > before, 60_000);
    await new Promise((r) => setTimeout(r, 500));
    const root = realpathSync(wt.path!);
    expect(processesNaming(root).length).toBeGreaterThan(0);
    const t0 = Date.now();
    await owner.stop(s.id);
    const { task: ended } = await taskEnded(owner, s.id, task.id, 10_000);
    const took = Date.now() - t0;
    expect(ended.status).toBe("stopped");
    expect(took).toBeLessThan(2000);
    console.log(`codex in the sandbox: stop → task stopped in ${took} ms`);
    // The wrapper, bubblewrap, the proxy bridges and Codex all go: none names this worktree any more.
    await until("Codex's processes are gone", () => processesNaming(root).length === 0, 10_000);
  }, 90_000);
});
