import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type AgentFixture, agentFixture, never, PROVIDERS } from "../../test/agent-kit.ts";
import { runTask } from "./index.ts";

let fx: AgentFixture;
afterEach(() => fx?.cleanup());

const STOP = new Error("stopped by Alice");

/** Run the task, abort when `when` says so, and measure from the abort to the task's end. */
async function stopWhen(input: ReturnType<AgentFixture["input"]>, when: (abort: () => void) => void) {
  const controller = new AbortController();
  let abortedAt = 0;
  when(() => {
    abortedAt = performance.now();
    controller.abort(STOP);
  });
  const outcome = await runTask({ ...input, signal: controller.signal }).then(
    () => ({ error: null }),
    (error: unknown) => ({ error }),
  );
  return { ...outcome, ms: performance.now() - abortedAt, abortedAt };
}

/**
 * Processes of the group that still run. A killed child whose shell died first is a zombie until
 * PID 1 reaps it (here that takes about a second), and `kill(-pgid, 0)` still counts zombies: so
 * read /proc and leave them out.
 */
function groupAlive(pgid: number): string[] {
  const running: string[] = [];
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      continue;
    }
    // pid (comm) state ppid pgrp ...: comm may hold spaces, so split after its closing parenthesis.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(pgrp) === pgid && state !== "Z") running.push(`${pid} ${stat.slice(0, stat.lastIndexOf(")") + 1)}`);
  }
  return running;
}

async function waitFor(file: string, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!existsSync(file) || readFileSync(file, "utf8").trim() === "") {
    if (Date.now() > until) throw new Error(`${file} never appeared`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe.each(PROVIDERS)("%s: stop", (provider) => {
  it("mid-stream: the call is aborted within 2 s and the partial text is kept as a message", async () => {
    fx = await agentFixture(provider);
    fx.server.script(provider, [{ text: "word ".repeat(2000), chunkDelayMs: 5, chunkSize: 5 }]);
    const { error, ms, abortedAt } = await stopWhen(fx.input(), (abort) => {
      const delta = fx.sink.delta.bind(fx.sink);
      fx.sink.delta = (id, part, text) => {
        delta(id, part, text);
        if (fx.sink.deltas.length === 10) abort();
      };
    });
    expect(error).toBe(STOP);
    expect(ms).toBeLessThan(2000);
    expect(abortedAt).toBeGreaterThan(0);
    const [partial] = fx.sink.byRole("assistant");
    const streamed = fx.sink.textOf(partial!.id);
    expect(streamed.length).toBeGreaterThanOrEqual(50);
    expect(partial!.content).toEqual([{ type: "text", text: streamed }]);
    expect(fx.sink.ended).toContain(partial!.id);
    // The server saw the client hang up: nothing was still being written long after.
    expect(fx.server.requests).toHaveLength(1);
  });
});

describe("stop while a tool runs", () => {
  it("kills a running shell's whole process group within 2 s; the unfinished calls say they were stopped", async () => {
    fx = await agentFixture("anthropic");
    const pidFile = join(fx.repo, "pid.txt");
    fx.server.script("anthropic", [
      {
        toolCalls: [
          { name: "shell", input: { command: "echo $$ > pid.txt; sleep 30; echo never > after.txt" } },
          { name: "read_file", input: { path: "README.md" } },
        ],
      },
    ]);
    let before: string[] = [];
    const { error, ms } = await stopWhen(fx.input(), (abort) => {
      waitFor(pidFile).then(() => {
        before = groupAlive(Number(readFileSync(pidFile, "utf8")));
        abort();
      });
    });
    expect(error).toBe(STOP);
    expect(ms).toBeLessThan(2000);
    const pgid = Number(readFileSync(pidFile, "utf8"));
    expect(before.join("\n")).toMatch(/\(sh\)|\(sleep\)/);
    expect(groupAlive(pgid)).toEqual([]);
    const [shell, read] = fx.sink.toolResults;
    expect(shell).toMatchObject({ name: "shell", isError: true });
    expect(shell!.output).toContain("stopped by the user");
    expect(read).toMatchObject({ name: "read_file", isError: true, output: "Not run: stopped by the user." });
    expect(fx.sink.byRole("tool")).toHaveLength(1);
    expect(existsSync(join(fx.repo, "after.txt"))).toBe(false);
  });

  it("a command that ignores SIGTERM is killed with SIGKILL, still within 2 s", async () => {
    fx = await agentFixture("openai");
    const pidFile = join(fx.repo, "pid.txt");
    fx.server.script("openai", [
      { toolCalls: [{ name: "shell", input: { command: "trap '' TERM; echo $$ > pid.txt; sleep 30" } }] },
    ]);
    const { error, ms } = await stopWhen(fx.input(), (abort) => {
      waitFor(pidFile).then(abort);
    });
    expect(error).toBe(STOP);
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(2000);
    expect(groupAlive(Number(readFileSync(pidFile, "utf8")))).toEqual([]);
  });

  it("while a permission request waits: the request is dropped and the call is marked stopped", async () => {
    fx = await agentFixture("anthropic");
    fx.sink.answer = never;
    fx.server.script("anthropic", [{ toolCalls: [{ name: "shell", input: { command: "touch x" } }] }]);
    const { error, ms } = await stopWhen(fx.input({ mode: "ask" }), (abort) => {
      const ask = fx.sink.askPermission.bind(fx.sink);
      fx.sink.askPermission = (req, signal) => {
        setTimeout(abort, 20);
        return ask(req, signal);
      };
    });
    expect(error).toBe(STOP);
    expect(ms).toBeLessThan(500);
    expect(fx.sink.toolResults[0]).toMatchObject({ isError: true, output: "Not run: stopped by the user." });
    expect(existsSync(join(fx.repo, "x"))).toBe(false);
  });

  it("an already-aborted signal stops before any model call", async () => {
    fx = await agentFixture("anthropic");
    const controller = new AbortController();
    controller.abort(STOP);
    await expect(runTask({ ...fx.input(), signal: controller.signal })).rejects.toBe(STOP);
    expect(fx.server.requests).toHaveLength(0);
  });
});
