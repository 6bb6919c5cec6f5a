/** `npm start`'s runner half against a real single-user Worker: register once, then just start. */
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Runner } from "../../protocol/index.ts";
import { connectLocalRunner } from "../../scripts/local-runner.ts";
import { api, startTrellis, type Trellis } from "../../test/server.ts";
import { tempDir } from "./git-fixtures.ts";
import { until } from "./harness.ts";

let edge: Trellis;
let tmp: ReturnType<typeof tempDir>;
const children: ChildProcess[] = [];

beforeAll(async () => {
  edge = await startTrellis({ singleUser: true });
  tmp = tempDir("trellis-local-runner-");
});
afterAll(async () => {
  for (const c of children) c.kill("SIGKILL");
  tmp?.cleanup();
  await edge?.stop();
});

async function start(): Promise<ChildProcess> {
  const env = { ...process.env, TRELLIS_CONFIG_DIR: join(tmp.dir, "config"), TRELLIS_DATA_DIR: join(tmp.dir, "data") };
  const child = await connectLocalRunner({ base: edge.url, singleUser: true, env, stdio: "ignore" });
  children.push(child!);
  return child!;
}

it("registers this machine's runner as the local owner on first start, and reuses it after", async () => {
  const owner = await api(edge.url, "/api/auth/local", { json: {} });
  const runners = () => api<{ items: Runner[] }>(edge.url, "/api/runners", { token: owner.accessToken });
  const boardRunners = async (boardId: string) =>
    (await api<{ items: Runner[] }>(edge.url, `/api/boards/${boardId}/runners`, { token: owner.accessToken })).items;
  const earlier = await api(edge.url, "/api/boards", { token: owner.accessToken, json: { name: "Before" } });

  const first = await start();
  const online = await until("local runner online", async () =>
    (await runners()).items.find((r) => r.status === "online"),
  );
  first.kill("SIGTERM");
  expect(await new Promise((r) => first.once("exit", r))).toBe(0);
  await until("offline", async () => (await runners()).items[0]?.status === "offline");

  await start();
  await until("online again", async () => (await runners()).items[0]?.status === "online");
  const after = (await runners()).items;
  expect(after.map((r) => r.id)).toEqual([online.id]);

  // One person, one machine: every board can use it without a sharing step, old boards and new.
  const later = await api(edge.url, "/api/boards", { token: owner.accessToken, json: { name: "After" } });
  for (const board of [earlier, later]) expect((await boardRunners(board.id)).map((r) => r.id)).toEqual([online.id]);
});

it("in accounts mode says how to add a runner instead", async () => {
  expect(await connectLocalRunner({ base: edge.url, singleUser: false, stdio: "ignore" })).toBeNull();
});
