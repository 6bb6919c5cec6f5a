/**
 * kill -9 of a runner in the middle of an agent's answer, against a real Worker: the task is not
 * retried blindly (an agent's tools may have changed files), it ends `failed` with the reason the
 * lease sweep records, and the session takes the next prompt, which runs on the restarted runner
 * with the whole conversation rebuilt from D1. Its own file: it waits out a 30 s lease.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  as,
  type Client,
  lastTask,
  noticesOf,
  providerEnv,
  Room,
  readyWorktree,
  taskEnded,
  textOf,
  until,
  type World,
  world,
} from "./session-kit.ts";

let w: World;
let owner: Client;

beforeAll(async () => {
  w = await world("Crashy");
  owner = as(w, w.s.user.token);
});
afterAll(async () => {
  await w?.stop();
});

const SLOW = "Reading every file in turn, slowly, and writing down what each of them does. ".repeat(40);

describe("kill -9 mid-stream", () => {
  it("the task fails with the reason, the session takes the next prompt, which runs on the restarted runner with its history", async () => {
    const wt = await readyWorktree(w, "crash");
    w.server.script("anthropic", [{ text: "First answer, kept in D1." }]);
    const s = await owner.start({
      worktreeId: wt.id,
      provider: "anthropic",
      model: "claude-sonnet-4-5",
      permissionMode: "full",
      prompt: "First prompt.",
    });
    const first = await taskEnded(owner, s.id, lastTask(await owner.detail(s.id)).id);
    expect(first.task.status, first.task.error ?? "").toBe("completed");

    const room = await Room.open(w.edge.url, w.s.boardId, owner.token);
    room.watch([s.id]);
    await new Promise((r) => setTimeout(r, 200));
    w.server.script("anthropic", [{ text: SLOW, chunkSize: 8, chunkDelayMs: 30 }]);
    const doomed = await owner.prompt(s.id, "Second prompt, cut short.");
    await until("the second answer streaming", () => room.streams(s.id).filter((f) => f.delta).length >= 5);

    w.runner.crash();
    await w.runner.exited;
    const requestsBefore = w.server.requests.length;

    // Nobody renews the lease; when it runs out, the link's alarm fails the task (it is not retried).
    const { task, detail } = await taskEnded(owner, s.id, doomed.id, 60_000);
    expect(task.status).toBe("failed");
    expect(task.error).toBe("runner lost");
    expect(detail.session.status).toBe("failed");
    expect(detail.session).toMatchObject({ lastError: "runner lost", pending: [], queued: 0 });
    expect(noticesOf(await owner.messages(s.id)).at(-1)).toMatch(/^error: This task failed: runner lost\. /);
    // Nothing ran it again meanwhile.
    expect(w.server.requests.length).toBe(requestsBefore);

    // The next prompt is taken while the runner is away, and waits for it.
    w.server.script("anthropic", [{ text: "Third answer, from the new process." }]);
    const next = await owner.prompt(s.id, "Third prompt, after the crash.");
    await new Promise((r) => setTimeout(r, 500));
    expect(lastTask(await owner.detail(s.id))).toMatchObject({ id: next.id, status: "queued" });

    const again = w.s.start([], providerEnv(w.server));
    await again.waitFor(/connected to /);
    const after = await taskEnded(owner, s.id, next.id, 30_000);
    expect(after.task.status, after.task.error ?? "").toBe("completed");
    expect(after.detail.session.status).toBe("completed");
    expect(again.output).toMatch(new RegExp(`job ${after.task.jobId} session\\.task`));

    // The restarted runner sent the model the conversation as D1 holds it: every earlier prompt and
    // the first answer, then the new prompt last.
    const sent = w.server.requests.at(-1)!.body.messages ?? [];
    const said = JSON.stringify(sent);
    for (const t of ["First prompt.", "First answer, kept in D1.", "Second prompt, cut short.", "Third prompt"]) {
      expect(said).toContain(t);
    }
    expect(said.indexOf("First prompt.")).toBeLessThan(said.indexOf("Second prompt"));
    expect(said.indexOf("Second prompt")).toBeLessThan(said.indexOf("Third prompt"));
    expect(JSON.stringify(sent.at(-1))).toContain("Third prompt, after the crash.");
    expect(textOf((await owner.messages(s.id)).at(-1)!)).toBe("Third answer, from the new process.");
    room.close();
    again.kill("SIGTERM");
    expect(await again.exited).toBe(0);
  }, 150_000);
});
