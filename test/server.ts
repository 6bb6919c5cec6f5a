/**
 * Starts a real Trellis edge (`wrangler dev`: local D1, local Durable Objects, the built board) on a
 * free loopback port with its own fresh state folder, for end-to-end tests, runner tests and
 * benchmarks. Node only.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const ROOT = new URL("..", import.meta.url).pathname;
const BIN = join(ROOT, "node_modules/.bin");

export interface Trellis {
  url: string;
  port: number;
  stateDir: string;
  stop(): Promise<void>;
  /** Kill and start the Worker again on the same port and state (a deploy or crash under clients). */
  restart(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

/** The newest modification time of any file under `dir` (skipping build output and dependencies). */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === "dist" || e.name === "node_modules") continue;
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/**
 * Build the board when it is missing or older than its sources (web/ and protocol/), so a test
 * never runs against yesterday's board. `npm test` calls this once before the lanes that need it.
 */
export function ensureWebBuilt(): void {
  const index = join(ROOT, "web/dist/index.html");
  const fresh = () =>
    existsSync(index) && statSync(index).mtimeMs >= Math.max(newest(join(ROOT, "web")), newest(join(ROOT, "protocol")));
  if (fresh() && !process.env.TRELLIS_REBUILD_WEB) return;
  // Test files run in parallel, and two builds at once empty and fill one folder together: an
  // index.html naming the other build's assets (seen as a board that never finished loading).
  // One builds; the others wait for it and find the board fresh.
  const lock = join(ROOT, "web/.dist-lock");
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now()) > 300_000) {
        rmSync(lock, { recursive: true, force: true });
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    if (fresh() && !process.env.TRELLIS_REBUILD_WEB) return;
    const r = spawnSync(join(BIN, "vite"), ["build", "--config", "web/vite.config.ts", "--logLevel", "warn"], {
      cwd: ROOT,
      stdio: "inherit",
      env: { ...process.env, PATH: `${BIN}:${process.env.PATH}` },
    });
    if (r.status !== 0) throw new Error("vite build failed");
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export async function startTrellis(opts: { singleUser?: boolean; port?: number } = {}): Promise<Trellis> {
  ensureWebBuilt();
  const stateDir = mkdtempSync(join(tmpdir(), "trellis-edge-"));
  let port = opts.port ?? (await freePort());
  // node_modules/.bin first, so wrangler runs on the Node 22 the project ships, not the machine's.
  const env = {
    ...process.env,
    PATH: `${BIN}:${process.env.PATH}`,
    WRANGLER_SEND_METRICS: "false",
    NO_COLOR: "1",
    CI: "1",
    // wrangler's local trace store fsyncs a SQLite commit per invocation (see bench/README.md); the
    // deployed edge has nothing like it, and under a parallel suite it is where stalls come from.
    X_LOCAL_OBSERVABILITY: process.env.X_LOCAL_OBSERVABILITY ?? "false",
  };
  const migrate = spawnSync(
    join(BIN, "wrangler"),
    ["d1", "migrations", "apply", "DB", "--local", "--persist-to", stateDir],
    {
      cwd: ROOT,
      env,
      encoding: "utf8",
    },
  );
  if (migrate.status !== 0) throw new Error(`migrations failed:\n${migrate.stdout}\n${migrate.stderr}`);

  const vars = {
    JWT_SECRET: randomBytes(32).toString("base64"),
    ENCRYPTION_KEY: randomBytes(32).toString("base64"),
    SINGLE_USER: opts.singleUser ? "1" : "0",
  };
  let child: ChildProcess;
  let log = "";
  const url = () => `http://127.0.0.1:${port}`;

  const launchOnce = async () => {
    log = "";
    child = spawn(
      join(BIN, "wrangler"),
      [
        "dev",
        "--port",
        String(port),
        "--ip",
        "127.0.0.1",
        "--persist-to",
        stateDir,
        "--show-interactive-dev-session=false",
        "--inspector-port",
        String(await freePort()),
        ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
      ],
      { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"], detached: true },
    );
    child.stdout?.on("data", (d) => (log += d));
    child.stderr?.on("data", (d) => (log += d));
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`wrangler dev exited:\n${log}`);
      try {
        const res = await fetch(`${url()}/api/health`);
        if (res.ok) return;
      } catch {}
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`wrangler dev did not become ready:\n${log}`);
  };

  // A free port is only free when it was asked for: between that and wrangler binding it, another
  // process in a parallel suite may take it (seen in CI as "Address already in use"). Try again, on
  // fresh ports unless the caller fixed one, and on the same one after a moment for a restart.
  const launch = async (samePort: boolean) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await launchOnce();
      } catch (e) {
        if (attempt >= 5 || !/Address already in use/.test(String(e))) throw e;
        if (samePort || opts.port) await new Promise((r) => setTimeout(r, 500 * attempt));
        else port = await freePort();
      }
    }
  };

  const kill = async () => {
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    try {
      process.kill(-child.pid!, "SIGTERM");
    } catch {}
    const t = setTimeout(() => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {}
    }, 5000);
    await exited;
    clearTimeout(t);
  };

  await launch(false);
  return {
    url: url(),
    port,
    stateDir,
    async restart() {
      await kill();
      await launch(true);
    },
    async stop() {
      await kill();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** Small REST client for tests and benches: register a user, create things, throw on errors. */
// biome-ignore lint/suspicious/noExplicitAny: test and bench convenience; callers name T where the shape matters.
export async function api<T = any>(
  base: string,
  path: string,
  init: { method?: string; token?: string; json?: unknown } = {},
): Promise<T> {
  const res = await fetch(`${base}${path}`, {
    method: init.method ?? (init.json === undefined ? "GET" : "POST"),
    headers: {
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
      ...(init.json === undefined ? {} : { "content-type": "application/json" }),
    },
    body: init.json === undefined ? undefined : JSON.stringify(init.json),
  });
  if (!res.ok) throw new Error(`${init.method ?? "GET"} ${path} → ${res.status} ${await res.text()}`);
  return (res.status === 204 ? undefined : await res.json()) as T;
}

let seq = 0;
export async function registerUser(base: string, name: string) {
  // Display names may hold spaces and any script; the address is made only of safe characters.
  const local =
    name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-|-$/g, "") || "user";
  const email = `${local}-${process.pid}-${Date.now()}-${seq++}@example.com`;
  const s = await api(base, "/api/auth/register", { json: { email, password: "correct horse battery", name } });
  return { ...s, email, password: "correct horse battery", token: s.accessToken as string };
}
