import { z } from "zod";
import { HttpUrl, Id, Text } from "./common.ts";

/**
 * MCP servers attached to sessions. Board members with write access add server configs to a
 * board; a session picks which to use (`mcpServerIds`); its runner connects to them at the start
 * of every task and offers their tools to the agent as `<server>__<tool>`.
 *
 * REST (`/api/boards/:boardId/mcp-servers`, user credential; agents' session tokens may read only):
 * - `GET    mcp-servers` → `{ items: McpServer[] }`
 * - `POST   mcp-servers` `CreateMcpServerBody` → 201 `McpServer`
 * - `PATCH  mcp-servers/:serverId` `PatchMcpServerBody` → `McpServer` (same id: sessions that
 *   picked it keep it, with the new settings from their next prompt)
 * - `DELETE mcp-servers/:serverId` → 204 (sessions that picked it go on without it)
 * Viewers read; members and owners add, edit and remove. MCP: `trellis_mcp_servers_list` reads.
 *
 * Secrets: env values (stdio) and header values (HTTP) are sealed with the Worker's
 * ENCRYPTION_KEY as they are saved and never come back to a client: a config shows their names
 * and last four characters only. They are unsealed only into the `TaskContext` of the runner that
 * holds the lease of the session's task.
 *
 * Stdio servers run a command on the runner's machine. One runs only on a runner whose owner
 * added it (and was the last to edit it), or whose owner turned on "run board members' stdio MCP
 * servers" on it (`Runner.boardMcpStdio`; or started it with `TRELLIS_MCP_BOARD_STDIO=1`, which
 * overrides the switch); otherwise the task says why it did not start.
 */

/** The name the tools go by (`<name>__<tool>`): letters, digits, `_` and `-`. */
export const McpServerName = Text.trim().regex(
  /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/,
  "must be 1 to 32 letters, digits, _ or -, starting with a letter or digit",
);
/** Trellis's own `/mcp` goes by this name on every session. */
export const TRELLIS_MCP_NAME = "trellis";

const EnvName = Text.regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, "must be an environment variable name");
const HeaderName = Text.regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$/, "must be an HTTP header name");
const SecretValue = Text.max(8000);
const Secrets = (key: typeof EnvName) =>
  z
    .record(key, SecretValue)
    .refine((r) => Object.keys(r).length <= MAX_SECRETS, `at most ${MAX_SECRETS} entries`)
    .default({});

/** The program, as found on the runner's PATH or an absolute path (no shell). */
const Command = Text.trim().min(1, "must not be empty").max(1000);
const Args = z.array(Text.max(4000)).max(100);
/** At most this many env variables (stdio) or headers (HTTP) per server. */
export const MAX_SECRETS = 50;

export const CreateMcpServerBody = z.discriminatedUnion("transport", [
  z.object({
    transport: z.literal("stdio"),
    name: McpServerName,
    command: Command,
    args: Args.default([]),
    env: Secrets(EnvName),
  }),
  z.object({
    transport: z.literal("http"),
    name: McpServerName,
    /** A Streamable HTTP MCP endpoint. */
    url: HttpUrl,
    headers: Secrets(HeaderName),
  }),
]);
export type CreateMcpServerBody = z.input<typeof CreateMcpServerBody>;

/** Secrets to change: a value sets (or adds) one, null removes it; a name left out keeps its saved value. */
const SecretsPatch = (key: typeof EnvName) =>
  z
    .record(key, SecretValue.nullable())
    .refine((r) => Object.keys(r).length <= MAX_SECRETS, `at most ${MAX_SECRETS} entries`);

/**
 * An edit: only what changes. The transport stays (remove the server and add another to change
 * it): `command`, `args` and `env` are for stdio servers, `url` and `headers` for HTTP ones.
 */
export const PatchMcpServerBody = z
  .object({
    name: McpServerName,
    command: Command,
    args: Args,
    env: SecretsPatch(EnvName),
    url: HttpUrl,
    headers: SecretsPatch(HeaderName),
  })
  .partial()
  .refine((b) => Object.keys(b).length > 0, "nothing to change: send name, command, args, env, url or headers");
export type PatchMcpServerBody = z.input<typeof PatchMcpServerBody>;

/** A secret as a config shows it once saved: its name and, when it is long enough, its last four characters. */
export const SecretHint = z.object({ name: z.string(), last4: z.string().nullable() });
export type SecretHint = z.infer<typeof SecretHint>;

export const McpServer = z.object({
  id: z.string(),
  boardId: z.string(),
  name: z.string(),
  transport: z.enum(["stdio", "http"]),
  command: z.string().nullable(),
  args: z.array(z.string()),
  url: z.string().nullable(),
  /** stdio: the env variables it gets. */
  env: z.array(SecretHint),
  /** http: the headers it sends. */
  headers: z.array(SecretHint),
  createdBy: z.string(),
  createdByName: z.string().nullable(),
  createdAt: z.number(),
  /** Who last changed what it runs or reaches (or its secrets), if anyone did: whose server it now is. */
  editedBy: z.string().nullable(),
  editedByName: z.string().nullable(),
});
export type McpServer = z.infer<typeof McpServer>;

/** A server as the runner gets it for one task: everything needed to connect, secrets unsealed. */
export const McpServerRuntime = z.discriminatedUnion("transport", [
  z.object({
    id: z.string(),
    name: z.string(),
    transport: z.literal("stdio"),
    command: z.string(),
    args: z.array(z.string()),
    env: z.record(z.string(), z.string()),
  }),
  z.object({
    id: z.string(),
    name: z.string(),
    transport: z.literal("http"),
    url: z.string(),
    headers: z.record(z.string(), z.string()),
    /** The runner's owner added it (and changed it last): it may reach the runner's own machine and networks. */
    byRunnerOwner: z.boolean().default(false),
  }),
]);
export type McpServerRuntime = z.infer<typeof McpServerRuntime>;

/** A server the session picked that this task may not start, with why, for the transcript. */
export const McpServerRefused = z.object({ id: z.string(), name: z.string(), reason: z.string() });
export type McpServerRefused = z.infer<typeof McpServerRefused>;

/** A session's pick: which of the board's servers its agent gets. */
export const McpServerIds = z.array(Id).max(20, "at most 20 MCP servers per session");
