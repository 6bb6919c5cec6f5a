import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { type AgentFixture, agentFixture, PROVIDERS } from "../../test/agent-kit.ts";
import { AgentError, runTask } from "./index.ts";
import { backoffMs, DEFAULT_RETRY, retryAfterMs } from "./retry.ts";

let fx: AgentFixture;
afterEach(() => fx?.cleanup());

const who = (provider: string) => (provider === "anthropic" ? "Anthropic" : `The server at ${fx.server.openaiUrl}`);

describe.each(PROVIDERS)("%s: retries", (provider) => {
  it("429: waits at least what retry-after says, says so in a notice, then succeeds", async () => {
    fx = await agentFixture(provider);
    fx.server.script(provider, [{ fault: "429", retryAfter: 1 }, { text: "Got through." }]);
    const { finalText } = await runTask(fx.input());
    expect(finalText).toBe("Got through.");
    const [first, second] = fx.server.requests;
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(1000);
    const [notice] = fx.sink.notices("retry");
    expect(notice).toMatch(
      new RegExp(`^${literal(who(provider))} rate-limited this request \\(429\\); retrying in 1(\\.\\d)? s`),
    );
    expect(fx.sink.nowDoing).toContain(notice);
    // The notice is a system message, posted before the retry's answer.
    expect(fx.sink.messages.map((m) => m.role)).toEqual(["system", "assistant"]);
  });

  it("500: retried with backoff", async () => {
    fx = await agentFixture(provider);
    fx.server.script(provider, [{ fault: "500" }, { fault: "500" }, { text: "Fine now." }]);
    expect((await runTask(fx.input())).finalText).toBe("Fine now.");
    expect(fx.server.requests).toHaveLength(3);
    expect(fx.sink.notices("retry")).toEqual([
      expect.stringMatching(/had a server error \(500\); retrying in .* \(attempt 2 of 5\)$/),
      expect.stringMatching(/had a server error \(500\); retrying in .* \(attempt 3 of 5\)$/),
    ]);
  });

  it("a fault mid-stream: the partial stream is ended and the retry streams under a fresh id", async () => {
    fx = await agentFixture(provider);
    fx.server.script(provider, [{ fault: "overloaded_mid_stream", afterChars: 30 }, { text: "Second try." }]);
    expect((await runTask(fx.input())).finalText).toBe("Second try.");
    const abandoned = fx.sink.deltas[0]!.messageId;
    expect(fx.sink.textOf(abandoned)).toHaveLength(30);
    expect(fx.sink.ended).toContain(abandoned);
    const [answer] = fx.sink.byRole("assistant");
    expect(answer!.id).not.toBe(abandoned);
    expect(fx.sink.textOf(answer!.id)).toBe("Second try.");
    // The abandoned attempt is never stored, and its stream ended before the retry notice.
    expect(fx.sink.messages.map((m) => m.id)).not.toContain(abandoned);
    expect(fx.sink.log.indexOf(`end ${abandoned}`)).toBeLessThan(
      fx.sink.log.findIndex((l) => l.startsWith("message system")),
    );
    const [notice] = fx.sink.notices("retry");
    expect(notice).toMatch(
      provider === "anthropic" ? /^Anthropic is overloaded/ : /failed mid-stream \(server_error\)/,
    );
  });

  it("a dropped connection is retried", async () => {
    fx = await agentFixture(provider);
    fx.server.script(provider, [{ fault: "drop", afterChars: 20 }, { text: "Reconnected." }]);
    expect((await runTask(fx.input())).finalText).toBe("Reconnected.");
    expect(fx.sink.notices("retry")[0]).toMatch(/^The connection to .* dropped; retrying/);
    expect(fx.sink.ended).toContain(fx.sink.deltas[0]!.messageId);
  });

  it("401: an AgentError in plain words, not retried", async () => {
    fx = await agentFixture(provider);
    fx.server.script(provider, [{ fault: "401" }, { text: "never" }]);
    const err = await runTask(fx.input()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentError);
    const keyVar = provider === "anthropic" ? "ANTHROPIC_API_KEY" : "OPENAI_API_KEY";
    expect((err as AgentError).message).toBe(
      `${who(provider)} rejected the API key (401): set a valid ${keyVar} and restart the runner`,
    );
    expect((err as AgentError).code).toBe("auth");
    expect(fx.server.requests).toHaveLength(1);
    expect(fx.sink.notices()).toEqual([]);
  });

  it("404: the model is named, and where it was looked for", async () => {
    fx = await agentFixture(provider);
    fx.server.script(provider, [{ fault: "404" }]);
    const err = (await runTask(fx.input({ model: "no-such-model" })).catch((e: unknown) => e)) as AgentError;
    expect(err.code).toBe("model_not_found");
    const where = provider === "anthropic" ? fx.server.anthropicUrl : fx.server.openaiUrl;
    expect(err.message).toMatch(new RegExp(`^model 'no-such-model' not found at ${literal(where)}`));
    expect(fx.server.requests).toHaveLength(1);
  });

  it("gives up after the last attempt, saying what kept failing", async () => {
    fx = await agentFixture(provider);
    fx.server.script(provider, [{ fault: "500" }, { fault: "500" }, { fault: "500" }, { text: "too late" }]);
    const err = (await runTask(fx.input({ retry: { attempts: 3, baseMs: 10 } })).catch(
      (e: unknown) => e,
    )) as AgentError;
    expect(err.code).toBe("retries_exhausted");
    expect(err.message).toMatch(/had a server error \(500\), and all 3 attempts failed: try again in a while$/);
    expect(fx.server.requests).toHaveLength(3);
  });
});

describe("retry timing", () => {
  it("a stop during the wait ends the task at once", async () => {
    fx = await agentFixture("anthropic");
    fx.server.script("anthropic", [{ fault: "429", retryAfter: 30 }]);
    const controller = new AbortController();
    const stop = new Error("stop");
    const started = performance.now();
    const state = fx.sink.state.bind(fx.sink);
    fx.sink.state = async (s) => {
      await state(s);
      if (s.nowDoing?.includes("retrying")) controller.abort(stop);
    };
    await expect(runTask({ ...fx.input(), signal: controller.signal })).rejects.toBe(stop);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it("refused connections are retried too (nothing listening)", async () => {
    fx = await agentFixture("openai");
    const port = await freePort();
    const input = fx.input({ baseUrl: `http://127.0.0.1:${port}/v1`, retry: { attempts: 2, baseMs: 10 } });
    const err = (await runTask(input).catch((e: unknown) => e)) as AgentError;
    expect(err.code).toBe("retries_exhausted");
    expect(err.message).toBe(
      `The server at http://127.0.0.1:${port}/v1 could not be reached (connection refused), and all 2 attempts failed: try again in a while`,
    );
  });

  it("retry-after and retry-after-ms are read; backoff doubles with jitter and honours them as a floor", () => {
    expect(retryAfterMs(new Headers({ "retry-after": "3" }))).toBe(3000);
    expect(retryAfterMs(new Headers({ "retry-after-ms": "250.5", "retry-after": "3" }))).toBe(250.5);
    expect(retryAfterMs(new Headers({ "retry-after": new Date(10_000).toUTCString() }), 4_000)).toBe(6000);
    expect(retryAfterMs(new Headers({}))).toBeNull();
    const p = DEFAULT_RETRY;
    expect(backoffMs(1, p, null, () => 0)).toBe(500);
    expect(backoffMs(1, p, null, () => 1)).toBe(1000);
    expect(backoffMs(3, p, null, () => 1)).toBe(4000);
    expect(backoffMs(10, p, null, () => 1)).toBe(60_000);
    expect(backoffMs(1, p, 2000, () => 0)).toBe(2000);
    expect(backoffMs(1, p, 2000, () => 1)).toBe(2200);
    expect(backoffMs(1, p, 120_000, () => 0)).toBe(60_000);
  });
});

/** A port nothing listens on (fetch refuses some low ones outright, so not port 9). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

function literal(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}
