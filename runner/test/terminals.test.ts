/**
 * Shared terminals end to end without a browser: a real Worker (`wrangler dev`), a real runner
 * process, real tmux (a server of this file's own), and viewers that open ticketed sockets as the
 * board does and render what they get with @xterm/headless.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Terminal, Worktree } from "../../protocol/index.ts";
import { TERMINAL_CLOSE } from "../../protocol/index.ts";
import { api, registerUser, startTrellis, type Trellis } from "../../test/server.ts";
import { TerminalViewer } from "../../test/terminal-client.ts";
import { type RunnerProcess, readyRepo, type Setup, setup, until } from "./harness.ts";

const SOCKET = `trellis-it-${process.pid}`;
/** What the runner is started with that no shell may see. */
const SECRETS = {
  ANTHROPIC_API_KEY: "sk-ant-never-in-a-shell",
  OPENAI_API_KEY: "sk-openai-never-in-a-shell",
  GITHUB_TOKEN: "ghp_never_in_a_shell",
};
/**
 * The runner's environment: the secrets, tmux's socket, and a scratch HOME, so the shells it
 * starts run no one's ~/.bashrc (a machine's own rc files can take seconds, and a shell killed
 * mid-way can leave their locks behind).
 */
let RUNNER_ENV: NodeJS.ProcessEnv;

let edge: Trellis;
let s: Setup;
let runner: RunnerProcess;
let wt: Worktree;
const viewers: TerminalViewer[] = [];

const tmux = (...args: string[]) => execFileSync("tmux", ["-L", SOCKET, ...args], { encoding: "utf8" });

async function openTerminal(token = s.user.token, name?: string): Promise<Terminal> {
  return api<Terminal>(s.base, `/api/boards/${s.boardId}/worktrees/${wt.id}/terminals`, {
    token,
    json: name ? { name } : {},
  });
}

async function view(terminalId: string, token = s.user.token): Promise<TerminalViewer> {
  const v = await TerminalViewer.open(s.base, token, terminalId);
  viewers.push(v);
  return v;
}

/** Type a line and wait until it has run: its output, on a line of its own. */
async function run(v: TerminalViewer, command: string, expect: RegExp, timeoutMs = 10_000) {
  v.type(`${command}\r`);
  return v.waitFor(expect, timeoutMs);
}

beforeAll(async () => {
  edge = await startTrellis();
  s = await setup(edge.url, "Terminal owner");
  const home = join(s.dir, "home");
  mkdirSync(home);
  RUNNER_ENV = { ...SECRETS, TRELLIS_TMUX_SOCKET: SOCKET, HOME: home, SHELL: "/bin/bash" };
  runner = s.start([], RUNNER_ENV);
  await runner.waitFor(/connected to /);
  const repo = await readyRepo(s, "term-repo");
  const card = await s.api<Worktree>(`/api/boards/${s.boardId}/worktrees`, {
    json: { repoId: repo.id, name: "shell-here", branch: "shell-here" },
  });
  wt = await until(
    "worktree ready",
    async () =>
      (await s.api<{ items: Worktree[] }>(`/api/boards/${s.boardId}/worktrees`)).items.find(
        (w) => w.id === card.id && w.status === "ready",
      ),
    30_000,
  );
}, 120_000);

afterAll(async () => {
  for (const v of viewers) v.close();
  try {
    tmux("kill-server");
  } catch {}
  s?.cleanup();
  await edge?.stop();
});

describe("a terminal through the edge", () => {
  it("opens in the worktree, runs a command, and a resize reaches the PTY", async () => {
    const t = await openTerminal();
    expect(t.status).toBe("starting");
    const v = await view(t.id);
    expect(v.messages[0]).toMatchObject({ type: "hello", canType: true, runnerOnline: true });
    await v.next("screen");
    await run(v, 'echo $((6*7)); basename "$PWD"', /^42\nshell-here$/m);
    // The runner made the session: the row is open now.
    await until(
      "open",
      async () =>
        (await s.api<{ items: Terminal[] }>(`/api/boards/${s.boardId}/terminals`)).items.find((x) => x.id === t.id)
          ?.status === "open",
    );

    // tmux applies a resize on its own time (the PTY's SIGWINCH, then the window): ask until it has.
    const sized = async (cols: number, rows: number) => {
      v.resize(cols, rows);
      await v.next("size", (m) => m.cols === cols && m.rows === rows);
      for (let i = 0; ; i++) {
        try {
          return await run(
            v,
            `echo size-${i}=$(tput cols)x$(tput lines)`,
            new RegExp(`^size-${i}=${cols}x${rows}$`, "m"),
            2000,
          );
        } catch (err) {
          if (i >= 5) throw err;
        }
      }
    };
    await sized(100, 30);
    await sized(72, 20);
  }, 60_000);

  it("outlives a Worker restart (the link reconnects) and a runner restart, and the screen comes back", async () => {
    const t = await openTerminal(s.user.token, "survivor");
    const v = await view(t.id);
    await v.next("screen");
    await run(v, "export MARK=alive-$((40+2)); echo set-$MARK", /^set-alive-42$/m);

    // The edge restarts under everyone: sockets drop, the runner's link reconnects.
    let mark = runner.output.length;
    await edge.restart();
    await v.closed;
    await runner.waitFor(/connected to /, 30_000, mark);
    const again = await view(t.id);
    // The screen is back at once, with what was on it, and it is the same shell.
    await again.next("screen", (m) => m.data.includes("set-alive-42"));
    await run(again, "echo again-$MARK", /^again-alive-42$/m);

    // The runner is killed (and everything it started but tmux's server) and started again.
    mark = runner.output.length;
    runner.crash();
    await runner.exited;
    runner = s.start([], RUNNER_ENV);
    await runner.waitFor(/connected to /, 30_000);
    await again.next("runner", (m) => m.online, 30_000);
    // The new runner attaches again and the screen comes back (typing meanwhile goes in once it has).
    await again.next("screen", (m) => m.data.includes("again-alive-42"));
    await run(again, "echo third-$MARK", /^third-alive-42$/m);
    expect(mark).toBeGreaterThan(0);
  }, 120_000);

  it("refuses a non-owner unless the owner allowed the board, and a viewer never types", async () => {
    const member = await registerUser(s.base, "Member");
    const watcher = await registerUser(s.base, "Watcher");
    for (const [who, role] of [
      [member, "member"],
      [watcher, "viewer"],
    ] as const) {
      await s.api(`/api/boards/${s.boardId}/members`, { json: { email: who.email, role } });
    }
    const t = await openTerminal(s.user.token, "shared");
    const mine = await view(t.id);
    await mine.next("screen");

    await expect(view(t.id, member.token)).rejects.toThrow(/403.*terminal_owner_only/);
    await expect(openTerminal(member.token)).rejects.toThrow(/403/);
    await s.api(`/api/runners/${s.runnerId}/terminal-access`, { method: "PUT", json: { terminalAccess: "boards" } });

    const theirs = await view(t.id, member.token);
    expect(theirs.messages[0]).toMatchObject({ canType: true });
    await theirs.next("screen");
    await run(theirs, "echo from-$((1+1))-member", /^from-2-member$/m);
    await mine.waitFor(/^from-2-member$/m);
    // Who typed is shown to the others.
    await mine.next("typing", (m) => m.userId === member.user.id);

    const looking = await view(t.id, watcher.token);
    expect(looking.messages[0]).toMatchObject({ canType: false });
    await looking.next("screen");
    looking.type("echo from-$((2+2))-viewer\r");
    await looking.next("error", (m) => m.code === "terminal_read_only");
    await run(mine, "echo fence-$((3+3))", /^fence-6$/m);
    await looking.waitFor(/^fence-6$/m);
    expect(mine.screen.text()).not.toMatch(/from-4-viewer/);

    // Turning it off closes their sockets at once; the owner's stays.
    await s.api(`/api/runners/${s.runnerId}/terminal-access`, { method: "PUT", json: { terminalAccess: "owner" } });
    for (const v of [theirs, looking]) expect((await v.closed).code).toBe(TERMINAL_CLOSE.forbidden);
    await run(mine, "echo still-$((3+4))", /^still-7$/m);
  }, 60_000);

  it("gives the shell no runner credential, Trellis config or provider key", async () => {
    const t = await openTerminal(s.user.token, "env");
    const v = await view(t.id);
    await v.next("screen");
    const file = join(s.dir, "shell-env.txt");
    await run(v, `env > ${file}; echo wrote-$((5*5))`, /^wrote-25$/m);
    const env = readFileSync(file, "utf8");
    const { runners } = JSON.parse(readFileSync(join(s.configDir, "runner.json"), "utf8")) as {
      runners: { credential: string }[];
    };
    expect(runners[0]!.credential).toMatch(/^trl_run_/);
    expect(env).not.toContain(runners[0]!.credential);
    for (const value of Object.values(SECRETS)) expect(env).not.toContain(value);
    expect(env).not.toMatch(/^(TRELLIS_|ANTHROPIC_|OPENAI_)/m);
    expect(env).toMatch(/^TERM=/m);
  }, 60_000);

  it("End terminal kills the shell for everyone", async () => {
    const t = await openTerminal(s.user.token, "ending");
    const [a, b] = [await view(t.id), await view(t.id)];
    await Promise.all([a.next("screen"), b.next("screen")]);
    expect(tmux("has-session", "-t", `=${t.id}`)).toBe("");
    await s.api(`/api/terminals/${t.id}`, { method: "DELETE" });
    for (const v of [a, b]) {
      expect(await v.next("ended")).toMatchObject({ by: "Terminalowner" });
      expect((await v.closed).code).toBe(TERMINAL_CLOSE.ended);
    }
    await until("session killed", () => {
      try {
        tmux("has-session", "-t", `=${t.id}`);
        return false;
      } catch {
        return true;
      }
    });
  }, 60_000);
});
