import type { Wrapped } from "../sandbox.ts";
import { agentEnv, OUTPUT_CAP, runShell, thousands } from "../shell.ts";
import { oneLine, optInt, str, type Tool, ToolFailure, type ToolInput } from "./tool.ts";

export const SHELL_DEFAULT_MS = 120_000;
export const SHELL_MAX_MS = 600_000;
/** What a permission request can carry (protocol `PermissionRequest.command`): a person must see all of it. */
const COMMAND_CHARS = 20_000;

function commandOf(input: ToolInput): string {
  const c = str(input, "command");
  if (!c.trim()) throw new ToolFailure("command is empty");
  if (c.length > COMMAND_CHARS) {
    throw new ToolFailure(
      `command is longer than ${thousands(COMMAND_CHARS)} characters: write a script with write_file and run that`,
    );
  }
  return c;
}

export const shellTool: Tool = {
  name: "shell",
  description:
    "Run a shell command (`/bin/sh -c`) in the worktree root: build, test, git, search. stdin is empty, so nothing " +
    `interactive works. Default timeout ${SHELL_DEFAULT_MS / 1000} s, at most ${SHELL_MAX_MS / 1000} s (timeoutMs); on ` +
    "timeout the command and everything it started are killed. stdout and stderr come back together with the exit " +
    `code; output over ${thousands(OUTPUT_CAP)} characters keeps its start and end and says how much was ` +
    "cut, so pipe long output through head, tail or grep. The environment has no credentials. Where the runner " +
    "has an OS sandbox, commands may write only in the worktree and $TMPDIR, and reach only the hosts the session " +
    "allows (through the proxy set in the environment); what it refuses shows in the output. Depending on the " +
    "session's permission mode a person may have to approve the exact command; if they deny it, the result says why.",
  inputSchema: {
    type: "object",
    properties: {
      command: { type: "string", description: "The command line, e.g. npm test -- --run src/app.test.ts" },
      timeoutMs: {
        type: "integer",
        minimum: 1,
        maximum: SHELL_MAX_MS,
        description: `Milliseconds before the command is killed (default ${SHELL_DEFAULT_MS}, at most ${SHELL_MAX_MS})`,
      },
    },
    required: ["command"],
    additionalProperties: false,
  },
  kind: "shell",
  nowDoing: (input) => oneLine(`shell: ${String(input.command ?? "")}`),
  async preview(input) {
    const command = commandOf(input);
    return { summary: `run \`${oneLine(command, 200)}\``, command };
  },
  async run(input, ctx) {
    const command = commandOf(input);
    const timeoutMs = Math.min(optInt(input, "timeoutMs", 1) ?? SHELL_DEFAULT_MS, SHELL_MAX_MS);
    let wrapped: Wrapped;
    try {
      wrapped = await ctx.sandbox.wrap(command, ctx.signal);
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      throw new ToolFailure(
        `Not run: the sandbox could not start (${err instanceof Error ? err.message : String(err)}). ` +
          "Commands never run unconfined on a runner that has a sandbox.",
      );
    }
    const r = await runShell(wrapped.command, {
      cwd: ctx.root,
      env: agentEnv(ctx.env, ctx.userEnv),
      timeoutMs,
      signal: ctx.signal,
    });
    let output = wrapped.finish(r.output).replace(/\n+$/, "") || "(no output)";
    if (r.timedOut) {
      output += `\n[timed out after ${timeoutMs / 1000} s: the command and everything it started were killed]`;
    } else if (r.stopped) {
      output += "\n[stopped by the user]";
    } else if (r.exitCode === null) {
      output += `\n[killed by ${r.signal ?? "a signal"}]`;
    } else {
      output += `\n[exit code ${r.exitCode}]`;
    }
    return {
      output,
      isError: r.exitCode !== 0,
      meta: { exitCode: r.exitCode, truncated: r.truncated, durationMs: r.durationMs },
    };
  },
};
