import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, sep } from "node:path";
import type {
  CanUseTool,
  McpServerConfig,
  Options,
  SandboxSettings,
  SDKMessage,
  PermissionMode as SdkPermissionMode,
  getSessionMessages as sdkGetSessionMessages,
  query as sdkQuery,
} from "@anthropic-ai/claude-agent-sdk";
import type {
  ContentBlock,
  DecisionRecord,
  NewMessage,
  PermissionMode,
  RuntimeFork,
  RuntimeRef,
  ToolResultBlock,
  Usage,
} from "../../../protocol/index.ts";
import { UNSANDBOXED_TOOL, ZERO_USAGE } from "../../../protocol/index.ts";
import { AgentError } from "../agent/errors.ts";
import { newId } from "../agent/ids.ts";
import { lastLine, lastSandboxNotice } from "../agent/loop.ts";
import { gate, type ToolKind } from "../agent/permissions.ts";
import type { RuntimeSandbox } from "../agent/sandbox.ts";
import { isSecretVar } from "../agent/shell.ts";
import { oneLine, wellFormed } from "../agent/tools/tool.ts";
import {
  byMode,
  childEnv,
  denial,
  isRoot,
  mcpServersOf,
  notice,
  ownKey,
  promptOf,
  type RuntimeTask,
  readOnlyRefusal,
  refusedMcpNotices,
  worktreeRoot,
} from "./common.ts";
import { loadSdk } from "./detect.ts";

/**
 * A session task run by Claude Code through `@anthropic-ai/claude-agent-sdk`: its stream goes to
 * the panel as ours does, its permission callback is answered by Trellis's approval flow, and its
 * session id is kept so the next task resumes the same Claude Code conversation.
 */

const READS = new Set(["Read", "Glob", "Grep", "LS", "NotebookRead", "TodoWrite", "WebSearch", "WebFetch", "Task"]);
const EDITS = new Set(["Write", "Edit", "MultiEdit", "NotebookEdit"]);

const kindOf = (tool: string): ToolKind =>
  READS.has(tool) ? "read" : EDITS.has(tool) ? "edit" : tool.startsWith("mcp__") ? "mcp" : "shell";

/**
 * The SDK's mode, whatever ours: its default, so every tool Claude Code does not count as
 * reading comes to `canUseTool`, which answers by our mode as it is at that call: read-only refuses,
 * auto-edit lets edits through, full lets everything through but an edit outside the worktree.
 * (Not the SDK's acceptEdits: it lets a shell `echo > file` run unasked; not bypassPermissions: it
 * skips the callback, so an edit outside the worktree, which no OS sandbox holds, would run unasked.)
 */
const SDK_MODE: SdkPermissionMode = "default";

const str = (v: unknown) => (typeof v === "string" ? v : "");

/** The one line a person reads in the approval card, and what exactly would run or change. */
function preview(tool: string, input: Record<string, unknown>): { summary: string; command?: string; diff?: string } {
  const path = str(input.file_path) || str(input.notebook_path) || str(input.path);
  if (tool === "Bash") return { summary: `run \`${oneLine(str(input.command), 200)}\``, command: str(input.command) };
  if (tool === "Write") return { summary: `write ${path}`, diff: `+++ ${path}\n${str(input.content)}` };
  if (tool === "Edit") {
    const minus = str(input.old_string)
      .split("\n")
      .map((l) => `-${l}`);
    const plus = str(input.new_string)
      .split("\n")
      .map((l) => `+${l}`);
    return { summary: `edit ${path}`, diff: `--- ${path}\n+++ ${path}\n${[...minus, ...plus].join("\n")}` };
  }
  if (path) return { summary: `${tool} ${path}` };
  return { summary: oneLine(`${tool} ${JSON.stringify(input)}`, 300) };
}

function resultText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .map((c) => (c && typeof c === "object" && "text" in c ? String((c as { text: unknown }).text) : ""))
      .join("");
  }
  return "";
}

function usageOf(u: {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
}): Usage {
  return {
    input: u.input_tokens ?? 0,
    output: u.output_tokens ?? 0,
    cacheRead: u.cache_read_input_tokens ?? 0,
    cacheWrite: u.cache_creation_input_tokens ?? 0,
  };
}

/**
 * Claude Code starts a stdio server with its own environment under the server's, so the keys in
 * it (the runner's, the prompter's key and variables) are blanked for the server: it gets what
 * the built-in loop gives it, its own variables and no one's credentials.
 */
function mcpServers(input: RuntimeTask, env: Record<string, string>): Record<string, McpServerConfig> {
  const own = input.secrets?.env ?? {};
  const hidden = Object.fromEntries(
    Object.keys(env)
      .filter((k) => isSecretVar(k) || k in own)
      .map((k) => [k, ""]),
  );
  const out: Record<string, McpServerConfig> = {};
  for (const { name, spec: s } of mcpServersOf(input)) {
    out[name] =
      s.transport === "http"
        ? { type: "http", url: s.url, headers: s.headers }
        : { type: "stdio", command: s.command, args: s.args, env: { ...hidden, ...s.env } };
  }
  return out;
}

/**
 * The SDK would hand `mcpServers` to Claude Code as JSON on its command line, where anyone on the
 * machine can read the session's bearer token and the servers' secrets in the process list. A
 * file only the runner's user can read, named on the command line instead, keeps them out.
 */
function mcpConfigFile(input: RuntimeTask, env: Record<string, string>): { path: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), "trellis-cc-mcp-"));
  const path = join(dir, "mcp.json");
  writeFileSync(path, JSON.stringify({ mcpServers: mcpServers(input, env) }), { mode: 0o600 });
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Claude Code's own sandbox (the same library as our shell tool's) around its Bash, with the rules
 * our shell tool gets: writes only in the worktree (and Claude Code's temp folder), the runner's
 * folders hidden, no network but the session's hosts, no credential of the runner's in the
 * environment (the prompter's own variables stay). No command may leave it (`dangerouslyDisableSandbox`
 * is ignored), a host off the list is refused outright (without `strictAllowlist` Claude Code asks
 * about it, outside Trellis's approval flow), and a sandbox that cannot start fails the task
 * instead of running bare.
 *
 * `autoAllowBashIfSandboxed` stays off: in full mode every command runs unasked already, and in
 * the other modes a person approves each command whatever the sandbox would hold.
 */
function sandboxOf(
  box: Extract<RuntimeSandbox, { confined: true }>,
  env: Record<string, string>,
  own: Record<string, string>,
): SandboxSettings {
  const secrets = Object.keys(env).filter((k) => isSecretVar(k) && !(k in own));
  return {
    enabled: true,
    failIfUnavailable: true,
    allowUnsandboxedCommands: false,
    network: { allowedDomains: box.hosts, strictAllowlist: true },
    filesystem: box.fs,
    ...(secrets.length ? { credentials: { envVars: secrets.map((name) => ({ name, mode: "deny" as const })) } } : {}),
  };
}

/** One assistant message being gathered: the SDK sends a message's blocks one at a time. */
interface Gathering {
  apiId: string;
  id: string;
  content: ContentBlock[];
  /** The SDK's last transcript entry of it. */
  ref: RuntimeRef | null;
}

const addUsage = (a: Usage, b: Usage): Usage => ({
  input: a.input + b.input,
  output: a.output + b.output,
  cacheRead: a.cacheRead + b.cacheRead,
  cacheWrite: a.cacheWrite + b.cacheWrite,
});
/** What `total` has that `counted` does not (never below nothing). */
const usageLeft = (total: Usage, counted: Usage): Usage => ({
  input: Math.max(0, total.input - counted.input),
  output: Math.max(0, total.output - counted.output),
  cacheRead: Math.max(0, total.cacheRead - counted.cacheRead),
  cacheWrite: Math.max(0, total.cacheWrite - counted.cacheWrite),
});
/** One model call's usage as it grows: each report (message start, deltas, the blocks) keeps the larger figure. */
const usageMax = (a: Usage | undefined, b: Usage): Usage =>
  a
    ? {
        input: Math.max(a.input, b.input),
        output: Math.max(a.output, b.output),
        cacheRead: Math.max(a.cacheRead, b.cacheRead),
        cacheWrite: Math.max(a.cacheWrite, b.cacheWrite),
      }
    : b;
const isZero = (u: Usage) => u.input + u.output + u.cacheRead + u.cacheWrite === 0;

interface Sdk {
  query: typeof sdkQuery;
  getSessionMessages: typeof sdkGetSessionMessages;
}

/** Does this machine hold the SDK session a fork starts from, with the entry it starts at? */
async function holdsForkPoint(sdk: Sdk, fork: RuntimeFork): Promise<boolean> {
  try {
    return (await sdk.getSessionMessages(fork.sessionId)).some((m) => m.uuid === fork.uuid);
  } catch {
    return false;
  }
}

/** Is what a file tool touches inside the worktree? (Claude Code wants absolute paths; a relative one is taken from the root.) */
function editsInside(root: string, input: Record<string, unknown>): boolean {
  const inside = (p: string) => {
    const abs = resolve(root, p.replace(/^~(?=\/|$)/, "/nonexistent-home"));
    return abs === root || abs.startsWith(`${root}${sep}`);
  };
  const target = str(input.file_path) || str(input.notebook_path) || str(input.path);
  if (target && !inside(target)) return false;
  // A glob may name its folder in the pattern itself (`/etc/**`, `../*`).
  const pattern = str(input.pattern);
  if (pattern && (pattern.startsWith("/") || pattern.startsWith("~") || pattern.split("/").includes(".."))) {
    return inside(pattern.replace(/[*?[{].*$/, "") || "/");
  }
  return true;
}

/** Claude Code's own web tools run in its process, outside the OS sandbox: the session's hosts only. */
const WEB = new Set(["WebFetch", "WebSearch"]);

function webAllowed(tool: string, input: Record<string, unknown>, hosts: readonly string[]): boolean {
  if (tool !== "WebFetch") return false;
  let host: string;
  try {
    host = new URL(str(input.url)).hostname.toLowerCase();
  } catch {
    return false;
  }
  return hosts.some((h) => {
    const name = h.replace(/:\d+$/, "");
    return name.startsWith("*.") ? host.endsWith(name.slice(1)) : host === name;
  });
}

export async function runClaudeCode(input: RuntimeTask): Promise<{ finalText: string }> {
  const { sink, signal } = input;
  if (signal.aborted) throw signal.reason;
  const root = await worktreeRoot(input.worktreePath);
  const sdk = await loadSdk<Sdk>("claude-code", input.env);
  for (const m of refusedMcpNotices(input)) await sink.message(m);

  const startMode = input.permissionMode();
  const key = ownKey(input);
  const extra: Record<string, string> = { CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1" };
  if (key) extra.ANTHROPIC_API_KEY = key;
  // Claude Code refuses to skip permissions as root unless told the machine is a sandbox.
  if (startMode === "full" && isRoot()) extra.IS_SANDBOX = "1";
  const env = childEnv(input, extra);
  // The machine's own Claude sign-in goes first (the edge sent no key): Claude Code would take
  // an API key in its environment over it.
  if (input.secrets?.keySource === "login") {
    delete env.ANTHROPIC_API_KEY;
    delete env.ANTHROPIC_AUTH_TOKEN;
  }
  if (env.HOME) mkdirSync(join(env.HOME, ".claude"), { recursive: true });

  const box = await input.sandbox.forRuntime(root, input.allowedHosts ?? []);
  // Off is the runner owner's own choice, shown on the runner's card: the transcript is not told.
  if (input.sandbox.info.state !== "off" && lastSandboxNotice(input.history) !== box.notice) {
    await sink.message(notice(box.confined ? "info" : "error", box.notice));
  }

  // Full mode on a machine without a sandbox asks once per session, as the built-in loop does
  // (when the task starts in full mode, or at its first command after a switch to it). Refused,
  // the task runs as auto-edit: each command then waits for a person.
  let unconfinedRefused = false;
  const mustAcceptUnconfined = () =>
    input.sandbox.info.state === "unavailable" && !input.allowedTools.has(UNSANDBOXED_TOOL) && !unconfinedRefused;
  const acceptUnconfined = async (): Promise<boolean> => {
    const why = input.sandbox.info.detail ?? "no OS sandbox is available";
    const answer = await sink.askPermission(
      {
        requestId: randomUUID(),
        callId: `unsandboxed-${randomUUID()}`,
        tool: UNSANDBOXED_TOOL,
        summary: wellFormed(
          oneLine(
            `let Claude Code run shell commands without a sandbox for the rest of this session: ${why}. They get the runner's own access to files and network.`,
            2000,
          ),
        ),
      },
      signal,
    );
    if (answer.decision === "deny") {
      unconfinedRefused = true;
      await sink.message(
        notice("info", `${denial(answer)} This task runs as auto-edit instead: each shell command waits for approval.`),
      );
      return false;
    }
    input.allowedTools.add(UNSANDBOXED_TOOL);
    return true;
  };
  if (startMode === "full" && mustAcceptUnconfined()) await acceptUnconfined();
  /** The mode as it now stands, less what running unconfined was refused. */
  const modeNow = (): PermissionMode => {
    const m = input.permissionMode();
    return m === "full" && unconfinedRefused ? "auto-edit" : m;
  };

  const decisions = new Map<string, DecisionRecord>();
  const canUseTool: CanUseTool = async (tool, toolInput, opts) => {
    const callId = opts.toolUseID ?? "";
    const kind = kindOf(tool);
    let mode = modeNow();
    if (mode === "full" && tool === "Bash" && mustAcceptUnconfined() && !(await acceptUnconfined())) mode = modeNow();
    let g = gate(kind, mode, input.allowedTools.has(tool));
    // Every mode is for the worktree's files, and Claude Code's own file and web tools run outside
    // the OS sandbox: reading or editing anywhere else, or fetching from a host the session does not
    // allow, waits for a person, whatever the mode or earlier approvals.
    const outside =
      ((kind === "edit" || kind === "read") && !editsInside(root, toolInput)) ||
      (WEB.has(tool) && !webAllowed(tool, toolInput, input.allowedHosts ?? []));
    if (g === "run" && outside) g = "ask";
    if (g === "run") {
      decisions.set(callId, byMode());
      return { behavior: "allow", updatedInput: toolInput };
    }
    if (g === "refuse") {
      decisions.set(callId, { ...byMode(), decision: "deny", reason: "the session is read-only" });
      return { behavior: "deny", message: readOnlyRefusal(tool) };
    }
    const p = preview(tool, toolInput);
    await sink.state({ nowDoing: oneLine(p.summary, 300) });
    const answer = await sink.askPermission(
      {
        requestId: randomUUID(),
        callId,
        tool,
        summary: wellFormed(p.summary),
        ...(p.command !== undefined ? { command: wellFormed(p.command) } : {}),
        ...(p.diff !== undefined ? { diff: wellFormed(p.diff) } : {}),
        ...(outside ? { personOnly: true } : {}),
      },
      signal,
    );
    decisions.set(callId, answer.record);
    if (answer.decision === "deny") return { behavior: "deny", message: denial(answer) };
    // Approved for the session, the tool runs unasked in the worktree; outside it, still once each.
    if (answer.decision === "allow_always") input.allowedTools.add(tool);
    return { behavior: "allow", updatedInput: toolInput };
  };

  // A fork's first task forks the parent's Claude Code session at the fork point, where this
  // machine has it; elsewhere the conversation so far is replayed, and the transcript says so.
  const fork = input.runtimeSessionId ? null : (input.runtimeFork ?? null);
  const forkHere = fork ? await holdsForkPoint(sdk, fork) : false;
  if (fork && !forkHere) {
    await sink.message(
      notice(
        "info",
        "The Claude Code session this fork comes from is not on this runner (it ran on another machine, or its files are gone): Claude Code gets the conversation so far replayed as text, tool calls and results included, in a new session.",
      ),
    );
  }
  const resume = input.runtimeSessionId
    ? { resume: input.runtimeSessionId }
    : fork && forkHere
      ? { resume: fork.sessionId, forkSession: true, resumeSessionAt: fork.uuid }
      : {};
  const prompt = promptOf(input, input.runtimeSessionId ? Number.POSITIVE_INFINITY : forkHere ? fork!.seq : 0);

  const abort = new AbortController();
  const onAbort = () => abort.abort(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  const mcpConfig = mcpConfigFile(input, env);
  const options: Options = {
    abortController: abort,
    cwd: root,
    env,
    model: input.model,
    settingSources: [],
    includePartialMessages: true,
    permissionMode: SDK_MODE,
    canUseTool,
    extraArgs: { "mcp-config": mcpConfig.path },
    ...(box.confined ? { sandbox: sandboxOf(box, env, input.secrets?.env ?? {}) } : {}),
    ...resume,
  };

  const toolNames = new Map<string, string>();
  const streamIds = new Map<string, string>();
  /** Each model call's usage so far, by its API message id. */
  const callUsage = new Map<string, Usage>();
  /** What the messages sent so far carried: the result's total less this is still to count. */
  let counted: Usage = { ...ZERO_USAGE };
  const open = new Set<string>();
  let gathering: Gathering | null = null;
  let partial: { id: string; apiId: string; text: string } | null = null;
  /** The model call streaming now (its API message id). */
  let streaming: string | null = null;
  let finalText = "";
  let sessionSaved = input.runtimeSessionId;

  /** A message's usage, counted once: the call's own, plus `more` (what the result adds). */
  const usageFields = (apiId: string, more?: Usage): Pick<NewMessage, "usage" | "contextTokens"> => {
    const own = callUsage.get(apiId);
    callUsage.delete(apiId);
    const u = own && more ? addUsage(own, more) : (own ?? more);
    if (!u || isZero(u)) return {};
    counted = addUsage(counted, u);
    return { usage: u, ...(own ? { contextTokens: own.input + own.cacheRead + own.cacheWrite } : {}) };
  };

  const flush = async (more?: Usage) => {
    const g = gathering;
    gathering = null;
    if (!g) return false;
    await sink.message({
      id: g.id,
      role: "assistant",
      content: g.content,
      ...usageFields(g.apiId, more),
      ...(g.ref ? { runtimeRef: g.ref } : {}),
    });
    sink.endStream(g.id);
    open.delete(g.id);
    if (partial?.id === g.id) partial = null;
    return true;
  };

  const onMessage = async (m: SDKMessage) => {
    if (m.type === "system" && m.subtype === "init") {
      if (m.session_id && m.session_id !== sessionSaved) {
        sessionSaved = m.session_id;
        await input.onRuntimeSession(m.session_id);
      }
      return;
    }
    // A subagent's own stream stays inside its Task call.
    if ("parent_tool_use_id" in m && m.parent_tool_use_id) return;
    if (m.type === "stream_event") {
      const e = m.event;
      if (e.type === "message_start") {
        const id = newId();
        streamIds.set(e.message.id, id);
        partial = { id, apiId: e.message.id, text: "" };
        streaming = e.message.id;
        open.add(id);
        callUsage.set(e.message.id, usageOf(e.message.usage));
      } else if (e.type === "message_delta" && streaming) {
        // The call's final output count comes here, after its blocks.
        callUsage.set(streaming, usageMax(callUsage.get(streaming), usageOf(e.usage)));
      } else if (e.type === "content_block_delta" && partial) {
        const d = e.delta;
        if (d.type === "text_delta") {
          partial.text += d.text;
          sink.delta(partial.id, "text", d.text);
        } else if (d.type === "thinking_delta") sink.delta(partial.id, "thinking", d.thinking);
        else if (d.type === "input_json_delta") sink.delta(partial.id, "tool_input", d.partial_json);
      }
      return;
    }
    if (m.type === "assistant") {
      const apiId = m.message.id;
      if (gathering && gathering.apiId !== apiId) await flush();
      if (!gathering) gathering = { apiId, id: streamIds.get(apiId) ?? newId(), content: [], ref: null };
      gathering.ref = { sessionId: m.session_id, uuid: m.uuid };
      if (m.message.usage) callUsage.set(apiId, usageMax(callUsage.get(apiId), usageOf(m.message.usage)));
      for (const b of m.message.content) {
        if (b.type === "text") {
          gathering.content.push({ type: "text", text: wellFormed(b.text) });
          finalText = b.text;
          await sink.state({ nowDoing: lastLine(b.text) });
        } else if (b.type === "thinking") {
          gathering.content.push({ type: "thinking", thinking: b.thinking, signature: b.signature });
        } else if (b.type === "tool_use") {
          const toolInput = (b.input ?? {}) as Record<string, unknown>;
          toolNames.set(b.id, b.name);
          gathering.content.push({ type: "tool_call", id: b.id, name: b.name, input: toolInput });
          await sink.state({ nowDoing: oneLine(`${b.name}: ${preview(b.name, toolInput).summary}`, 300) });
        }
      }
      return;
    }
    if (m.type === "user" && Array.isArray(m.message.content)) {
      const results: ToolResultBlock[] = [];
      for (const b of m.message.content) {
        if (b.type !== "tool_result") continue;
        const decision = decisions.get(b.tool_use_id);
        results.push({
          type: "tool_result",
          callId: b.tool_use_id,
          name: toolNames.get(b.tool_use_id) ?? "",
          output: wellFormed(resultText(b.content).slice(0, 100_000)),
          isError: b.is_error === true,
          ...(decision ? { meta: { decision } } : {}),
        });
      }
      if (!results.length) return;
      await flush();
      await sink.message({
        id: newId(),
        role: "tool",
        content: results,
        ...(m.uuid && m.session_id ? { runtimeRef: { sessionId: m.session_id, uuid: m.uuid } } : {}),
      });
      return;
    }
    if (m.type === "result") {
      // The result's total counts whatever the messages did not carry (a subagent's calls), once.
      const last = gathering ? (callUsage.get(gathering.apiId) ?? ZERO_USAGE) : ZERO_USAGE;
      const rest = usageLeft(usageOf(m.usage), addUsage(counted, last));
      if (!(await flush(rest)) && !isZero(rest)) {
        counted = addUsage(counted, rest);
        await sink.message({ ...notice("info", "Claude Code finished."), usage: rest });
      }
      if (m.subtype === "success" && !m.is_error) {
        finalText = m.result || finalText;
        return;
      }
      const why = "errors" in m && m.errors.length ? m.errors.join("; ") : m.subtype;
      throw new AgentError("provider", `Claude Code failed: ${oneLine(why, 500)}`);
    }
  };

  const q = sdk.query({ prompt, options });
  try {
    const messages = q[Symbol.asyncIterator]();
    // A stop does not wait for Claude Code's process to wind down (the abort kills it meanwhile).
    const stopped = new Promise<never>((_, reject) => {
      if (signal.aborted) reject(signal.reason);
      signal.addEventListener("abort", () => reject(signal.reason), { once: true });
    });
    stopped.catch(() => {});
    for (;;) {
      const next = await Promise.race([messages.next(), stopped]);
      if (next.done) break;
      await onMessage(next.value);
    }
    if (signal.aborted) throw signal.reason;
    return { finalText };
  } catch (err) {
    if (!signal.aborted) {
      if (err instanceof AgentError) throw err;
      throw new AgentError("provider", `Claude Code failed: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
      });
    }
    // Stopped: what was said so far is kept, with the tokens its call had used; the stream of
    // the unfinished message ends.
    const cut = partial as { id: string; apiId: string; text: string } | null;
    if (!(await flush().catch(() => false)) && cut?.text.trim()) {
      await sink
        .message({
          id: cut.id,
          role: "assistant",
          content: [{ type: "text", text: wellFormed(cut.text) }],
          ...usageFields(cut.apiId),
        })
        .catch(() => {});
    }
    throw signal.reason;
  } finally {
    signal.removeEventListener("abort", onAbort);
    mcpConfig.remove();
    for (const id of open) sink.endStream(id);
  }
}
