import { randomUUID } from "node:crypto";
import { mkdirSync, realpathSync } from "node:fs";
import { delimiter, join, sep } from "node:path";
import type { Codex as CodexClass, SandboxMode, ThreadItem, ThreadOptions } from "@openai/codex-sdk";
import type { NewMessage, PermissionMode, ToolResultBlock, Usage } from "../../../protocol/index.ts";
import { RUNTIME_PACKAGES, UNSANDBOXED_TOOL } from "../../../protocol/index.ts";
import { AgentError } from "../agent/errors.ts";
import { newId } from "../agent/ids.ts";
import { lastLine, lastSandboxNotice } from "../agent/loop.ts";
import { resultText } from "../agent/mcp.ts";
import { isSecretVar } from "../agent/shell.ts";
import { oneLine, wellFormed } from "../agent/tools/tool.ts";
import { fromCodex, turnUsage, usageDoubt } from "./codex-usage.ts";
import { type CodexWall, hostsOf, wallCodex } from "./codex-wall.ts";
import {
  byMode,
  childEnv,
  denial,
  mcpServersOf,
  notice,
  ownKey,
  promptOf,
  type RuntimeTask,
  refusedMcpNotices,
  worktreeRoot,
} from "./common.ts";
import { findPackage, loadSdk } from "./detect.ts";

/**
 * A session task run by Codex through `@openai/codex-sdk`'s thread API. The SDK has no approval
 * callback (its events carry no request to answer; `approvalPolicy` only picks when Codex itself
 * would stop, and nothing could answer it): a sandbox set from the session's permission mode is
 * the wall. Where the runner has one, Codex runs inside it whole (codex-wall.ts); elsewhere its
 * own sandbox applies the mode. Its thread id is kept so the next task resumes the thread.
 */

/** Codex's own sandbox, where the runner has none. ask and read-only: Codex may read but not write (it cannot ask first); auto-edit: the worktree; full: everything. */
const SANDBOX: Record<PermissionMode, SandboxMode> = {
  ask: "read-only",
  "read-only": "read-only",
  "auto-edit": "workspace-write",
  full: "danger-full-access",
};

const KEY_VAR = "TRELLIS_CODEX_API_KEY";
/** How long an MCP server has to start and list its tools, as for the built-in loop. */
const MCP_STARTUP_SEC = 30;
/** What Codex says of an MCP tool it would have to ask about first; the transcript says what a person can do. */
const MCP_NEEDS_APPROVAL = "MCP tool call requires approval, but approval policy is never";

type TomlValue = string | number | boolean | TomlValue[] | { [key: string]: TomlValue };

/** A TOML inline value, for one `--config key=value` (header names may hold dots, which a dotted path would split). */
export function toml(v: TomlValue): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return `[${v.map(toml).join(", ")}]`;
  const key = (k: string) => (/^[A-Za-z0-9_-]+$/.test(k) ? k : JSON.stringify(k));
  return `{${Object.entries(v)
    .map(([k, x]) => `${key(k)} = ${toml(x)}`)
    .join(", ")}}`;
}

/**
 * The task's MCP servers as Codex's `mcp_servers`, one `--config` each, and the variables they
 * read. Header values (the session's bearer token among them) go by environment variable: the
 * command line is visible to everyone on the machine. A stdio server's own env cannot: Codex
 * takes it only as values. `writes` runs the tools a server marks read-only and needs an approval
 * for any other, which Codex cannot ask for here (so it is refused), as the built-in loop's gate
 * would ask; only full mode lets every tool through. (Codex's own default, `auto`, would also
 * run any tool marked neither destructive nor open-world, Trellis's spawn among them.)
 */
export function mcpConfig(
  input: RuntimeTask,
  root: string,
  mode: PermissionMode,
): { overrides: string[]; env: Record<string, string> } {
  const overrides: string[] = [];
  const env: Record<string, string> = {};
  const approval = { default_tools_approval_mode: mode === "full" ? "approve" : "writes" };
  mcpServersOf(input).forEach(({ name, spec }, i) => {
    let server: Record<string, TomlValue>;
    if (spec.transport === "http") {
      const headers: Record<string, string> = {};
      Object.entries(spec.headers).forEach(([header, value], j) => {
        const v = `TRELLIS_MCP_${i}_HEADER_${j}`;
        env[v] = value;
        headers[header] = v;
      });
      server = { url: spec.url, env_http_headers: headers };
    } else {
      server = { command: spec.command, args: spec.args, env: spec.env, cwd: root };
    }
    overrides.push(`mcp_servers.${name}=${toml({ ...server, startup_timeout_sec: MCP_STARTUP_SEC, ...approval })}`);
  });
  return { overrides, env };
}

/**
 * On Linux, Codex's sandbox (read-only and workspace-write alike) runs each command through
 * bubblewrap as `codex-linux-sandbox`, a link to itself that it puts on its PATH in a folder
 * under CODEX_HOME. A release build refuses to make that folder when CODEX_HOME is under the temp
 * folder (`$TMPDIR`, else /tmp), and every sandboxed command then fails with `bwrap: execvp
 * codex-linux-sandbox`. True when that is the case here.
 */
export function sandboxHelperRefused(codexHome: string, env: Record<string, string>, platform = process.platform) {
  if (platform !== "linux") return false;
  const temp = (env.TMPDIR || "/tmp").replace(/\/+$/, "") || "/";
  let home = codexHome;
  try {
    home = realpathSync(codexHome);
  } catch {}
  return home === temp || home.startsWith(temp === "/" ? "/" : `${temp}${sep}`);
}

/**
 * Codex hands its commands its whole environment: the runner's credentials (and the variables
 * above) are kept from them as the built-in loop keeps them, the prompter's own variables not.
 */
function shellExcludes(env: Record<string, string>, input: RuntimeTask): string[] {
  const theirs = new Set(Object.keys(input.secrets?.env ?? {}));
  return Object.keys(env).filter((k) => isSecretVar(k) && !theirs.has(k) && /^\w+$/.test(k));
}

function resultOf(item: ThreadItem): ToolResultBlock | null {
  if (item.type === "command_execution") {
    return {
      type: "tool_result",
      callId: item.id,
      name: "exec_command",
      output: wellFormed(item.aggregated_output.slice(0, 100_000)),
      isError: item.status === "failed" || (item.exit_code ?? 0) !== 0,
      meta: { exitCode: item.exit_code ?? null, decision: byMode() },
    };
  }
  if (item.type === "file_change") {
    return {
      type: "tool_result",
      callId: item.id,
      name: "apply_patch",
      output: item.changes.map((c) => `${c.kind} ${c.path}`).join("\n"),
      isError: item.status === "failed",
      meta: { decision: byMode() },
    };
  }
  if (item.type === "mcp_tool_call") {
    const refused = item.error?.message === MCP_NEEDS_APPROVAL;
    return {
      type: "tool_result",
      callId: item.id,
      name: `${item.server}.${item.tool}`,
      output: refused
        ? `Codex cannot ask before running ${item.tool}, which its server does not mark read-only: ` +
          "it runs only in full mode. A person can switch the session's permission mode."
        : wellFormed(
            item.error?.message ??
              resultText({
                content: item.result?.content ?? [],
                structuredContent: item.result?.structured_content as Record<string, unknown> | undefined,
              }).slice(0, 100_000),
          ),
      isError: item.status === "failed",
      meta: { decision: byMode() },
    };
  }
  return null;
}

function callOf(item: ThreadItem): { id: string; name: string; input: Record<string, unknown> } | null {
  if (item.type === "command_execution") return { id: item.id, name: "exec_command", input: { cmd: item.command } };
  if (item.type === "file_change") return { id: item.id, name: "apply_patch", input: { changes: item.changes } };
  if (item.type === "mcp_tool_call") {
    return { id: item.id, name: `${item.server}.${item.tool}`, input: { arguments: item.arguments } };
  }
  return null;
}

export async function runCodex(input: RuntimeTask): Promise<{ finalText: string }> {
  const { sink, signal } = input;
  if (signal.aborted) throw signal.reason;
  const root = await worktreeRoot(input.worktreePath);
  const sdk = await loadSdk<{ Codex: typeof CodexClass }>("codex", input.env);

  const key = ownKey(input) ?? input.env.OPENAI_API_KEY ?? "";
  const baseUrl =
    (input.secrets?.keySource === "user" ? input.secrets.model?.baseUrl : null) ??
    input.baseUrl ??
    input.env.OPENAI_BASE_URL ??
    "https://api.openai.com/v1";
  for (const m of refusedMcpNotices(input)) await sink.message(m);
  const asked = input.permissionMode();
  const mode = (await unsandboxedAccepted(input, asked)) ? asked : "auto-edit";
  const mcp = mcpConfig(input, root, mode);
  const env = childEnv(input, { ...mcp.env, [KEY_VAR]: key });
  // Codex refuses a CODEX_HOME that does not exist. The runner's own, never a prompter's variable.
  const codexHome = input.env.CODEX_HOME ?? join(input.env.HOME ?? root, ".codex");
  mkdirSync(codexHome, { recursive: true });
  env.CODEX_HOME = codexHome;

  // (Inside the runner's sandbox Codex's own does not run: see below.)
  if (!input.sandbox.confined && mode !== "full" && sandboxHelperRefused(codexHome, env)) {
    await sink.message(
      notice(
        "error",
        `Codex's sandbox cannot run commands on this runner: its home (CODEX_HOME, ${codexHome}) is under the ` +
          "temp folder, where Codex will not put the helper its Linux sandbox needs, so every command in this " +
          "mode fails. The runner's owner can set CODEX_HOME (or HOME) to a folder outside it; full mode runs " +
          "commands without the sandbox.",
      ),
    );
  }
  if (mode === "ask") {
    await sink.message(
      notice(
        "info",
        "Codex cannot ask before each change: in ask mode it runs read-only. Switch to auto-edit to let it write in the worktree.",
      ),
    );
  }
  const allowed = input.allowedHosts ?? [];
  const modelHosts = hostsOf([baseUrl]);
  const boxNotice = input.sandbox.confined
    ? `Commands run sandboxed (${input.sandbox.info.kind}), Codex itself with them: writes only in the worktree, a ` +
      `temp folder and Codex's home, the runner's folders hidden, network only to the model (${modelHosts.join(", ")}), ` +
      `the session's MCP servers${allowed.length ? ` and ${allowed.join(", ")}` : ""}.`
    : (await input.sandbox.forRuntime(root, allowed)).notice;
  // Off is the runner owner's own choice, shown on the runner's card: the transcript is not told.
  if (input.sandbox.info.state !== "off" && lastSandboxNotice(input.history) !== boxNotice) {
    await sink.message(notice(input.sandbox.confined ? "info" : "error", boxNotice));
  }

  let wall: CodexWall | null = null;
  if (input.sandbox.confined) {
    const mcpUrls = mcpServersOf(input).flatMap(({ spec }) => (spec.transport === "http" ? [spec.url] : []));
    wall = await wallCodex({
      sandbox: input.sandbox,
      sdkEntry: findPackage(RUNTIME_PACKAGES.codex, input.env)?.entry ?? "",
      root,
      codexHome,
      hosts: [...new Set([...modelHosts, ...hostsOf(mcpUrls), ...allowed])],
      readOnly: mode === "ask" || mode === "read-only",
      signal,
    });
    env.PATH = [...wall.pathDirs, env.PATH].filter(Boolean).join(delimiter);
  }

  let finalText = "";
  const texts = new Map<string, string>();
  // Codex's item ids repeat from task to task; ours name the stream and the stored message alike.
  const ids = new Map<string, string>();
  const idOf = (item: string) => {
    const id = ids.get(item) ?? newId();
    ids.set(item, id);
    return id;
  };
  let stoppedNow: Promise<never> | null = null;
  try {
    // A custom provider: Codex's own OpenAI provider first tries a WebSocket for several seconds.
    const codex = new sdk.Codex({
      ...(wall ? { codexPathOverride: wall.path } : {}),
      env,
      configOverrides: mcp.overrides,
      config: {
        shell_environment_policy: { exclude: shellExcludes(env, input) },
        model_provider: "trellis",
        model_providers: {
          trellis: {
            name: "Trellis",
            base_url: baseUrl,
            wire_api: "responses",
            supports_websockets: false,
            env_key: KEY_VAR,
          },
        },
      },
    });
    const options: ThreadOptions = {
      model: input.model,
      workingDirectory: root,
      skipGitRepoCheck: true,
      // Inside the runner's sandbox Codex's own would only fail (see codex-wall.ts).
      sandboxMode: wall ? "danger-full-access" : SANDBOX[mode],
      approvalPolicy: "never",
      networkAccessEnabled: mode === "full" || wall !== null,
    };
    const thread = input.runtimeSessionId
      ? codex.resumeThread(input.runtimeSessionId, options)
      : codex.startThread(options);
    const { events } = await thread.runStreamed(promptOf(input), { signal });
    const iter = events[Symbol.asyncIterator]();
    stoppedNow = new Promise<never>((_, reject) => {
      if (signal.aborted) reject(signal.reason);
      signal.addEventListener("abort", () => reject(signal.reason), { once: true });
    });
    stoppedNow.catch(() => {});
    let threadId = input.runtimeSessionId;
    let toolCalls = 0;
    for (;;) {
      const next = await Promise.race([iter.next(), stoppedNow]);
      if (next.done) break;
      const e = next.value;
      if (e.type === "thread.started") {
        threadId = e.thread_id;
      } else if (e.type === "item.updated" || e.type === "item.started") {
        const item = e.item;
        if (item.type === "agent_message" && item.text) {
          // Codex sends the whole text so far; the panel gets what is new.
          const before = texts.get(item.id) ?? "";
          if (item.text.startsWith(before) && item.text.length > before.length) {
            sink.delta(idOf(item.id), "text", item.text.slice(before.length));
            texts.set(item.id, item.text);
          }
        } else if (item.type === "command_execution") {
          await sink.state({ nowDoing: oneLine(`exec_command: ${item.command}`, 300) });
        }
      } else if (e.type === "item.completed") {
        const item = e.item;
        if (item.type === "agent_message") {
          finalText = item.text;
          const id = idOf(item.id);
          await sink.message({ id, role: "assistant", content: [{ type: "text", text: wellFormed(item.text) }] });
          sink.endStream(id);
          texts.delete(item.id);
          await sink.state({ nowDoing: lastLine(item.text) });
        } else if (item.type === "reasoning") {
          if (item.text) {
            await sink.message({
              id: newId(),
              role: "assistant",
              content: [{ type: "thinking", thinking: item.text }],
            });
          }
        } else if (item.type === "error") {
          // Codex's warning about a model it has no metadata for says nothing a person can act on.
          if (!item.message.startsWith("Model metadata for")) await sink.message(notice("error", item.message));
        } else {
          const call = callOf(item);
          const result = resultOf(item);
          if (call && result) {
            toolCalls++;
            await sink.message({ id: newId(), role: "assistant", content: [{ type: "tool_call", ...call }] });
            await sink.message({ id: newId(), role: "tool", content: [result] });
          }
        }
      } else if (e.type === "turn.completed") {
        const totals = fromCodex(e.usage);
        await sink.message(usageMessage(input, totals, toolCalls));
        if (threadId) await input.onRuntimeSession(threadId, totals);
      } else if (e.type === "turn.failed") {
        throw new AgentError("provider", `Codex failed: ${oneLine(e.error.message, 500)}`);
      } else if (e.type === "error") {
        throw new AgentError("provider", `Codex failed: ${oneLine(e.message, 500)}`);
      }
    }
    if (signal.aborted) throw signal.reason;
    return { finalText };
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    if (err instanceof AgentError) throw err;
    throw new AgentError("provider", `Codex failed: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  } finally {
    for (const item of texts.keys()) sink.endStream(idOf(item));
    await wall?.close();
  }
}

/**
 * The task's last message, with its usage. A resumed thread whose totals after its last task were
 * not kept (a session from before they were) cannot tell this task's share from the rest: none
 * is counted rather than the whole thread again. Usage no task could have used is not counted
 * either, and the transcript says why.
 */
export function usageMessage(input: RuntimeTask, totals: Usage, toolCalls: number): NewMessage {
  const done = "Codex finished its turn.";
  if (input.runtimeSessionId && !input.runtimeTotals) {
    return notice(
      "info",
      `${done} Its tokens are not counted for this task: Codex reports its thread's running totals, and the ` +
        "totals after the thread's last task were not kept, so this task's share cannot be told apart. " +
        "The next tasks are counted again.",
    );
  }
  const usage = turnUsage(totals, input.runtimeSessionId ? input.runtimeTotals : null);
  const doubt = usageDoubt(usage, input.provider, input.model, toolCalls);
  if (doubt) return notice("error", `${done} ${doubt}: not counted, as it cannot be right.`);
  return { ...notice("info", done), usage };
}

/**
 * Full mode on a machine without a sandbox asks once per session, as the built-in loop and Claude
 * Code do, before Codex runs with the runner's own access. Refused, this task runs as auto-edit,
 * in Codex's own sandbox.
 */
async function unsandboxedAccepted(input: RuntimeTask, mode: PermissionMode): Promise<boolean> {
  if (mode !== "full" || input.sandbox.info.state !== "unavailable" || input.allowedTools.has(UNSANDBOXED_TOOL)) {
    return true;
  }
  const why = input.sandbox.info.detail ?? "no OS sandbox is available";
  const answer = await input.sink.askPermission(
    {
      requestId: randomUUID(),
      callId: `unsandboxed-${randomUUID()}`,
      tool: UNSANDBOXED_TOOL,
      summary: wellFormed(
        oneLine(
          `let Codex run shell commands without a sandbox for the rest of this session: ${why}. They get the runner's own access to files and network.`,
          2000,
        ),
      ),
    },
    input.signal,
  );
  if (answer.decision !== "deny") {
    input.allowedTools.add(UNSANDBOXED_TOOL);
    return true;
  }
  await input.sink.message(
    notice(
      "info",
      `${denial(answer)} This task runs as auto-edit instead: Codex's own sandbox lets commands write only in the worktree.`,
    ),
  );
  return false;
}
