/**
 * Agent sessions through a real Worker and a real runner process, both providers through their
 * real SDKs against the scripted model server: a task that reads, edits and checks a real file;
 * cost; streaming to watching sockets; stop; the queue; 429 retried; a path escape refused.
 * Permissions, access, fork and spawn are in sessions-steer.test.ts; kill -9 in sessions-crash.test.ts.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  addUsage,
  costMicros,
  type Message,
  type Provider,
  type ToolResultBlock,
  ZERO_USAGE,
} from "../../protocol/index.ts";
import {
  as,
  type Client,
  lastTask,
  noticesOf,
  Room,
  readyWorktree,
  sessionIs,
  taskEnded,
  textOf,
  until,
  type World,
  world,
} from "./session-kit.ts";

let w: World;
let owner: Client;

beforeAll(async () => {
  w = await world("Sessions", { "src/app.ts": 'export const greeting = "hello";\n', "README.md": "hi\n" });
  owner = as(w, w.s.user.token);
});
afterAll(async () => {
  await w?.stop();
});

const MODEL: Record<Provider, string> = { anthropic: "claude-sonnet-4-5", openai: "gpt-5" };

describe.each(["anthropic", "openai"] as const)("%s: a task in a real worktree", (provider) => {
  it("reads, edits and checks a file; the file changed, the messages are in D1, cost follows the table", async () => {
    const wt = await readyWorktree(w, `edit-${provider}`);
    const usages = [
      { input: 1000, output: 50, cacheRead: 200, cacheWrite: provider === "anthropic" ? 300 : 0 },
      { input: 1100, output: 60, cacheRead: 900, cacheWrite: 0 },
      { input: 1200, output: 40, cacheRead: 950, cacheWrite: 0 },
      { input: 1300, output: 30, cacheRead: 1000, cacheWrite: 0 },
    ];
    w.server.script(provider, [
      {
        text: "Let me read the file first.",
        toolCalls: [{ name: "read_file", input: { path: "src/app.ts" } }],
        usage: usages[0],
      },
      (body) => {
        expect(JSON.stringify(body.messages)).toContain('export const greeting = \\"hello\\";');
        return {
          toolCalls: [
            { name: "edit_file", input: { path: "src/app.ts", old_string: '"hello"', new_string: '"hello, world"' } },
          ],
          usage: usages[1],
        };
      },
      { toolCalls: [{ name: "shell", input: { command: "grep -c 'hello, world' src/app.ts" } }], usage: usages[2] },
      (body) => {
        expect(JSON.stringify(body.messages)).toContain("[exit code 0]");
        return { text: "Changed the greeting. The check passed.", usage: usages[3] };
      },
    ]);
    const s = await owner.start({
      worktreeId: wt.id,
      provider,
      model: MODEL[provider],
      permissionMode: "full",
      prompt: "Make the greeting friendlier.",
    });
    const { task, detail } = await taskEnded(owner, s.id, lastTask(await owner.detail(s.id)).id);
    expect(w.server.failures).toEqual([]);
    expect(task.status, task.error ?? "").toBe("completed");

    expect(readFileSync(join(wt.path!, "src/app.ts"), "utf8")).toBe('export const greeting = "hello, world";\n');

    const msgs = await owner.messages(s.id);
    expect(msgs.map((m) => m.role)).toEqual([
      "user",
      "assistant",
      "tool",
      "assistant",
      "tool",
      "assistant",
      "tool",
      "assistant",
    ]);
    expect(msgs.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(msgs[0]).toMatchObject({ role: "user", authorName: "Sessions", taskId: task.id });
    expect(textOf(msgs[0]!)).toBe("Make the greeting friendlier.");
    expect(msgs[1]!.content).toContainEqual(expect.objectContaining({ type: "tool_call", name: "read_file" }));
    expect(msgs[1]).toMatchObject({ model: MODEL[provider], usage: usages[0] });
    const results = msgs.flatMap((m) => m.content.filter((b): b is ToolResultBlock => b.type === "tool_result"));
    expect(results.map((r) => [r.name, r.isError])).toEqual([
      ["read_file", false],
      ["edit_file", false],
      ["shell", false],
    ]);
    expect(results[1]!.meta?.diff).toContain('+export const greeting = "hello, world";');
    expect(results[2]!.meta?.exitCode).toBe(0);
    expect(textOf(msgs.at(-1)!)).toBe("Changed the greeting. The check passed.");

    const total = usages.reduce(addUsage, ZERO_USAGE);
    expect(task.usage).toEqual(total);
    expect(task.costMicros).toBe(costMicros(provider, MODEL[provider], total));
    expect(task.costMicros).toBeGreaterThan(0);
    expect(detail.session).toMatchObject({
      status: "completed",
      usage: total,
      costMicros: task.costMicros,
      unpriced: false,
      messageCount: 8,
      nowDoing: null,
      contextTokens: usages[3]!.input + usages[3]!.cacheRead + usages[3]!.cacheWrite,
    });
  });

  it("a model with no price: tokens counted, no cost, the session says unpriced", async () => {
    const wt = await readyWorktree(w, `unpriced-${provider}`);
    w.server.script(provider, [{ text: "Hi there.", usage: { input: 40, output: 5 } }]);
    const s = await owner.start({
      worktreeId: wt.id,
      provider,
      model: "my-local-finetune",
      permissionMode: "full",
      prompt: "Say hi.",
    });
    const { task, detail } = await taskEnded(owner, s.id, lastTask(await owner.detail(s.id)).id);
    expect(task.status, task.error ?? "").toBe("completed");
    expect(task.costMicros).toBeNull();
    expect(task.usage).toMatchObject({ input: 40, output: 5 });
    expect(detail.session).toMatchObject({ unpriced: true, costMicros: 0 });
  });
});

describe("streaming to the board", () => {
  it("watchers get the text as it is written, then the message; a late watcher gets the text so far; others get neither", async () => {
    const wt = await readyWorktree(w, "stream");
    const s = await owner.start({
      worktreeId: wt.id,
      provider: "anthropic",
      model: MODEL.anthropic,
      permissionMode: "full",
    });
    const [a, c] = await Promise.all([
      Room.open(w.edge.url, w.s.boardId, owner.token),
      Room.open(w.edge.url, w.s.boardId, owner.token),
    ]);
    a.watch([s.id]);
    const words = Array.from({ length: 40 }, (_, i) => `word${String(i).padStart(2, "0")}`);
    const text = `${words.join(" ")}.`;
    const written: { text: string; at: number }[] = [];
    w.server.onDelta = (t, at) => written.push({ text: t, at });
    w.server.script("anthropic", [{ text, chunkSize: 8, chunkDelayMs: 40 }]);
    // The watch is applied before the prompt's first piece can come (frames on one socket are in order).
    await new Promise((r) => setTimeout(r, 200));
    const task = await owner.prompt(s.id, "Write forty words.");

    // Mid-answer, a second socket starts watching.
    await until(
      "a third of the text streamed",
      () =>
        a
          .streams(s.id)
          .map((f) => f.delta)
          .join("").length >
        text.length / 3,
    );
    const b = await Room.open(w.edge.url, w.s.boardId, owner.token);
    b.watch([s.id]);

    const done = await a.next("stream", (f) => f.sessionId === s.id && f.done === true && f.part === "text", 15_000);
    const message = await a.next("entity", (e) => e.entity === "message" && e.id === done.messageId);
    await taskEnded(owner, s.id, task.id);
    w.server.onDelta = undefined;

    // A: every piece, in order, as it was written, then the stored message under the same id.
    const pieces = a.streams(s.id).filter((f) => f.messageId === done.messageId && f.part === "text");
    expect(pieces.map((f) => f.delta).join("")).toBe(text);
    expect(pieces.map((f) => f.seq)).toEqual([...pieces.map((f) => f.seq)].sort((x, y) => x - y));
    expect(pieces.length).toBeGreaterThan(10);
    const arrivals = a.messages.filter((m) => m.msg.type === "stream" && m.msg.sessionId === s.id).map((m) => m.at);
    expect(arrivals[0]!).toBeLessThan(written.at(-1)!.at);
    expect(message.row).toMatchObject({ role: "assistant", sessionId: s.id });
    expect(textOf(message.row as Message)).toBe(text);
    // The stored message comes after the last piece of its text (its `done` may follow it).
    const order = a.messages.map((m) => m.msg);
    expect(order.indexOf(message)).toBeGreaterThan(order.indexOf(pieces.filter((f) => f.delta).at(-1)!));
    expect(a.entities("message").map((e) => (e.row as { role: string }).role)).toEqual(["user", "assistant"]);

    // B: the text so far at once (snapshot), then the rest live: together, the whole text once.
    const bPieces = b.streams(s.id).filter((f) => f.messageId === done.messageId && f.part === "text");
    expect(bPieces[0]).toMatchObject({ snapshot: true });
    expect(bPieces[0]!.delta.length).toBeGreaterThan(0);
    expect(text.startsWith(bPieces[0]!.delta)).toBe(true);
    expect(bPieces.slice(1).every((f) => !f.snapshot)).toBe(true);
    expect(bPieces.map((f) => f.delta).join("")).toBe(text);
    await b.next("entity", (e) => e.entity === "message" && e.id === done.messageId);

    // C: on the board, not watching: sessions and tasks, never a transcript.
    await until("C saw the task end", () =>
      c.entities("task").some((e) => e.id === task.id && (e.row as { status: string }).status === "completed"),
    );
    expect(c.entities("session").some((e) => e.id === s.id)).toBe(true);
    expect(c.all("stream")).toEqual([]);
    expect(c.entities("message")).toEqual([]);
    for (const r of [a, b, c]) r.close();
  });

  it("the card's now-doing follows the text as it is written, for everyone on the board, before the message is stored", async () => {
    const wt = await readyWorktree(w, "doing");
    const s = await owner.start({
      worktreeId: wt.id,
      provider: "anthropic",
      model: MODEL.anthropic,
      permissionMode: "full",
    });
    // Not watching the session: a card's line is for everyone on the board.
    const board = await Room.open(w.edge.url, w.s.boardId, owner.token);
    // About three seconds of text: the line changes at most once a second.
    const lines = [
      "Reading the code first, to see where the greeting is made and who calls it.",
      "Now fixing the bug in app.ts, where the greeting is built from the wrong name.",
      "Then checking it with the tests, and reading their output before I say it is done.",
    ];
    const text = lines.join("\n");
    w.server.script("anthropic", [{ text, chunkSize: 4, chunkDelayMs: 40 }]);
    const task = await owner.prompt(s.id, "Fix it.");
    const doing = () =>
      board
        .all("doing")
        .flatMap((f) => f.items)
        .filter((i) => i.sessionId === s.id)
        .map((i) => i.nowDoing);
    await until("a live line", () => doing().length > 0);
    // Nothing of it is stored yet: the line came from the text streaming, not from D1.
    const early = await owner.detail(s.id);
    expect((await owner.messages(s.id)).map((m) => m.role)).toEqual(["user"]);
    expect(early.session.nowDoing).toBeNull();
    await until("the line moves on", () => new Set(doing()).size >= 2);
    await taskEnded(owner, s.id, task.id);
    // Each line is the text's last line so far (a line being written shows as far as it goes).
    for (const line of doing()) expect(lines.some((l) => l.startsWith(line))).toBe(true);
    expect(board.all("stream")).toEqual([]);
    board.close();
  });

  it("sessions streaming at once share the runner's window: a watcher gets their pieces together in batches, each text whole", async () => {
    const wts = await Promise.all([readyWorktree(w, "batch-a"), readyWorktree(w, "batch-b")]);
    const sessions = await Promise.all(
      wts.map((wt) =>
        owner.start({ worktreeId: wt.id, provider: "anthropic", model: MODEL.anthropic, permissionMode: "full" }),
      ),
    );
    const ids = sessions.map((x) => x.id);
    const room = await Room.open(w.edge.url, w.s.boardId, owner.token);
    room.watch(ids);
    await new Promise((r) => setTimeout(r, 200));
    // Each stream lasts ~2 s, so they overlap even when a loaded machine starts the second task late.
    const texts = ids.map((_, n) => Array.from({ length: 80 }, (_, i) => `s${n}w${i}`).join(" "));
    w.server.script(
      "anthropic",
      texts.map((text) => ({ text, chunkSize: 6, chunkDelayMs: 20 })),
    );
    const tasks = await Promise.all(ids.map((id, n) => owner.prompt(id, `Write text ${n}.`)));
    await Promise.all(ids.map((id, n) => taskEnded(owner, id, tasks[n]!.id)));
    await new Promise((r) => setTimeout(r, 300));
    for (const id of ids) {
      const said = room
        .streams(id)
        .filter((f) => f.part === "text")
        .map((f) => f.delta)
        .join("");
      expect(texts).toContain(said);
    }
    // One frame carried pieces of both sessions: the window is the runner's, not each session's.
    expect(room.batches.some((b) => ids.every((id) => b.includes(id)))).toBe(true);
    room.close();
  });

  it("a burst written all at once reaches a watcher whole, every piece before the stored message", async () => {
    const wt = await readyWorktree(w, "burst");
    const s = await owner.start({ worktreeId: wt.id, provider: "openai", model: MODEL.openai, permissionMode: "full" });
    const room = await Room.open(w.edge.url, w.s.boardId, owner.token);
    room.watch([s.id]);
    await new Promise((r) => setTimeout(r, 200));
    // No pause between chunks: the whole answer lands inside one coalescing window, so the runner
    // posts the finished message while its last pieces are still gathering.
    const text = Array.from({ length: 60 }, (_, i) => `burst${i}`).join(" ");
    w.server.script("openai", [{ text, chunkSize: 4, chunkDelayMs: 0 }]);
    const task = await owner.prompt(s.id, "All at once.");
    const message = await room.next(
      "entity",
      (e) => e.entity === "message" && (e.row as Message | null)?.role === "assistant",
      15_000,
    );
    await taskEnded(owner, s.id, task.id);
    await new Promise((r) => setTimeout(r, 300));
    const order = room.messages.map((m) => m.msg);
    const pieces = room.streams(s.id).filter((f) => f.messageId === message.id && f.part === "text");
    expect(pieces.map((f) => f.delta).join("")).toBe(text);
    const lastText = pieces.filter((f) => f.delta).at(-1)!;
    expect(order.indexOf(message)).toBeGreaterThan(order.indexOf(lastText));
    room.close();
  });
});

const LONG = "Thinking about it carefully, step by step, before I change anything at all. ".repeat(30);

describe("stop, queue, retries, confinement", () => {
  it("stop mid-stream: the task is stopped within 2 s, the transcript says who stopped it, the next prompt runs", async () => {
    const wt = await readyWorktree(w, "stop");
    const s = await owner.start({ worktreeId: wt.id, provider: "openai", model: MODEL.openai, permissionMode: "full" });
    const room = await Room.open(w.edge.url, w.s.boardId, owner.token);
    room.watch([s.id]);
    await new Promise((r) => setTimeout(r, 200));
    w.server.script("openai", [{ text: LONG, chunkSize: 8, chunkDelayMs: 30 }]);
    const task = await owner.prompt(s.id, "Think for a long time.");
    await until("streaming", () => room.streams(s.id).length >= 5);

    const t0 = performance.now();
    await owner.stop(s.id);
    const { task: ended, detail } = await taskEnded(owner, s.id, task.id, 5000);
    const tookMs = performance.now() - t0;
    expect(ended.status).toBe("stopped");
    expect(ended.stoppedBy).toBe("Sessions");
    expect(tookMs).toBeLessThan(2000);
    expect(detail.session.status).toBe("stopped");
    const msgs = await owner.messages(s.id);
    expect(noticesOf(msgs)).toContain("stopped: Stopped by Sessions.");
    // What was written before the stop is kept, cut where it stopped.
    const partial = msgs.find((m) => m.role === "assistant");
    expect(partial && LONG.startsWith(textOf(partial))).toBe(true);
    console.log(`stop → task stopped in ${Math.round(tookMs)} ms`);

    w.server.script("openai", [{ text: "Back again." }]);
    const next = await owner.prompt(s.id, "Carry on.");
    const after = await taskEnded(owner, s.id, next.id);
    expect(after.task.status, after.task.error ?? "").toBe("completed");
    expect(textOf((await owner.messages(s.id)).at(-1)!)).toBe("Back again.");
    room.close();
  });

  it("a prompt to a busy session queues; a queued prompt can be edited or removed; it runs after the first", async () => {
    const wt = await readyWorktree(w, "queue");
    w.server.script("anthropic", [
      { text: LONG.slice(0, 600), chunkSize: 8, chunkDelayMs: 20 },
      { text: "Second done." },
    ]);
    const s = await owner.start({
      worktreeId: wt.id,
      provider: "anthropic",
      model: MODEL.anthropic,
      permissionMode: "full",
      prompt: "First.",
    });
    const first = lastTask(await owner.detail(s.id));
    await sessionIs(owner, s.id, (x) => x.status === "running", "first running");
    const second = await owner.prompt(s.id, "Second.");
    const third = await owner.prompt(s.id, "Third.");
    expect(second).toMatchObject({ status: "queued", jobId: null, authorName: "Sessions" });
    expect((await owner.detail(s.id)).session.queued).toBe(2);
    expect((await owner.editTask(s.id, second.id, "Second, edited.")).prompt).toBe("Second, edited.");
    await owner.removeTask(s.id, third.id);
    const d = await owner.detail(s.id);
    expect(d.session.queued).toBe(1);
    expect(d.tasks.map((t) => t.id)).toEqual([first.id, second.id]);

    const a = await taskEnded(owner, s.id, first.id);
    expect(a.task.status).toBe("completed");
    const b = await taskEnded(owner, s.id, second.id);
    expect(b.task.status, b.task.error ?? "").toBe("completed");
    expect(b.task.startedAt!).toBeGreaterThanOrEqual(a.task.endedAt!);
    const msgs = await owner.messages(s.id);
    expect(msgs.filter((m) => m.role === "user").map(textOf)).toEqual(["First.", "Second, edited."]);
    expect(textOf(msgs.at(-1)!)).toBe("Second done.");
    // The model heard the whole conversation on the second task.
    const req = w.server.requests.at(-1)!;
    expect(JSON.stringify(req.body.messages)).toContain("First.");
    expect(b.detail.session.queued).toBe(0);
  });

  it("a 429 with retry-after is waited out, said in the transcript, and the task succeeds", async () => {
    const wt = await readyWorktree(w, "retry");
    w.server.script("anthropic", [{ fault: "429", retryAfter: 1 }, { text: "Got through." }]);
    const before = w.server.requests.length;
    const s = await owner.start({
      worktreeId: wt.id,
      provider: "anthropic",
      model: MODEL.anthropic,
      permissionMode: "full",
      prompt: "Try.",
    });
    const { task } = await taskEnded(owner, s.id, lastTask(await owner.detail(s.id)).id);
    expect(task.status, task.error ?? "").toBe("completed");
    const [r1, r2] = w.server.requests.slice(before);
    expect(r2!.at - r1!.at).toBeGreaterThanOrEqual(950);
    const msgs = await owner.messages(s.id);
    expect(msgs.map((m) => m.role)).toEqual(["user", "system", "assistant"]);
    expect(noticesOf(msgs)[0]).toMatch(/^retry: Anthropic rate-limited this request \(429\); retrying in 1(\.\d)? s/);
    expect(textOf(msgs.at(-1)!)).toBe("Got through.");
  });

  it("a rejected key (401) fails the task in plain words, not retried; the same runner process then runs the next", async () => {
    const wt = await readyWorktree(w, "rejected-key");
    const pid = w.runner.pid;
    w.server.script("anthropic", [{ fault: "401" }, { text: "The key works again." }]);
    const before = w.server.requests.length;
    const s = await owner.start({
      worktreeId: wt.id,
      provider: "anthropic",
      model: MODEL.anthropic,
      permissionMode: "full",
      prompt: "Try with a bad key.",
    });
    const { task, detail } = await taskEnded(owner, s.id, lastTask(await owner.detail(s.id)).id);
    expect(task.status).toBe("failed");
    expect(task.error).toMatch(/^Anthropic rejected the API key \(401\): set a valid ANTHROPIC_API_KEY and restart/);
    expect(w.server.requests.length - before).toBe(1);
    expect(detail.session).toMatchObject({ status: "failed", lastError: task.error });
    expect(noticesOf(await owner.messages(s.id)).at(-1)).toBe(`error: This task failed: ${task.error}`);

    const next = await owner.prompt(s.id, "Again.");
    const ok = await taskEnded(owner, s.id, next.id);
    expect(ok.task.status, ok.task.error ?? "").toBe("completed");
    expect(textOf((await owner.messages(s.id)).at(-1)!)).toBe("The key works again.");
    expect(w.runner.pid).toBe(pid);
    expect(w.runner.child.exitCode).toBeNull();
  });

  it("a path outside the worktree is refused through the real runner, as an error the model reads", async () => {
    const wt = await readyWorktree(w, "escape");
    w.server.script("openai", [
      { toolCalls: [{ name: "read_file", input: { path: "../../etc/passwd" } }] },
      { toolCalls: [{ name: "read_file", input: { path: "/etc/passwd" } }] },
      (body) => {
        expect(JSON.stringify(body.messages)).not.toContain("root:x:0:0");
        return { text: "I cannot read that." };
      },
    ]);
    const s = await owner.start({
      worktreeId: wt.id,
      provider: "openai",
      model: MODEL.openai,
      permissionMode: "full",
      prompt: "Read the passwd file.",
    });
    const { task } = await taskEnded(owner, s.id, lastTask(await owner.detail(s.id)).id);
    expect(w.server.failures).toEqual([]);
    expect(task.status, task.error ?? "").toBe("completed");
    const results = (await owner.messages(s.id)).flatMap((m) =>
      m.content.filter((b): b is ToolResultBlock => b.type === "tool_result"),
    );
    expect(results).toHaveLength(2);
    for (const r of results) {
      expect(r).toMatchObject({ name: "read_file", isError: true });
      expect(r.output).toMatch(/outside the worktree/);
      expect(r.output).not.toContain("root:");
    }
  });
});
