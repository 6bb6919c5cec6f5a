/**
 * The OS sandbox in a real session: a real Worker, a real runner process with its sandbox on, the
 * scripted model server. An agent's command that tries to escape gets the sandbox's refusal as its
 * result, which the model reads; a host the session allows is reached.
 */
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
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
  readyWorktree,
  taskEnded,
  textOf,
  until,
  type World,
  world,
} from "./session-kit.ts";

const on = sandboxTestsRun(SANDBOX, "session sandbox tests");

let w: World;
let owner: Client;
let host: Server;
let port: number;

beforeAll(async () => {
  if (!on) return;
  w = await world("Sandbox", { "README.md": "hello\n" }, { TRELLIS_SANDBOX: "on" });
  owner = as(w, w.s.user.token);
  host = createServer((_req, res) => res.end("hello from the host")).listen(0, "127.0.0.1");
  await new Promise((r) => host.once("listening", r));
  port = (host.address() as AddressInfo).port;
});
afterAll(async () => {
  host?.close();
  await w?.stop();
});

const bodyText = (b: RequestBody) => JSON.stringify(b.messages);

describe.skipIf(!on)("a session's shell commands in the sandbox", () => {
  it("an escaping command gets the sandbox's error, which the model reads; the allowed host answers", async () => {
    const card = await until("runner reports its sandbox", async () => {
      const list = await w.s.api<{ items: { id: string; info: { sandbox?: { state: string } } }[] }>("/api/runners");
      return list.items.find((x) => x.id === w.s.runnerId)?.info.sandbox;
    });
    expect(card).toMatchObject({ state: "on" });
    const wt = await readyWorktree(w, "boxed");
    const escaped = join(dirname(w.s.configDir), "escaped.txt");
    w.server.script("anthropic", [
      { toolCalls: [{ name: "shell", input: { command: `echo out > ${escaped}; cat ${w.s.configDir}/runner.json` } }] },
      (body) => {
        expect(bodyText(body)).toMatch(/Read-only file system/);
        return {
          toolCalls: [{ name: "shell", input: { command: `curl -sS -m 5 --noproxy '' http://127.0.0.1:${port}/` } }],
        };
      },
      (body) => {
        expect(bodyText(body)).toContain("hello from the host");
        return { text: "The sandbox held; the allowed host answered." };
      },
    ]);
    const s = await owner.start({
      worktreeId: wt.id,
      provider: "anthropic",
      model: "claude-sonnet-4-5",
      permissionMode: "full",
      allowedHosts: [`127.0.0.1:${port}`],
      prompt: "Try to get out.",
    });
    const { task } = await taskEnded(owner, s.id, lastTask(await owner.detail(s.id)).id, 30_000);
    expect(w.server.failures).toEqual([]);
    expect(task.status, task.error ?? "").toBe("completed");

    const msgs = await owner.messages(s.id);
    expect(noticesOf(msgs)[0]).toBe(
      `info: Commands run sandboxed (${SANDBOX.kind}): writes only in the worktree and a temp folder, the runner's folders hidden, network only to 127.0.0.1:${port}.`,
    );
    const results = msgs.flatMap((m) => m.content.filter((b): b is ToolResultBlock => b.type === "tool_result"));
    expect(results[0]).toMatchObject({ name: "shell", isError: true });
    expect(results[0]!.output).toMatch(/Read-only file system/);
    expect(results[0]!.output).toMatch(/runner\.json: No such file or directory/);
    expect(results[0]!.output).not.toContain("trl_run_");
    expect(existsSync(escaped)).toBe(false);
    expect(results[1]!.output).toBe("hello from the host\n[exit code 0]");
    expect(textOf(msgs.at(-1)!)).toBe("The sandbox held; the allowed host answered.");
  });
});
