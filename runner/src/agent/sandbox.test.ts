import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UNSANDBOXED_TOOL } from "../../../protocol/index.ts";
import { type AgentFixture, agentFixture, allow, deny } from "../../test/agent-kit.ts";
import { makeRepo, sh, tempDir } from "../../test/git-fixtures.ts";
import { sandboxTestsRun } from "../../test/sandbox-gate.ts";
import { runTask } from "./index.ts";
import { detectSandbox, ShellSandbox, type TaskSandbox } from "./sandbox.ts";
import { toolNamed } from "./tools/index.ts";
import type { ToolContext } from "./tools/tool.ts";

/**
 * The OS sandbox around the shell tool, with real processes: bubblewrap (or Seatbelt) through
 * `@anthropic-ai/sandbox-runtime`, real git worktrees laid out as the runner lays them out, a
 * real loopback HTTP server. The tests that need the sandbox skip, saying why, only where the
 * machine truly has none, and never in CI (they fail there instead); the "no sandbox" path is
 * tested everywhere.
 */

const info = await detectSandbox();
const why = info.state === "on" ? "" : `no sandbox on this machine: ${info.detail}`;
const on = sandboxTestsRun(info, "sandboxed shell commands");

const shell = toolNamed("shell")!;

describe.skipIf(!on)(`sandboxed shell commands (${info.kind ?? why})`, () => {
  let tmp: { dir: string; cleanup: () => void };
  let config: string;
  let data: string;
  let worktree: string;
  let other: string;
  let common: string;
  let outside: string;
  let server: Server;
  let port: number;
  const open: TaskSandbox[] = [];

  beforeAll(async () => {
    tmp = tempDir("trellis-sandbox-");
    const root = realpathSync(tmp.dir);
    // As the runner keeps them: its credential in the config folder; state, clones and worktrees in its data folder.
    config = join(root, "config");
    data = join(root, "data");
    outside = join(root, "outside");
    mkdirSync(config, { recursive: true });
    mkdirSync(outside, { recursive: true });
    writeFileSync(join(config, "runner.json"), '{"credential":"trl_run_secret"}\n');
    const repo = makeRepo(join(data, "repos", "r1"), { "README.md": "hello\n" });
    writeFileSync(join(data, "state.json"), "{}\n");
    mkdirSync(join(data, "worktrees", "r1"), { recursive: true });
    worktree = join(data, "worktrees", "r1", "mine");
    other = join(data, "worktrees", "r1", "theirs");
    sh(repo, "worktree", "add", "-q", "-b", "mine", worktree);
    sh(repo, "worktree", "add", "-q", "-b", "theirs", other);
    common = join(repo, ".git");
    server = createServer((_req, res) => res.end("hello from the host")).listen(0, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    for (const s of open) await s.close();
    server?.close();
    tmp?.cleanup();
  });

  async function task(allowedHosts: string[] = []) {
    const s = await new ShellSandbox(info, [config, data]).forTask(worktree, allowedHosts);
    open.push(s);
    const controller = new AbortController();
    const ctx = {
      root: worktree,
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      signal: controller.signal,
      sandbox: s,
    } as unknown as ToolContext;
    const run = (command: string) => shell.run({ command }, ctx);
    return { s, run, controller };
  }

  it("writes land in the worktree and the task's temp folder; anywhere else is a read-only file system", async () => {
    const { s, run } = await task();
    expect(s.notice).toMatch(/^Commands run sandboxed \((bubblewrap|seatbelt)\): writes only in the worktree/);
    expect(s.notice).toMatch(/network off\.$/);
    const inside = await run('echo in > inside.txt && echo tmp > "$TMPDIR/t" && cat "$TMPDIR/t"');
    expect(inside.output).toContain("tmp\n[exit code 0]");
    expect(readFileSync(join(worktree, "inside.txt"), "utf8")).toBe("in\n");

    const escaping = await run(`echo out > ${outside}/escaped.txt`);
    expect(escaping.isError).toBe(true);
    expect(escaping.output).toMatch(/Read-only file system|Operation not permitted/);
    expect(existsSync(join(outside, "escaped.txt"))).toBe(false);
    // Nor the other worktree next to it, nor the runner's state.
    expect((await run(`echo x > ${other}/README.md`)).isError).toBe(true);
    expect(readFileSync(join(other, "README.md"), "utf8")).toBe("hello\n");
  });

  it("git commits work in a linked worktree; the repository's hooks and config and the .git link do not change", async () => {
    const { run } = await task();
    const c = await run(
      "echo b > b.txt && git add b.txt && git -c user.name=A -c user.email=a@example.com commit -qm two && git log --oneline | wc -l",
    );
    expect(c.output).toContain("2\n[exit code 0]");
    for (const target of [join(common, "hooks", "post-checkout"), join(common, "config"), join(worktree, ".git")]) {
      const r = await run(`echo 'touch /tmp/pwned' >> ${target}`);
      expect(r.isError, `${target}: ${r.output}`).toBe(true);
    }
    expect(existsSync(join(common, "hooks", "post-checkout"))).toBe(false);
    expect(readFileSync(join(worktree, ".git"), "utf8")).toMatch(/^gitdir: /);
    expect(readFileSync(join(common, "config"), "utf8")).not.toContain("pwned");
  });

  it("the runner's credential, state and other worktrees cannot be read", async () => {
    const { run } = await task();
    const r = await run(`cat ${config}/runner.json; cat ${data}/state.json; ls ${other}`);
    expect(r.isError).toBe(true);
    expect(r.output).not.toContain("trl_run_secret");
    expect(r.output).toMatch(/runner\.json: No such file or directory|Operation not permitted/);
    expect(r.output).toMatch(/state\.json: (No such file or directory|Operation not permitted)/);
    // Outside the sandbox they are there, of course.
    expect(readFileSync(join(config, "runner.json"), "utf8")).toContain("trl_run_secret");
  });

  it("the network is off: through the proxy the host is refused with the sandbox's reason, and around it nothing answers", async () => {
    const { run } = await task();
    const viaProxy = await run(`curl -sS -m 5 --noproxy '' http://127.0.0.1:${port}/`);
    expect(viaProxy.output).not.toContain("hello from the host");
    expect(viaProxy.output).toMatch(/blocked by network allowlist|403/);
    expect(viaProxy.output).toContain(`deny network-outbound 127.0.0.1:${port} (host is not on the allow list)`);
    const direct = await run(`curl -sS -m 5 --noproxy '*' http://127.0.0.1:${port}/`);
    expect(direct.isError).toBe(true);
    expect(direct.output).not.toContain("hello from the host");
  });

  it("a host the session allows is reached, through the sandbox's proxy", async () => {
    const { s, run } = await task([`127.0.0.1:${port}`]);
    expect(s.notice).toMatch(new RegExp(`network only to 127\\.0\\.0\\.1:${port}\\.$`));
    const r = await run(`curl -sS -m 5 --noproxy '' http://127.0.0.1:${port}/`);
    expect(r.output).toBe("hello from the host\n[exit code 0]");
    // Only that one: another port of the same host is still refused.
    const otherPort = await run(`curl -sS -m 5 --noproxy '' http://127.0.0.1:${port === 1 ? 2 : port - 1}/`);
    expect(otherPort.output).toMatch(/host is not on the allow list/);
  });

  it("a stop kills a sandboxed command within 2 s", async () => {
    const { run, controller } = await task();
    const started = performance.now();
    const pending = run("echo started; sleep 30; echo never > after.txt");
    setTimeout(() => controller.abort(new Error("stop")), 300);
    const r = await pending;
    expect(performance.now() - started).toBeLessThan(2300);
    expect(r.output).toContain("[stopped by the user]");
    await new Promise((done) => setTimeout(done, 200));
    expect(existsSync(join(worktree, "after.txt"))).toBe(false);
  });
});

describe("no sandbox on this machine", () => {
  let fx: AgentFixture;
  const none = new ShellSandbox({ state: "unavailable", detail: "bubblewrap (bwrap) not installed" });
  afterAll(() => fx?.cleanup());

  it("the session is told; full mode asks once to run unsandboxed, and every command after that runs", async () => {
    fx = await agentFixture("anthropic");
    fx.server.script("anthropic", [
      { toolCalls: [{ name: "shell", input: { command: "echo one > one.txt" } }] },
      { toolCalls: [{ name: "shell", input: { command: "echo two > two.txt" } }] },
      { text: "Done." },
    ]);
    const allowedTools = new Set<string>();
    await runTask(fx.input({ mode: "full", sandbox: none, allowedTools }));
    expect(fx.sink.notices("error")[0]).toBe(
      "No sandbox on this machine: bubblewrap (bwrap) not installed. Commands run with the runner's own access to files and network.",
    );
    expect(fx.sink.asks).toHaveLength(1);
    expect(fx.sink.asks[0]).toMatchObject({ tool: UNSANDBOXED_TOOL, command: "echo one > one.txt" });
    expect(fx.sink.asks[0]!.summary).toMatch(/^run shell commands without a sandbox for the rest of this session/);
    expect(allowedTools.has(UNSANDBOXED_TOOL)).toBe(true);
    expect(existsSync(join(fx.repo, "one.txt")) && existsSync(join(fx.repo, "two.txt"))).toBe(true);
  });

  it("refused: the command does not run, the agent reads why, and the task does not ask again", async () => {
    fx?.cleanup();
    fx = await agentFixture("openai");
    fx.sink.answer = deny("not on my laptop");
    fx.server.script("openai", [
      { toolCalls: [{ name: "shell", input: { command: "echo one > one.txt" } }] },
      { toolCalls: [{ name: "shell", input: { command: "echo two > two.txt" } }] },
      { text: "I could not run anything." },
    ]);
    await runTask(fx.input({ mode: "full", sandbox: none }));
    expect(fx.sink.asks).toHaveLength(1);
    const [first, second] = fx.sink.toolResults;
    expect(first).toMatchObject({ isError: true });
    expect(first!.output).toMatch(/^Denied by Alice: not on my laptop Shell commands cannot run here/);
    expect(second!.output).toMatch(/running without one was not accepted/);
    expect(existsSync(join(fx.repo, "one.txt")) || existsSync(join(fx.repo, "two.txt"))).toBe(false);
  });

  it("ask mode asks for the command as always; the owner's TRELLIS_SANDBOX=off asks nothing", async () => {
    fx?.cleanup();
    fx = await agentFixture("anthropic");
    fx.sink.answer = allow();
    fx.server.script("anthropic", [
      { toolCalls: [{ name: "shell", input: { command: "echo one > one.txt" } }] },
      { text: "Done." },
    ]);
    await runTask(fx.input({ mode: "ask", sandbox: none }));
    expect(fx.sink.asks.map((a) => a.tool)).toEqual(["shell"]);

    fx.sink.asks = [];
    fx.server.script("anthropic", [
      { toolCalls: [{ name: "shell", input: { command: "echo two > two.txt" } }] },
      { text: "Done." },
    ]);
    await runTask(fx.input({ mode: "full", sandbox: ShellSandbox.off() }));
    expect(fx.sink.asks).toEqual([]);
    // The owner's choice is on the runner's card; the transcript still has only the first task's notice.
    expect(fx.sink.notices("error")).toHaveLength(1);
    expect(existsSync(join(fx.repo, "two.txt"))).toBe(true);
  });
});
