/**
 * `npm start` as the README shows it, pasted into a shell in the clone's root on the machine's own
 * Node: it says when it is ready, keeps the terminal free of per-job noise, and single-user and
 * accounts mode (`TRELLIS_SINGLE_USER=0 npm start`) share no local state. Its local folders go to a
 * temp dir (`TRELLIS_LOCAL_DIR`), so the test never touches a developer's own database.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Job, Runner } from "../../protocol/index.ts";
import { START_COMMAND } from "../../scripts/local-runner.ts";
import { ensureWebBuilt, freePort, ROOT } from "../../test/server.ts";
import { tempDir } from "./git-fixtures.ts";
import { until } from "./harness.ts";

let tmp: ReturnType<typeof tempDir>;
const running = new Set<ChildProcess>();

beforeAll(() => {
  ensureWebBuilt();
  tmp = tempDir("trellis-npm-start-");
});
afterAll(() => {
  for (const c of running) {
    try {
      process.kill(-c.pid!, "SIGKILL");
    } catch {}
  }
  tmp?.cleanup();
});

/** A person's terminal: the machine's Node and npm first, no npm script context. */
function terminalEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("npm_") && k !== "NODE") env[k] = v;
  env.PATH = (process.env.PATH ?? "")
    .split(":")
    .filter((p) => !p.includes("node_modules/.bin"))
    .join(":");
  return {
    ...env,
    TRELLIS_LOCAL_DIR: join(tmp.dir, "clone"),
    TRELLIS_CONFIG_DIR: join(tmp.dir, "config"),
    TRELLIS_DATA_DIR: join(tmp.dir, "data"),
    TRELLIS_WEB_BUILT: "1",
    WRANGLER_SEND_METRICS: "false",
    X_LOCAL_OBSERVABILITY: "false",
    ...extra,
  };
}

/** `npm start` on a fresh port, again on another if that one was taken before wrangler bound it. */
async function npmStart(command: string) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await npmStartOn(command, await freePort());
    } catch (e) {
      if (attempt >= 3 || !/Address already in use/.test(String(e))) throw e;
    }
  }
}

async function npmStartOn(command: string, port: number) {
  const child = spawn("sh", ["-c", command], {
    cwd: ROOT,
    env: terminalEnv({ PORT: String(port) }),
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  running.add(child);
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const exited = new Promise((r) => child.once("exit", r));
  const ready = `trellis: ready — open http://localhost:${port}`;
  await until(`"${ready}"`, () => output.includes(ready) || (child.exitCode !== null && "exited"), 120_000);
  if (!output.includes(ready)) running.delete(child);
  expect(output, output).toContain(ready);
  const base = `http://127.0.0.1:${port}`;
  const call = (path: string, init: { token?: string; json?: unknown; headers?: Record<string, string> } = {}) =>
    fetch(`${base}${path}`, {
      method: init.json === undefined ? "GET" : "POST",
      headers: {
        ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
        ...(init.json === undefined ? {} : { "content-type": "application/json" }),
        ...init.headers,
      },
      body: init.json === undefined ? undefined : JSON.stringify(init.json),
    });
  return {
    call,
    output: () => output,
    async stop() {
      process.kill(-child.pid!, "SIGINT");
      await exited;
      running.delete(child);
    },
  };
}

it("npm start says when it is ready, runs jobs quietly, and accounts mode shares nothing with single-user mode", async () => {
  // ---- single-user ----
  const single = await npmStart("npm start");
  const local = await single.call("/api/auth/local", { json: {} });
  expect(local.status).toBe(200);
  const owner = (await local.json()) as { accessToken: string; refreshToken: string };
  const cookie = local.headers.get("set-cookie")!.split(";")[0]!;
  const board = await single.call("/api/boards", { token: owner.accessToken, json: { name: "Mine" } });
  expect(board.status).toBe(201);

  // The local runner runs jobs without a log line per claim.
  const runner = await until("local runner online", async () => {
    const list = (await (await single.call("/api/runners", { token: owner.accessToken })).json()) as {
      items: Runner[];
    };
    return list.items.find((r) => r.status === "online");
  });
  for (let i = 0; i < 3; i++) {
    const job = (await (
      await single.call(`/api/runners/${runner.id}/jobs`, { token: owner.accessToken, json: { type: "ping" } })
    ).json()) as Job;
    await until("ping done", async () => {
      const j = (await (await single.call(`/api/jobs/${job.id}`, { token: owner.accessToken })).json()) as Job;
      return j.status === "succeeded";
    });
  }
  expect(single.output()).not.toMatch(/job \S+ ping/);
  await single.stop();

  // ---- accounts, as deployed ----
  const accounts = await npmStart("TRELLIS_SINGLE_USER=0 npm start");
  expect(accounts.output()).toContain(`\`${START_COMMAND}\``);
  expect(await (await accounts.call("/api/config")).json()).toMatchObject({ singleUser: false });
  // The browser's single-user cookie and the local owner's access token open nothing here.
  expect((await accounts.call("/api/auth/refresh", { json: {}, headers: { cookie } })).status).toBe(401);
  expect((await accounts.call("/api/auth/refresh", { json: { refreshToken: owner.refreshToken } })).status).toBe(401);
  expect((await accounts.call("/api/boards", { token: owner.accessToken })).status).toBe(401);
  expect((await accounts.call("/api/auth/local", { json: {} })).status).toBe(403);
  // Its own database: a new account sees no boards of the local owner's.
  const signup = await accounts.call("/api/auth/register", {
    json: { email: "ada@example.com", password: "correct horse battery", name: "Ada" },
  });
  expect(signup.status).toBe(201);
  const ada = (await signup.json()) as { accessToken: string };
  const boards = (await (await accounts.call("/api/boards", { token: ada.accessToken })).json()) as {
    items: unknown[];
  };
  expect(boards.items).toEqual([]);
  await accounts.stop();

  // ---- single-user again: its own state was kept, not wiped ----
  const again = await npmStart("npm start");
  const back = (await (await again.call("/api/auth/local", { json: {} })).json()) as { accessToken: string };
  const mine = (await (await again.call("/api/boards", { token: back.accessToken })).json()) as {
    items: { name: string }[];
  };
  expect(mine.items.map((b) => b.name)).toEqual(["Mine"]);
  await again.stop();
}, 300_000);
