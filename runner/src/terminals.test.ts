/**
 * The runner's terminals on their own: real tmux (its own server per test file), a real PTY, a real
 * worktree folder; the link is a list of the frames the runner would have sent up.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  decodeTerminalOutput,
  LINK_PROTOCOL,
  MAX_OUTPUT_BYTES,
  MAX_RUNNER_FRAME_CHARS,
  type RunnerFrame,
} from "../../protocol/index.ts";
import { HeadlessScreen } from "../../test/terminal-client.ts";
import { makeRepo, tempDir } from "../test/git-fixtures.ts";
import { until } from "../test/harness.ts";
import { shellEnv } from "./terminal-env.ts";
import { fit, outputFrames, type TerminalMessage, Terminals } from "./terminals.ts";

const tmp = tempDir("trellis-terms-");
const socket = `trellis-test-${process.pid}`;
const repoId = "repo-1";
const dataDir = join(tmp.dir, "data");
const worktree = join(dataDir, "worktrees", repoId, "feat");
mkdirSync(worktree, { recursive: true });
makeRepo(worktree);
// A scratch HOME: the shells must not run this machine's ~/.bashrc (a pyenv rehash stuck on a stale
// lock there once held every shell's first prompt past the test's wait).
const home = join(tmp.dir, "home");
mkdirSync(home);

afterAll(() => {
  try {
    execFileSync("tmux", ["-L", socket, "kill-server"], { stdio: "ignore" });
  } catch {}
  tmp.cleanup();
});

type JsonSent = RunnerFrame extends infer F ? (F extends RunnerFrame ? Omit<F, "v"> : never) : never;
/** A binary output frame, decoded: the PTY's bytes. */
type OutputSent = { type: "output"; terminalId: string; data: Uint8Array };
type Sent = JsonSent | OutputSent;

function terminals(env: Partial<NodeJS.ProcessEnv> = {}, link = { buffered: 0 }) {
  const sent: Sent[] = [];
  const saved = { ...process.env };
  Object.assign(process.env, { HOME: home, SHELL: "/bin/bash" }, env);
  const t = new Terminals({
    dataDir,
    runnerId: "runner-1",
    secrets: ["trl_run_the-credential"],
    send: (f) => {
      sent.push(f as Sent);
      return true;
    },
    sendOutput: (frame) => {
      const out = decodeTerminalOutput(frame);
      if (typeof out === "string") throw new Error(out);
      expect(out.data.byteLength).toBeLessThanOrEqual(MAX_OUTPUT_BYTES);
      sent.push({ type: "output", ...out });
      return true;
    },
    buffered: () => link.buffered,
    socket,
  });
  process.env = saved;
  const msg = (m: Record<string, unknown>) => t.handle({ v: LINK_PROTOCOL, ...m } as TerminalMessage);
  /** Bytes of output sent for `id` so far. */
  const outputBytes = (id: string) =>
    sent.reduce((n, f) => n + (f.type === "output" && f.terminalId === id ? f.data.byteLength : 0), 0);
  /** What a viewer's xterm shows after every frame so far (rendered by @xterm/headless). */
  const screen = async (id: string) => {
    const s = new HeadlessScreen(90, 20);
    for (const f of sent) {
      if (!("terminalId" in f) || f.terminalId !== id) continue;
      if (f.type === "term.screen") {
        s.term.reset();
        s.term.resize(f.cols, f.rows);
      }
      if (f.type === "term.screen" || f.type === "output") await new Promise<void>((r) => s.write(f.data, r));
    }
    return s.text();
  };
  return { t, sent, msg, outputBytes, screen };
}

const open = (id: string, extra: Record<string, unknown> = {}) => ({
  type: "term.open",
  terminalId: id,
  repoId,
  worktree: "feat",
  create: true,
  size: { cols: 90, rows: 20 },
  ...extra,
});

describe("a terminal on the runner", () => {
  it("makes a tmux session in the worktree, shows its screen, runs what is typed, and keeps the shell after a detach", async () => {
    const { t, sent, msg, screen } = terminals();
    msg(open("t-one"));
    await until("opened and a screen", () => sent.some((f) => f.type === "term.screen"));
    expect(sent.find((f) => f.type === "term.opened")).toMatchObject({ terminalId: "t-one", created: true });
    msg({ type: "term.input", terminalId: "t-one", data: "pwd; echo $((6*7)); tput cols\r" });
    await until("output", async () => /\n42\n90$/m.test(await screen("t-one")));
    expect(await screen("t-one")).toContain(realpathSync(worktree));

    msg({ type: "term.resize", terminalId: "t-one", cols: 120, rows: 30 });
    msg({ type: "term.input", terminalId: "t-one", data: "export MARK=kept; tput cols\r" });
    // Asked again until it answers: under load the resize can reach tmux after the first tput ran.
    let askedAt = Date.now();
    await until("resized", async () => {
      if (/\n120$/m.test(await screen("t-one"))) return true;
      if (Date.now() - askedAt > 2000) {
        msg({ type: "term.input", terminalId: "t-one", data: "tput cols\r" });
        askedAt = Date.now();
      }
      return false;
    });

    // Nobody watches: the PTY goes, the shell stays.
    msg({ type: "term.close", terminalId: "t-one" });
    await until("detached", () => t.count === 0);
    sent.length = 0;
    msg(open("t-one", { create: false, size: undefined }));
    await until("re-attached", () => sent.some((f) => f.type === "term.screen"));
    expect(sent.find((f) => f.type === "term.opened")).toMatchObject({ created: false });
    // The screen comes back with what was on it, at the size it had.
    const back = sent.find((f): f is Extract<Sent, { type: "term.screen" }> => f.type === "term.screen")!;
    expect(back).toMatchObject({ cols: 120, rows: 30 });
    expect(back.data).toContain("export MARK=kept");
    msg({ type: "term.input", terminalId: "t-one", data: "echo mark=$MARK\r" });
    await until("same shell", async () => (await screen("t-one")).includes("mark=kept"));

    msg({ type: "term.kill", terminalId: "t-one" });
    await until("killed", () => t.count === 0);
    expect(() => execFileSync("tmux", ["-L", socket, "has-session", "-t", "=t-one"], { stdio: "ignore" })).toThrow();
  });

  it("says the shell exited when it does, and never makes a terminal that already ran again", async () => {
    const { sent, msg } = terminals();
    msg(open("t-exit"));
    await until("screen", () => sent.some((f) => f.type === "term.screen"));
    msg({ type: "term.input", terminalId: "t-exit", data: "exit\r" });
    await until("exited", () => sent.some((f) => f.type === "term.exited"));
    expect(sent.find((f) => f.type === "term.exited")).toMatchObject({ terminalId: "t-exit", code: "exited" });
    sent.length = 0;
    msg(open("t-exit", { create: false }));
    await until("gone", () => sent.some((f) => f.type === "term.exited"));
    expect(sent.find((f) => f.type === "term.exited")).toMatchObject({ code: "gone" });
  });

  it("lists only its own live sessions on connect", async () => {
    const { sent, msg, t } = terminals();
    msg(open("t-listed"));
    await until("screen", () => sent.some((f) => f.type === "term.screen"));
    execFileSync("tmux", ["-L", socket, "new-session", "-d", "-s", "someone-elses"]);
    await t.linkUp();
    const list = sent.find((f): f is Extract<Sent, { type: "term.sessions" }> => f.type === "term.sessions")!;
    expect(list.terminalIds).toContain("t-listed");
    expect(list.terminalIds).not.toContain("someone-elses");
    t.close();
  });

  it("gives a shell none of the runner's credentials, Trellis config or provider keys", async () => {
    const envFile = join(tmp.dir, "env.txt");
    const { sent, msg } = terminals({
      TRELLIS_CONFIG_DIR: "/secret/config",
      ANTHROPIC_API_KEY: "sk-ant-secret",
      OPENAI_BASE_URL: "http://127.0.0.1:1",
      GITHUB_TOKEN: "ghp_secret",
      DB_PASSWORD: "hunter2",
      SOMETHING_ELSE: "trl_run_the-credential",
      KEEP_ME: "visible",
    });
    // A fresh tmux server starts from the scrubbed environment.
    execFileSync("tmux", ["-L", socket, "kill-server"], { stdio: "ignore" });
    msg(open("t-env"));
    await until("screen", () => sent.some((f) => f.type === "term.screen"));
    // Typed again every few seconds: a shell still starting up under load may drop what came before
    // its first prompt (seen once in a full run), and writing the file twice changes nothing.
    const type = () => msg({ type: "term.input", terminalId: "t-env", data: `env > ${envFile}; echo written\r` });
    type();
    let typedAt = Date.now();
    await until("env written", () => {
      try {
        return readFileSync(envFile, "utf8").includes("KEEP_ME");
      } catch {
        if (Date.now() - typedAt > 3000) {
          type();
          typedAt = Date.now();
        }
        return false;
      }
    });
    const env = readFileSync(envFile, "utf8");
    for (const bad of ["TRELLIS_", "ANTHROPIC_", "OPENAI_", "GITHUB_TOKEN", "DB_PASSWORD", "trl_run_", "hunter2"]) {
      expect(env).not.toContain(bad);
    }
    expect(env).toMatch(/^TERM=/m);
    expect(env).toContain("KEEP_ME=visible");
    msg({ type: "term.kill", terminalId: "t-env" });
  });

  it("stops reading a flood while the link is backed up, and reads again once it drained", async () => {
    const link = { buffered: 0 };
    const { sent, msg, outputBytes, screen } = terminals({}, link);
    msg(open("t-flood"));
    await until("screen", () => sent.some((f) => f.type === "term.screen"));
    link.buffered = 10 * 1024 * 1024;
    msg({ type: "term.input", terminalId: "t-flood", data: "yes flood-line\r" });
    await until("the flood's first frames", () => outputBytes("t-flood") > 0);
    // Backed up: at most what was read before the pause goes out, then nothing, however long.
    await new Promise((r) => setTimeout(r, 300));
    const paused = outputBytes("t-flood");
    await new Promise((r) => setTimeout(r, 500));
    expect(outputBytes("t-flood") - paused).toBeLessThanOrEqual(2 * MAX_OUTPUT_BYTES);
    // Drained: it reads again, and what the shell prints after the flood arrives.
    link.buffered = 0;
    msg({ type: "term.input", terminalId: "t-flood", data: "\x03" });
    msg({ type: "term.input", terminalId: "t-flood", data: "echo back-$((6*7))\r" });
    await until("reading again", () => outputBytes("t-flood") > paused);
    await until("the shell after the flood", async () => /^back-42$/m.test(await screen("t-flood")), 20_000);
    msg({ type: "term.kill", terminalId: "t-flood" });
  });

  it("says plainly when tmux is not installed", async () => {
    const empty = join(tmp.dir, "no-tmux");
    mkdirSync(empty, { recursive: true });
    const { sent, msg } = terminals({ PATH: empty });
    msg(open("t-notmux"));
    await until("refused", () => sent.some((f) => f.type === "term.exited"));
    const exited = sent.find((f): f is Extract<Sent, { type: "term.exited" }> => f.type === "term.exited")!;
    expect(exited.code).toBe("failed");
    expect(exited.reason).toMatch(/apt-get install tmux.*brew install tmux/);
  });
});

describe("the pieces", () => {
  it("drops secrets from the environment and keeps the rest", () => {
    const env = shellEnv(
      { PATH: "/bin", HOME: "/h", TRELLIS_X: "1", npm_config__authToken: "x", MY_KEY: "k", TMUX: "/tmp/x", LANG: "C" },
      [],
    );
    expect(Object.keys(env).sort()).toEqual(["COLORTERM", "HOME", "LANG", "LC_CTYPE", "PATH", "TERM"]);
    expect(env.LANG).toMatch(/UTF-8/);
  });

  it("packs what was read into output frames of at most the batch size, in order, bytes as they are", () => {
    const reads = [Buffer.from("héllo "), Buffer.alloc(100, "x"), Buffer.from("😀 end")];
    const frames = outputFrames("t-1", reads, 50);
    const data = frames.map((f) => decodeTerminalOutput(f) as { terminalId: string; data: Uint8Array });
    expect(data.every((d) => d.terminalId === "t-1" && d.data.byteLength <= 50)).toBe(true);
    expect(data.slice(0, -1).every((d) => d.data.byteLength === 50)).toBe(true);
    // A cut may fall inside a character: the bytes, put back together, are exactly what was read.
    expect(Buffer.concat(data.map((d) => d.data)).equals(Buffer.concat(reads))).toBe(true);
    expect(outputFrames("t-1", [Buffer.from("small")], 50)).toHaveLength(1);
    expect(outputFrames("t-1", [], 50)).toHaveLength(0);
  });

  it("trims a screen's oldest scrollback to fit one frame", () => {
    const line = "\x1b[31mred\x1b[0m ".repeat(40);
    const data = Array.from({ length: 5000 }, (_, i) => `${i} ${line}`).join("\r\n");
    const out = fit({ data, cols: 80, rows: 24 });
    expect(JSON.stringify(out.data).length).toBeLessThan(MAX_RUNNER_FRAME_CHARS);
    expect(out.data.endsWith(`4999 ${line}`)).toBe(true);
  });
});
