#!/usr/bin/env node
import { mkdir } from "node:fs/promises";
import { parseArgs } from "node:util";
import { RUNNER_CLI, type SandboxInfo } from "../../protocol/index.ts";
import { detectSandbox, ShellSandbox, stopSandbox } from "./agent/sandbox.ts";
import { configDir, configPath, dataDir, findRegistration, type Registration, saveRegistration } from "./config.ts";
import { Edge, EdgeError, isRefused, normalizeUrl, register } from "./edge.ts";
import { runnerInfo, VERSION } from "./info.ts";
import { log } from "./log.ts";
import { Runner } from "./runner.ts";
import { LocalState } from "./state.ts";
import { localSummary } from "./status.ts";

/** What to type to run this CLI again, the way it was run now (`npm run runner --` in a clone). */
const SELF = process.env.npm_lifecycle_event === "runner" ? RUNNER_CLI : "trellis-runner";
const REGISTER_HINT = `${SELF} register --url <url> --token <token>`;

const HELP = {
  main: `trellis-runner ${VERSION}: runs Trellis jobs (git repos, worktrees, agents) on this machine.

Usage:
  trellis-runner register --url <url> --token <token> [--name <name>]
  trellis-runner start [--url <url>] [--data-dir <dir>] [--verbose]
  trellis-runner status [--url <url>] [--data-dir <dir>]

Run \`trellis-runner <command> --help\` for a command's options.
The runner only dials out: it needs to reach the Trellis URL, nothing needs to reach it.`,
  register: `Usage: trellis-runner register --url <url> --token <token> [--name <name>]

Connects this machine to a Trellis edge as a runner. Get the one-time token (valid 1 h) from
"Add runner" in the app, which shows this exact command. The runner credential is stored in
$TRELLIS_CONFIG_DIR, $XDG_CONFIG_HOME/trellis or ~/.config/trellis (file mode 0600), never printed.

Options:
  --url <url>      the Trellis URL, e.g. https://trellis.example.com
  --token <token>  the one-time registration token
  --name <name>    a name for this runner (default: the name given in the app)`,
  start: `Usage: trellis-runner start [--url <url>] [--data-dir <dir>]

Connects to Trellis and runs jobs until stopped. Ctrl-C drains: running jobs finish (or are handed
back after the grace period), then it exits. Ctrl-C twice stops running jobs at once.

Agents' shell commands run in an OS sandbox where the machine has one (Linux: apt-get install
bubblewrap socat ripgrep; macOS: built in): writes only in their worktree, this runner's folders
hidden, network only to the hosts a session allows. TRELLIS_SANDBOX=off turns it off.

Options:
  --url <url>          which registration to use (default: the last one registered)
  --data-dir <dir>     where cloned repos and worktrees live (default: $TRELLIS_DATA_DIR or ~/.trellis)
  --concurrency <n>    jobs run at once (default 4)
  --grace <seconds>    how long Ctrl-C waits for running jobs (default 30)
  --verbose            log every job's start and end (failures are always logged)`,
  status: `Usage: trellis-runner status [--url <url>] [--data-dir <dir>]

Shows this runner's registration, whether the edge accepts it, and the repos and worktrees it
holds locally.

Options:
  --url <url>        which registration to show (default: the last one registered)
  --data-dir <dir>   the data folder (default: $TRELLIS_DATA_DIR or ~/.trellis)`,
};

class UsageError extends Error {}

type Options = NonNullable<NonNullable<Parameters<typeof parseArgs>[0]>["options"]>;

function parse(argv: string[], options: Options, command: string) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: "boolean", short: "h" } }, strict: true })
      .values as Record<string, string | boolean | undefined>;
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\nSee \`trellis-runner ${command} --help\`.`);
  }
}

const str = (v: string | boolean | undefined) => (typeof v === "string" ? v : undefined);

async function registration(url: string | undefined): Promise<Registration> {
  const reg = await findRegistration(url === undefined ? undefined : normalizeUrl(url));
  if (reg) return reg;
  throw new UsageError(
    url
      ? `not registered with ${normalizeUrl(url)}: run \`${SELF} register --url ${normalizeUrl(url)} --token <token>\``
      : `not registered: run \`${REGISTER_HINT}\` (the app's "Add runner" gives the token)`,
  );
}

function unreachable(url: string, err: unknown): Error {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return new Error(`cannot reach ${url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
}

async function cmdRegister(argv: string[]): Promise<number> {
  const v = parse(argv, { url: { type: "string" }, token: { type: "string" }, name: { type: "string" } }, "register");
  if (v.help) return help("register");
  const rawUrl = str(v.url);
  const token = str(v.token);
  if (!rawUrl || !token) {
    throw new UsageError(`missing ${!rawUrl ? "--url" : "--token"}: run \`${REGISTER_HINT} [--name <name>]\``);
  }
  const url = normalizeUrl(rawUrl);
  const info = { ...(await runnerInfo()), sandbox: await detectSandbox() };
  const name = str(v.name);
  let result: Awaited<ReturnType<typeof register>>;
  try {
    result = await register(url, { token, ...(name ? { name } : {}), info });
  } catch (err) {
    if (err instanceof EdgeError) {
      throw new Error(
        `registration refused: ${err.message}\nRegistration tokens work once and expire after 1 h: get a new one with "Add runner" in the app.`,
      );
    }
    throw unreachable(url, err);
  }
  const path = await saveRegistration({
    url,
    runnerId: result.runnerId,
    name: result.name,
    credential: result.credential,
    registeredAt: Date.now(),
  });
  console.log(`registered runner "${result.name}" (${result.runnerId}) with ${url}`);
  console.log(`credential saved in ${path}`);
  console.log(`next: ${SELF} start`);
  return 0;
}

async function cmdStart(argv: string[]): Promise<number> {
  const v = parse(
    argv,
    {
      url: { type: "string" },
      "data-dir": { type: "string" },
      concurrency: { type: "string" },
      grace: { type: "string" },
      verbose: { type: "boolean" },
    },
    "start",
  );
  if (v.help) return help("start");
  const reg = await registration(str(v.url));
  const concurrency = Number(str(v.concurrency) ?? 4);
  const grace = Number(str(v.grace) ?? 30);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    throw new UsageError("--concurrency must be a whole number from 1 to 64");
  }
  if (!Number.isFinite(grace) || grace < 0) throw new UsageError("--grace must be a number of seconds");
  const dir = dataDir(str(v["data-dir"]));
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const sandboxInfo = await detectSandbox();
  log(sandboxLine(sandboxInfo));
  const runner = new Runner({
    edge: new Edge(reg.url, reg.credential),
    info: { ...(await runnerInfo()), sandbox: sandboxInfo },
    // The runner's credential and its state, clones and other worktrees are out of every command's sight.
    sandbox: new ShellSandbox(sandboxInfo, [configDir(), dir]),
    name: reg.name,
    dataDir: dir,
    state: await LocalState.open(dir),
    concurrency,
    graceMs: grace * 1000,
    verbose: v.verbose === true,
    runnerId: reg.runnerId,
    credential: reg.credential,
  });
  const stop = () => void runner.drain();
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  try {
    return await runner.start();
  } finally {
    await stopSandbox();
  }
}

function sandboxLine(s: SandboxInfo): string {
  if (s.state === "on") return `sandbox: agents' shell commands run under ${s.kind}`;
  if (s.state === "off") return `sandbox: off (${s.detail})`;
  return `sandbox: none on this machine, so agents' shell commands run unconfined (${s.detail})`;
}

async function cmdStatus(argv: string[]): Promise<number> {
  const v = parse(argv, { url: { type: "string" }, "data-dir": { type: "string" } }, "status");
  if (v.help) return help("status");
  const reg = await registration(str(v.url));
  const dir = dataDir(str(v["data-dir"]));
  console.log(`runner   "${reg.name}" (${reg.runnerId})`);
  console.log(`edge     ${reg.url}`);
  console.log(`config   ${configPath()}`);
  console.log(`data     ${dir}`);
  let ok = true;
  try {
    const me = await new Edge(reg.url, reg.credential).me();
    console.log(
      `edge says: accepted, ${me.status}${me.lastSeenAt ? `, last seen ${new Date(me.lastSeenAt).toISOString()}` : ""}`,
    );
  } catch (err) {
    ok = false;
    if (isRefused(err)) {
      console.log(`edge says: refused (${err.message}): run \`${REGISTER_HINT}\` again`);
    } else if (err instanceof EdgeError) console.log(`edge says: ${err.status} ${err.message}`);
    else console.log(unreachable(reg.url, err).message);
  }
  for (const line of await localSummary(dir)) console.log(line);
  return ok ? 0 : 1;
}

function help(command: keyof typeof HELP): number {
  console.log(HELP[command]);
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "register":
      return cmdRegister(rest);
    case "start":
      return cmdStart(rest);
    case "status":
      return cmdStatus(rest);
    case undefined:
    case "help":
    case "--help":
    case "-h":
      return help("main");
    case "--version":
    case "-v":
      console.log(VERSION);
      return 0;
    default:
      throw new UsageError(`unknown command "${command}": run \`${SELF} --help\``);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`trellis-runner: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(err instanceof UsageError ? 2 : 1);
  },
);
