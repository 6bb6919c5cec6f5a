/** The CLI a user types: register, status, help, and the errors that say what to do next. */
import { execFileSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, freePort, ROOT, startTrellis, type Trellis } from "../../test/server.ts";
import { type Setup, setup } from "./harness.ts";

let edge: Trellis;
let s: Setup;

beforeAll(async () => {
  edge = await startTrellis();
  s = await setup(edge.url);
});
afterAll(async () => {
  s?.cleanup();
  await edge?.stop();
});

describe("trellis-runner register", () => {
  it("stores the credential in a 0600 file in the config folder and never prints it", () => {
    const file = join(s.configDir, "runner.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(s.configDir).mode & 0o077).toBe(0);
    const saved = JSON.parse(readFileSync(file, "utf8"));
    const [reg] = saved.runners;
    expect(reg).toMatchObject({ url: s.base, runnerId: s.runnerId, name: "test-runner" });
    expect(reg.credential).toMatch(/^trl_run_/);
    const out = s.registerOutput.stdout + s.registerOutput.stderr;
    expect(out).toContain(`registered runner "test-runner" (${s.runnerId}) with ${s.base}`);
    expect(out).not.toContain(reg.credential);
    expect(out).not.toContain(reg.credential.slice(8, 20));
  });

  it("refuses a token that was already used, and says how to get a new one", async () => {
    const user = await api(s.base, "/api/runners", { token: s.user.token, json: { name: "second" } });
    const first = await s.cli(["register", "--url", s.base, "--token", user.registrationToken, "--name", "renamed"], {
      TRELLIS_CONFIG_DIR: join(s.dir, "other-config"),
    });
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('registered runner "renamed"');
    const again = await s.cli(["register", "--url", s.base, "--token", user.registrationToken], {
      TRELLIS_CONFIG_DIR: join(s.dir, "third-config"),
    });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/registration refused: .+\n.*"Add runner"/);
  });

  it("says what is missing, and what it cannot reach", async () => {
    const missing = await s.cli(["register", "--url", s.base]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("missing --token: run `trellis-runner register --url <url> --token <token>");
    const closed = `http://127.0.0.1:${await freePort()}`;
    const down = await s.cli(["register", "--url", closed, "--token", "x"]);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain(`cannot reach ${closed}: ECONNREFUSED`);
    const bad = await s.cli(["register", "--url", "not a url", "--token", "x"]);
    expect(bad.stderr).toMatch(/not a URL/);
  });
});

describe("trellis-runner status", () => {
  it("shows the registration, the edge's answer and local repos, without the credential", async () => {
    const r = await s.cli(["status"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`runner   "test-runner" (${s.runnerId})`);
    expect(r.stdout).toContain(`edge     ${s.base}`);
    expect(r.stdout).toMatch(/edge says: accepted, (pending|offline|online)/);
    expect(r.stdout).toContain("repos    0");
    expect(r.stdout).not.toContain("trl_run_");
  });

  it("tells an unregistered machine to register", async () => {
    const env = { TRELLIS_CONFIG_DIR: join(s.dir, "empty-config") };
    for (const cmd of ["status", "start"]) {
      const r = await s.cli([cmd], env);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("not registered: run `trellis-runner register --url <url> --token <token>`");
    }
  });
});

describe("--help", () => {
  it("works on every command", async () => {
    for (const args of [["--help"], ["register", "--help"], ["start", "--help"], ["status", "-h"]]) {
      const r = await s.cli(args, { TRELLIS_CONFIG_DIR: join(s.dir, "empty-config") });
      expect(r.code, args.join(" ")).toBe(0);
      expect(r.stdout, args.join(" ")).toMatch(/Usage/);
    }
    const unknown = await s.cli(["frobnicate"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("run `trellis-runner --help`");
    const badFlag = await s.cli(["start", "--bogus"]);
    expect(badFlag.stderr).toContain("See `trellis-runner start --help`");
  });
});

describe("the published package", () => {
  it("installs with npx from its packed tarball, alone, and talks to the edge", () => {
    const env = {
      ...s.env,
      // The Node 22 the project ships, as a user's `node` would be (engines: >= 22).
      PATH: `${join(ROOT, "node_modules/.bin")}:${process.env.PATH}`,
      npm_config_cache: join(s.dir, "npm-cache"),
      npm_config_update_notifier: "false",
    };
    // `npm pack` runs prepack, which bundles dist/cli.js from the current source.
    const tarball = execFileSync("npm", ["pack", "--silent", "--pack-destination", s.dir], {
      cwd: join(ROOT, "runner"),
      env,
      encoding: "utf8",
    }).trim();
    const out = execFileSync("npx", ["--yes", `--package=${join(s.dir, tarball)}`, "trellis-runner", "status"], {
      cwd: s.dir,
      env,
      encoding: "utf8",
    });
    expect(out).toMatch(/edge says: accepted/);
    // npx installs the runner's dependencies from the registry: ~15 s quiet, 36 s seen on a busy machine.
  }, 120_000);
});
