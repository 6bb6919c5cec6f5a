import { randomUUID } from "node:crypto";
import { realpath } from "node:fs/promises";
import type { DecisionRecord, Message, ToolCallBlock, ToolResultBlock } from "../../../protocol/index.ts";
import { UNSANDBOXED_TOOL } from "../../../protocol/index.ts";
import { anthropicClient } from "./anthropic.ts";
import { AgentError } from "./errors.ts";
import { newId } from "./ids.ts";
import { McpTools } from "./mcp.ts";
import { openaiClient } from "./openai.ts";
import { gate } from "./permissions.ts";
import { systemPrompt } from "./prompt.ts";
import { type ModelClient, type ModelTurn, type TurnResult, textOf } from "./provider.ts";
import { backoffMs, classify, DEFAULT_RETRY, formatWait, ModelCallError, sleep } from "./retry.ts";
import { TOOLS, type Tool, type ToolContext } from "./tools/index.ts";
import { oneLine, wellFormed } from "./tools/tool.ts";
import type { PermissionAnswer, TaskInput } from "./types.ts";

const DEFAULT_MAX_TURNS = 50;
/** The protocol's cap on a tool result's text; the tools cap lower, this is the backstop. */
const RESULT_CHARS = 100_000;
const STOPPED = "Not run: stopped by the user.";

/** The card's line after a text turn: the last line that says something. */
export function lastLine(text: string): string | null {
  const line = text
    .split("\n")
    .map((l) => l.trim())
    .findLast((l) => l !== "");
  return line ? oneLine(line, 300) : null;
}

async function openClient(input: TaskInput): Promise<ModelClient> {
  const own = input.secrets?.keySource === "user" ? (input.secrets.model ?? null) : null;
  if (input.provider === "anthropic") return anthropicClient(input.env, own);
  if (input.provider === "openai") return openaiClient(input.env, input.baseUrl, own);
  throw new AgentError("provider", `unknown provider '${String(input.provider)}': use anthropic or openai`);
}

/**
 * Run one task: call the model, run the tools it asks for, feed the results back, until it ends
 * its turn without tool calls or `maxTurns` calls have been made. Everything it says and does is
 * reported through `input.sink` as it happens. Resolves with the last text the model wrote;
 * rejects with an AgentError in plain words, or with the abort reason when stopped (after the
 * partial text and the unfinished tool calls have been posted).
 */
export async function runTask(input: TaskInput): Promise<{ finalText: string }> {
  const { sink, signal } = input;
  if (signal.aborted) throw signal.reason;
  const client = await openClient(input);
  let root: string;
  try {
    root = await realpath(input.worktreePath);
  } catch {
    throw new AgentError("worktree_missing", `the worktree folder ${input.worktreePath} is missing on this runner`);
  }
  const sandbox = await input.sandbox.forTask(root, input.allowedHosts ?? []);
  const ctx: ToolContext = { root, env: input.env, userEnv: input.secrets?.env ?? {}, signal, sink, sandbox };
  try {
    // Off is the runner owner's own choice, shown on the runner's card: the transcript is not told.
    if (input.sandbox.info.state !== "off" && lastSandboxNotice(input.history) !== sandbox.notice) {
      await sink.message({
        id: newId(),
        role: "system",
        content: [{ type: "notice", kind: sandbox.confined ? "info" : "error", text: sandbox.notice }],
      });
    }
    return await withMcp(input, client, ctx, root);
  } finally {
    await sandbox.close();
  }
}

const SANDBOX_NOTICE = /^(Commands run sandboxed|No sandbox on this machine)/;

/** What the session was last told about the sandbox: it is told again only when that changes. */
export function lastSandboxNotice(history: Message[]): string | undefined {
  for (let i = history.length - 1; i >= 0; i--) {
    const m = history[i]!;
    if (m.role !== "system") continue;
    for (const b of m.content) if (b.type === "notice" && SANDBOX_NOTICE.test(b.text)) return b.text;
  }
  return undefined;
}

async function withMcp(
  input: TaskInput,
  client: ModelClient,
  ctx: ToolContext,
  root: string,
): Promise<{ finalText: string }> {
  const { sink, signal } = input;
  const mcp = await openMcp(input, root);
  try {
    for (const p of mcp.problems) {
      await sink.message({
        id: newId(),
        role: "system",
        content: [
          {
            type: "notice",
            kind: "error",
            text: oneLine(
              `MCP server "${p.server}" is not available for this task: ${p.why}. The task goes on without its tools.`,
              4000,
            ),
          },
        ],
      });
    }
    const tools: Toolbox = { list: [...TOOLS, ...mcp.tools], byName: new Map() };
    for (const t of tools.list) tools.byName.set(t.name, t);
    return await loop(input, client, ctx, tools);
  } finally {
    // A stop must end the task within 2 s; a stdio server that is slow to exit is closed meanwhile.
    if (signal.aborted) void mcp.close();
    else await mcp.close();
  }
}

/** The task's MCP servers; a stop while they start ends the wait at once (they are closed when ready). */
async function openMcp(input: TaskInput, root: string): Promise<McpTools> {
  const { mcp, signal } = input;
  if (!mcp?.servers.length && !mcp?.refused?.length) return McpTools.none;
  const opening = McpTools.open(mcp, { cwd: root, reserved: new Set(TOOLS.map((t) => t.name)) });
  let onAbort = () => {};
  const stopped = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([opening, stopped]);
  } catch (err) {
    void opening.then((m) => m.close());
    throw err;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/** The tools of one task: the built-in ones, then its MCP servers'. */
interface Toolbox {
  list: readonly Tool[];
  byName: Map<string, Tool>;
}

async function loop(
  input: TaskInput,
  client: ModelClient,
  ctx: ToolContext,
  tools: Toolbox,
): Promise<{ finalText: string }> {
  const { sink, signal } = input;
  const system = systemPrompt(tools.list);
  const turns: ModelTurn[] = [...input.history];
  const maxTurns = input.maxTurns ?? DEFAULT_MAX_TURNS;
  let finalText = "";

  for (let n = 0; n < maxTurns; n++) {
    if (signal.aborted) throw signal.reason;
    const result = await callModel(input, client, system, turns, tools.list);
    turns.push({ role: "assistant", content: result.content });
    const text = textOf(result.content);
    if (text) {
      finalText = text;
      await sink.state({ nowDoing: lastLine(text) });
    }
    const calls = result.content.filter((b): b is ToolCallBlock => b.type === "tool_call");
    if (!calls.length) return { finalText };
    const results = await runCalls(input, ctx, tools, calls, result.badInput);
    turns.push({ role: "tool", content: results });
  }
  await sink.message({
    id: newId(),
    role: "system",
    content: [
      {
        type: "notice",
        kind: "info",
        text: `Paused after ${maxTurns} model calls, the most one task makes: send another prompt to carry on.`,
      },
    ],
  });
  return { finalText };
}

/**
 * One model call, retried when the failure is the provider's or the network's. Each attempt
 * streams under its own message id; an abandoned attempt's stream is ended and never stored.
 */
async function callModel(
  input: TaskInput,
  client: ModelClient,
  system: string,
  turns: ModelTurn[],
  tools: readonly Tool[],
): Promise<TurnResult> {
  const { sink, signal } = input;
  const policy = { ...DEFAULT_RETRY, ...input.retry };
  for (let attempt = 1; ; attempt++) {
    const id = newId();
    let partial = "";
    let result: TurnResult | undefined;
    let failure: unknown;
    try {
      result = await client.turn({
        model: input.model,
        system,
        tools,
        history: turns,
        signal,
        onDelta(part, text) {
          if (part === "text") partial += text;
          sink.delta(id, part, text);
        },
      });
    } catch (err) {
      failure = err;
    }
    if (result) {
      await sink.message({
        id,
        role: "assistant",
        content: result.content,
        usage: result.usage,
        contextTokens: result.contextTokens,
      });
      sink.endStream(id);
      return result;
    }
    if (signal.aborted) {
      if (partial.trim()) {
        await sink.message({ id, role: "assistant", content: [{ type: "text", text: wellFormed(partial) }] });
      }
      sink.endStream(id);
      throw signal.reason;
    }
    sink.endStream(id);
    if (!(failure instanceof ModelCallError)) {
      const why = failure instanceof Error ? failure.message : String(failure);
      throw new AgentError("provider", `the call to ${client.label} failed: ${why}`, { cause: failure });
    }
    const verdict = classify(failure, client, input.model);
    if (!verdict.retry) throw verdict.error;
    if (attempt >= policy.attempts) {
      throw new AgentError(
        "retries_exhausted",
        `${verdict.why}, and all ${attempt} attempts failed: try again in a while`,
        { cause: failure },
      );
    }
    const wait = backoffMs(attempt, policy, verdict.askedMs);
    const words = `${verdict.why}; retrying in ${formatWait(wait)} (attempt ${attempt + 1} of ${policy.attempts})`;
    await sink.message({ id: newId(), role: "system", content: [{ type: "notice", kind: "retry", text: words }] });
    await sink.state({ nowDoing: oneLine(words) });
    await sleep(wait, signal);
  }
}

/** Run a turn's tool calls in order and post their results as one `tool` message. */
async function runCalls(
  input: TaskInput,
  ctx: ToolContext,
  tools: Toolbox,
  calls: ToolCallBlock[],
  badInput: Map<string, string> | undefined,
): Promise<ToolResultBlock[]> {
  const { signal } = input;
  const results: ToolResultBlock[] = [];
  for (const call of calls) {
    if (signal.aborted) {
      results.push({ type: "tool_result", callId: call.id, name: call.name, output: STOPPED, isError: true });
      continue;
    }
    results.push(await runCall(input, ctx, tools, call, badInput?.get(call.id)));
  }
  await input.sink.message({ id: newId(), role: "tool", content: results });
  if (signal.aborted) throw signal.reason;
  return results;
}

const byMode = (): DecisionRecord => ({ decision: "mode", byUserId: null, byName: null, at: Date.now() });

function denial(answer: PermissionAnswer): string {
  const who = answer.record.byName ? `Denied by ${answer.record.byName}` : "Denied";
  const reason = (answer.reason ?? answer.record.reason ?? "").trim();
  return reason ? `${who}: ${reason}` : `${who} (no reason given). Do not run the same call again.`;
}

/**
 * Full mode on a machine without a sandbox: a person must accept, once for the session, that
 * commands run with the runner's own access. The owner's TRELLIS_SANDBOX=off is their choice and
 * asks nothing; the other modes ask for every command anyway.
 */
function mustAcceptUnsandboxed(input: TaskInput, ctx: ToolContext): boolean {
  return (
    input.sandbox.info.state === "unavailable" && !ctx.sandbox.confined && !input.allowedTools.has(UNSANDBOXED_TOOL)
  );
}

/** Asks; null when accepted. A refusal holds for the rest of the task. */
async function acceptUnsandboxed(
  input: TaskInput,
  ctx: ToolContext,
  call: ToolCallBlock,
): Promise<{ text: string; record: DecisionRecord } | null> {
  const why = input.sandbox.info.detail ?? "no OS sandbox is available";
  const refusal = (record: DecisionRecord, reason?: string) => ({
    text:
      `${denial({ decision: "deny", record, ...(reason ? { reason } : {}) })} ` +
      `Shell commands cannot run here: this runner has no sandbox (${why}) and running without one was not accepted.`,
    record,
  });
  if (ctx.refusedUnsandboxed) return refusal(ctx.refusedUnsandboxed);
  const command = typeof call.input.command === "string" ? call.input.command : undefined;
  const answer = await input.sink.askPermission(
    {
      requestId: randomUUID(),
      callId: call.id,
      tool: UNSANDBOXED_TOOL,
      summary: wellFormed(
        oneLine(
          `run shell commands without a sandbox for the rest of this session: ${why}. They get the runner's own access to files and network.`,
          2000,
        ),
      ),
      ...(command !== undefined && command.length <= 20_000 ? { command: wellFormed(command) } : {}),
    },
    ctx.signal,
  );
  if (answer.decision === "deny") {
    ctx.refusedUnsandboxed = answer.record;
    return refusal(answer.record, answer.reason);
  }
  input.allowedTools.add(UNSANDBOXED_TOOL);
  return null;
}

/** One call: permission first, then the tool. Never throws: every failure is a result the model reads. */
async function runCall(
  input: TaskInput,
  ctx: ToolContext,
  tools: Toolbox,
  call: ToolCallBlock,
  badJson: string | undefined,
): Promise<ToolResultBlock> {
  const started = performance.now();
  const base = { type: "tool_result" as const, callId: call.id, name: call.name };
  const result = (output: string, isError: boolean, meta: ToolResultBlock["meta"] = {}): ToolResultBlock => ({
    ...base,
    output: wellFormed(
      output.length > RESULT_CHARS
        ? `${output.slice(0, RESULT_CHARS - 40)}\n[cut at ${RESULT_CHARS} characters]`
        : output,
    ),
    isError,
    meta: {
      ...meta,
      ...(meta.diff !== undefined ? { diff: wellFormed(meta.diff) } : {}),
      durationMs: Math.round(performance.now() - started),
    },
  });
  const tool = tools.byName.get(call.name);
  if (!tool) {
    return result(
      `There is no tool named ${call.name}. The tools are: ${tools.list.map((t) => t.name).join(", ")}.`,
      true,
    );
  }
  if (badJson !== undefined) {
    return result(`The arguments were not valid JSON, so ${call.name} did not run: ${oneLine(badJson, 500)}`, true);
  }
  try {
    await input.sink.state({ nowDoing: tool.nowDoing(call.input) });
    const mode = input.permissionMode();
    const approved = input.allowedTools.has(tool.name);
    const g = gate(tool.kind, mode, approved);
    let decision: DecisionRecord;
    if (g === "refuse") {
      const what =
        tool.kind === "mcp"
          ? "its MCP server does not mark it read-only, and nothing may change"
          : "no file may be written and no command run";
      return result(
        `This session is read-only: ${tool.name} is not allowed (${what}). ` +
          "Say what you would change instead; a person can switch the session's permission mode.",
        true,
        {
          decision: {
            decision: "deny",
            byUserId: null,
            byName: null,
            reason: "the session is read-only",
            at: Date.now(),
          },
        },
      );
    }
    if (g === "run" && mode === "full" && tool.kind === "shell" && mustAcceptUnsandboxed(input, ctx)) {
      const refused = await acceptUnsandboxed(input, ctx, call);
      if (refused) return result(refused.text, true, { decision: refused.record });
    }
    if (g === "ask") {
      const preview = await tool.preview!(call.input, ctx);
      const answer = await input.sink.askPermission(
        {
          requestId: randomUUID(),
          callId: call.id,
          tool: tool.name,
          summary: wellFormed(preview.summary),
          ...(preview.command !== undefined ? { command: wellFormed(preview.command) } : {}),
          ...(preview.diff !== undefined ? { diff: wellFormed(preview.diff) } : {}),
        },
        ctx.signal,
      );
      decision = answer.record;
      if (answer.decision === "deny") return result(denial(answer), true, { decision });
      if (answer.decision === "allow_always") {
        input.allowedTools.add(tool.name);
        if (answer.record.byName) input.approvers?.set(tool.name, answer.record.byName);
      }
    } else if (approved && gate(tool.kind, mode, false) === "ask") {
      decision = {
        ...byMode(),
        decision: "allow_always",
        byName: input.approvers?.get(tool.name) ?? null,
        reason: "approved earlier for the rest of the session",
      };
    } else {
      decision = byMode();
    }
    const out = await tool.run(call.input, ctx);
    return result(out.output, out.isError === true, { ...out.meta, decision });
  } catch (err) {
    if (ctx.signal.aborted) return result(STOPPED, true);
    return result(err instanceof Error ? err.message : String(err), true);
  }
}
