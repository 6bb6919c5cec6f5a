import { createExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { testEnv } from "../../test/helpers.ts";
import type { Env } from "../env.ts";
import entry from "../index.ts";

/**
 * DNS rebinding: a page on evil.example whose name is re-pointed at the machine running Trellis
 * sends `Host: evil.example` and a matching Origin. Only our own hosts are answered: loopback on
 * any port, and PUBLIC_URL's (without it, any https host, which a re-pointed name cannot be).
 * `wrangler dev` carries the client's Host into `request.url`, so the request's URL is its host.
 */

const send = (url: string, init: RequestInit = {}, vars: Partial<Env> = {}) =>
  entry.fetch(
    new Request(url, init) as Parameters<typeof entry.fetch>[0],
    { ...testEnv, ...vars } as Env,
    createExecutionContext(),
  );

/** `POST /api/auth/local` as a page on `origin` sends it, on a single-user install. */
const localSignIn = (origin: string, vars: Partial<Env> = {}) =>
  send(`${origin}/api/auth/local`, { method: "POST", headers: { origin } }, { SINGLE_USER: "1", ...vars });

async function refused(res: Response, host: string) {
  expect(res.status).toBe(421);
  const body = await res.json<{ error: { code: string; message: string } }>();
  expect(body.error.code).toBe("bad_host");
  expect(body.error.message).toContain(`not on ${host}`);
  expect(body.error.message).toMatch(/DNS rebinding/);
  return body.error.message;
}

describe("a rebound host name", () => {
  it("gets no single-user token, even with its own Origin", async () => {
    const message = await refused(await localSignIn("http://evil.example:8787"), "evil.example:8787");
    expect(message).toMatch(/localhost, 127\.0\.0\.1, \[::1\]/);
    expect(message).toMatch(/set PUBLIC_URL/);
  });

  it("is refused on /mcp (as a JSON-RPC error), OAuth, its metadata, the API and browser sockets", async () => {
    const origin = "http://evil.example";
    const mcp = await send(`${origin}/mcp`, {
      method: "POST",
      headers: { origin, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(mcp.status).toBe(421);
    expect(await mcp.json()).toMatchObject({
      jsonrpc: "2.0",
      error: { code: -32000, message: expect.stringContaining("not on evil.example") },
    });
    await refused(await send(`${origin}/oauth/authorize?client_id=x`), "evil.example");
    await refused(await send(`${origin}/.well-known/oauth-authorization-server`), "evil.example");
    await refused(await send(`${origin}/api/config`), "evil.example");
    await refused(
      await send(`${origin}/api/auth/login`, {
        method: "POST",
        headers: { origin, "content-type": "application/json" },
        body: JSON.stringify({ email: "a@b.example", password: "whatever-it-is" }),
      }),
      "evil.example",
    );
    const socket = await send(`${origin}/parties/board-room/some-board?ticket=t`, {
      headers: { upgrade: "websocket", origin },
    });
    await refused(socket, "evil.example");
  });

  it("is refused when only the Host header names it", async () => {
    await refused(await send("http://localhost/api/config", { headers: { host: "evil.example" } }), "evil.example");
    expect((await send("http://localhost/api/config", { headers: { host: "localhost:8787" } })).status).toBe(200);
  });
});

describe("our own hosts", () => {
  it("loopback on any port passes, as npm start, the tests and the benches use it", async () => {
    for (const origin of ["http://localhost:8787", "http://127.0.0.1:41234", "http://[::1]:9000", "http://localhost"]) {
      const res = await localSignIn(origin);
      expect(res.status, origin).toBe(200);
      expect(await res.json()).toHaveProperty("accessToken");
    }
  });

  it("with PUBLIC_URL, its host passes and no other does; without it, https hosts pass and plain http ones do not", async () => {
    const vars = { PUBLIC_URL: "https://trellis.example.com" };
    expect((await localSignIn("https://trellis.example.com", vars)).status).toBe(200);
    expect((await localSignIn("http://127.0.0.1:8787", vars)).status).toBe(200);
    const other = await refused(await localSignIn("https://other.example.com", vars), "other.example.com");
    expect(other).toMatch(/trellis\.example\.com \(its PUBLIC_URL\)/);

    expect((await localSignIn("https://trellis-abc.workers.dev")).status).toBe(200);
    await refused(await localSignIn("http://trellis-abc.workers.dev"), "trellis-abc.workers.dev");

    const broken = await localSignIn("https://trellis.example.com", { PUBLIC_URL: "trellis.example.com" });
    expect(broken.status).toBe(421);
    expect((await broken.json<{ error: { message: string } }>()).error.message).toMatch(/PUBLIC_URL .* is not a URL/);
  });

  it("the runner API is not a browser's and is left alone", async () => {
    const res = await send("http://evil.example/runner/me", { headers: { authorization: "Bearer trl_run_nope" } });
    expect(res.status).toBe(401);
  });
});
