/**
 * The runner commands Trellis prints, run exactly as printed: in a POSIX shell, from the clone's root
 * folder, on the machine's own Node and npm (not the Node 22 in node_modules/.bin that the test
 * lanes run on), against a real Worker. What a person pastes is what is tested.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Runner, RunnerRegistration } from "../../protocol/index.ts";
import { accountsModeHint, START_COMMAND } from "../../scripts/local-runner.ts";
import { api, ROOT, registerUser, startTrellis, type Trellis } from "../../test/server.ts";
import { tempDir } from "./git-fixtures.ts";
import { until } from "./harness.ts";

let edge: Trellis;
let tmp: ReturnType<typeof tempDir>;
const shells: ChildProcess[] = [];

beforeAll(async () => {
  edge = await startTrellis({ singleUser: false });
  tmp = tempDir("trellis-printed-");
});
afterAll(async () => {
  for (const c of shells) {
    try {
      process.kill(-c.pid!, "SIGKILL");
    } catch {}
  }
  tmp?.cleanup();
  await edge?.stop();
});

/** The environment of a person's terminal: no npm script context, no node_modules/.bin on PATH. */
function terminalEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("npm_") && k !== "NODE") env[k] = v;
  env.PATH = (process.env.PATH ?? "")
    .split(":")
    .filter((p) => !p.includes("node_modules/.bin"))
    .join(":");
  env.TRELLIS_CONFIG_DIR = join(tmp.dir, "config");
  env.TRELLIS_DATA_DIR = join(tmp.dir, "data");
  return env;
}

/** `sh -c <command>` in the clone's root, in its own process group; output collected. */
function paste(command: string) {
  const child = spawn("sh", ["-c", command], {
    cwd: ROOT,
    env: terminalEnv(),
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  shells.push(child);
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return { child, exited, output: () => output };
}

it("the Add runner command and the start command it leads to work when pasted into a shell in the clone", async () => {
  const owner = await registerUser(edge.url, "Ann");
  const reg = await api<RunnerRegistration>(edge.url, "/api/runners", {
    token: owner.token,
    json: { name: "Ann's laptop" },
  });
  const runner = async () =>
    (await api<{ items: Runner[] }>(edge.url, "/api/runners", { token: owner.token })).items.find(
      (r) => r.id === reg.runner.id,
    );

  const register = paste(reg.command);
  expect(await register.exited, register.output()).toBe(0);
  expect(register.output()).toContain(`registered runner "Ann's laptop"`);
  expect((await runner())?.status).toBe("offline");

  // What it says to run next is the start command `npm start` prints in accounts mode.
  const next = register.output().match(/^next: (.+)$/m)?.[1];
  expect(next).toBe(START_COMMAND);
  expect(accountsModeHint("http://localhost:8787")).toContain(`\`${START_COMMAND}\``);

  const start = paste(next!);
  await until(`runner online\n${start.output()}`, async () => (await runner())?.status === "online", 30_000);
  // Ctrl-C (to the whole group, as a terminal sends it) drains the runner and it stops.
  process.kill(-start.child.pid!, "SIGINT");
  await until(`runner stopped\n${start.output()}`, () => /\bstopped$/m.test(start.output()));
  await until("runner offline", async () => (await runner())?.status === "offline");
});
