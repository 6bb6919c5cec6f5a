import type { DecisionRecord, ToolResultBlock } from "../../../../protocol/index.ts";
import type { ToolKind } from "../permissions.ts";
import type { TaskSandbox } from "../sandbox.ts";
import type { AgentSink } from "../types.ts";

export type ToolInput = Record<string, unknown>;

export interface ToolContext {
  /** The worktree's real path: every path a tool touches is confined to it. */
  root: string;
  /** The runner's environment (the shell scrubs it). */
  env: Record<string, string | undefined>;
  /** The prompter's own environment variables, added after the scrub (they are theirs to give). */
  userEnv?: Record<string, string>;
  signal: AbortSignal;
  sink: AgentSink;
  /** Where the shell tool's commands run: confined by the OS sandbox, or not where there is none. */
  sandbox: TaskSandbox;
  /** A person refused to run commands without a sandbox: the rest of the task is not asked again. */
  refusedUnsandboxed?: DecisionRecord;
}

export type ToolMeta = NonNullable<ToolResultBlock["meta"]>;

export interface ToolOutcome {
  output: string;
  isError?: boolean;
  meta?: ToolMeta;
}

/** What a person is asked to approve: exactly what would happen. */
export interface ToolPreview {
  summary: string;
  command?: string;
  diff?: string;
}

export interface Tool {
  name: string;
  description: string;
  /** JSON Schema of the input, as both providers take it. */
  inputSchema: {
    type: "object";
    properties: Record<string, unknown>;
    required?: string[];
    additionalProperties?: boolean;
  };
  kind: ToolKind;
  /** The card's one line while it runs: "shell: npm test", "edit src/app.ts". */
  nowDoing(input: ToolInput): string;
  /** Work out what would change, without changing it (edits and shell only). Throws ToolFailure. */
  preview?(input: ToolInput, ctx: ToolContext): Promise<ToolPreview>;
  run(input: ToolInput, ctx: ToolContext): Promise<ToolOutcome>;
}

/** A tool call that cannot be done as asked: the message goes back to the model as an error result. */
export class ToolFailure extends Error {
  override name = "ToolFailure";
}

export function str(input: ToolInput, key: string): string {
  const v = input[key];
  if (typeof v !== "string") throw new ToolFailure(`\`${key}\` is required and must be a string`);
  return v;
}

export function optStr(input: ToolInput, key: string): string | undefined {
  const v = input[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new ToolFailure(`\`${key}\` must be a string`);
  return v;
}

export function optInt(input: ToolInput, key: string, min: number): number | undefined {
  let v = input[key];
  if (v === undefined || v === null) return undefined;
  // Some models send numbers as strings; the intent is clear enough to accept.
  if (typeof v === "string" && /^\s*-?\d+\s*$/.test(v)) v = Number(v);
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
    throw new ToolFailure(`\`${key}\` must be a whole number of at least ${min}`);
  }
  return v;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * Text with any half of a surrogate pair replaced by U+FFFD. Cutting output to a size can split an
 * emoji in two, and the edge refuses a message holding a lone surrogate (protocol `Text`): one cut
 * emoji would lose the whole tool message.
 */
export function wellFormed(s: string): string {
  return s.replace(LONE_SURROGATE, "\uFFFD");
}

/** One line, at most `max` characters: for the card and for summaries. */
export function oneLine(s: string, max = 300): string {
  const line = s.replace(/\s+/g, " ").trim();
  return wellFormed(line.length > max ? `${line.slice(0, max - 1)}…` : line);
}
