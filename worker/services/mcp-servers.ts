import { and, asc, eq, inArray } from "drizzle-orm";
import type { z } from "zod";
import type {
  CreateMcpServerBody,
  McpServer,
  McpServerRefused,
  McpServerRuntime,
  PatchMcpServerBody,
  RunnerInfo,
  SecretHint,
} from "../../protocol/index.ts";
import { MAX_SECRETS, TRELLIS_MCP_NAME } from "../../protocol/index.ts";
import { schema } from "../db/client.ts";
import { keyring, seal, unseal } from "../lib/crypto.ts";
import { badRequest, conflict, forbidden, notFound } from "../lib/errors.ts";
import { newId } from "../lib/ids.ts";
import { requireBoardRole } from "./access.ts";
import type { Ctx } from "./context.ts";
import { entity, removed, userId } from "./context.ts";

/**
 * MCP server configs on a board, and what a session's task gets of them. Secrets (env values,
 * header values) are sealed as they are saved and come back only as names and last four
 * characters; they are unsealed only into the task context of the runner holding the task's lease.
 *
 * Stdio servers run a command on a runner's machine, so one runs only where its runner's owner
 * agreed: the owner added it themselves (and nobody changed it since), or turned on "run board
 * members' stdio MCP servers" on the runner (`boardMcpStdio`), or started the runner with
 * TRELLIS_MCP_BOARD_STDIO=1 (reported as `mcpBoardStdio`: an override the switch cannot turn
 * off). Board write access alone never runs a command on someone else's machine: an edit makes
 * the server its editor's, so a member cannot change what the owner's own server runs.
 */

const { mcpServers, users, runners } = schema;
type Row = typeof mcpServers.$inferSelect;

interface ServerData {
  command?: string;
  args?: string[];
  url?: string;
  env?: SecretHint[];
  headers?: SecretHint[];
  /** `{ name: value }` of the env (stdio) or headers (http), sealed to `aadOf(id)`. */
  sealed?: string;
  /** Who last changed what it runs or reaches, or its secrets (absent until someone does). */
  editedBy?: string;
}

/** Whose server it is for a runner's consent: who changed it last, else who added it. */
const holderOf = (r: Row) => (r.data as ServerData).editedBy ?? r.createdBy;

const aadOf = (id: string) => `mcp-server:${id}`;

/** Short secrets show nothing: four characters of a six-character value say too much. */
const hint = (name: string, value: string): SecretHint => ({
  name,
  last4: value.length >= 12 ? value.slice(-4) : null,
});

function toServer(r: Row, names: Map<string, string>): McpServer {
  const d = r.data as ServerData;
  return {
    id: r.id,
    boardId: r.boardId,
    name: r.name,
    transport: r.transport,
    command: d.command ?? null,
    args: d.args ?? [],
    url: d.url ?? null,
    env: d.env ?? [],
    headers: d.headers ?? [],
    createdBy: r.createdBy,
    createdByName: names.get(r.createdBy) ?? null,
    createdAt: r.createdAt,
    editedBy: d.editedBy ?? null,
    editedByName: d.editedBy ? (names.get(d.editedBy) ?? null) : null,
  };
}

/** The people a server names: who added it and who changed it last. */
const peopleOf = (r: Row) => [r.createdBy, ...((r.data as ServerData).editedBy ? [holderOf(r)] : [])];

async function namesOf(ctx: Ctx, ids: string[]): Promise<Map<string, string>> {
  if (!ids.length) return new Map();
  const rows = await ctx.db.query.users.findMany({
    where: inArray(users.id, [...new Set(ids)]),
    columns: { id: true, name: true },
  });
  return new Map(rows.map((u) => [u.id, u.name]));
}

/** Agents may use the servers people attached, never add or remove one (that would run code people never chose). */
function peopleOnly(ctx: Ctx) {
  if (ctx.actor.kind === "user" && ctx.actor.via === "session") {
    throw forbidden(
      "An agent's session token cannot add or remove MCP servers: a person on the board does that.",
      "agents_cannot_add_servers",
    );
  }
}

export async function listMcpServers(ctx: Ctx, boardId: string): Promise<{ items: McpServer[] }> {
  await requireBoardRole(ctx, boardId, "viewer");
  const rows = await ctx.db.query.mcpServers.findMany({
    where: eq(mcpServers.boardId, boardId),
    orderBy: asc(mcpServers.name),
  });
  const names = await namesOf(ctx, rows.flatMap(peopleOf));
  return { items: rows.map((r) => toServer(r, names)) };
}

export async function addMcpServer(
  ctx: Ctx,
  boardId: string,
  body: z.infer<typeof CreateMcpServerBody>,
): Promise<McpServer> {
  peopleOnly(ctx);
  await requireBoardRole(ctx, boardId, "member");
  await checkName(ctx, boardId, body.name, null);
  const id = newId();
  const secrets = body.transport === "stdio" ? body.env : body.headers;
  const hints = Object.entries(secrets).map(([k, v]) => hint(k, v));
  const ring = await keyring(ctx.config.encryptionKey);
  const data: ServerData =
    body.transport === "stdio"
      ? { command: body.command, args: body.args, env: hints }
      : { url: body.url, headers: hints };
  data.sealed = await seal(ring, JSON.stringify(secrets), aadOf(id));
  const [row] = await ctx.db
    .insert(mcpServers)
    .values({
      id,
      boardId,
      name: body.name,
      transport: body.transport,
      data: data as Record<string, unknown>,
      createdBy: userId(ctx),
    })
    .onConflictDoNothing()
    .returning();
  if (!row) throw conflict(`This board already has an MCP server named "${body.name}".`, "mcp_server_exists");
  const server = toServer(row, await namesOf(ctx, [row.createdBy]));
  await ctx.publish(boardId, entity("mcp_server", "created", server));
  return server;
}

/** A name a server may take: not Trellis's own, and no other server's on the board. */
async function checkName(ctx: Ctx, boardId: string, name: string, serverId: string | null) {
  if (name.toLowerCase() === TRELLIS_MCP_NAME) {
    throw badRequest(
      `name: "${TRELLIS_MCP_NAME}" is Trellis's own MCP server, which every session has: pick another name.`,
    );
  }
  const taken = await ctx.db.query.mcpServers.findFirst({
    where: and(eq(mcpServers.boardId, boardId), eq(mcpServers.name, name)),
    columns: { id: true },
  });
  if (taken && taken.id !== serverId) {
    throw conflict(`This board already has an MCP server named "${name}".`, "mcp_server_exists");
  }
}

const STDIO_ONLY = ["command", "args", "env"] as const;
const HTTP_ONLY = ["url", "headers"] as const;

/**
 * Change a server in place: its id stays, so the sessions that picked it keep it and get the new
 * settings from their next task. Secrets given are sealed anew with the ones kept; a secret left
 * out keeps its saved value, and one sent as null is removed. Whoever changes what it runs or
 * reaches becomes whose server it is (`holderOf`): a member's edit to the runner owner's own
 * stdio server needs that owner's consent before it runs there again.
 */
export async function editMcpServer(
  ctx: Ctx,
  boardId: string,
  serverId: string,
  body: z.infer<typeof PatchMcpServerBody>,
): Promise<McpServer> {
  peopleOnly(ctx);
  await requireBoardRole(ctx, boardId, "member");
  const row = await ctx.db.query.mcpServers.findFirst({
    where: and(eq(mcpServers.id, serverId), eq(mcpServers.boardId, boardId)),
  });
  if (!row) throw notFound("MCP server");
  const other = row.transport === "stdio" ? HTTP_ONLY : STDIO_ONLY;
  const wrong = other.find((k) => body[k] !== undefined);
  if (wrong) {
    throw badRequest(
      `${wrong}: "${row.name}" is ${row.transport === "stdio" ? "a stdio server (command, args, env)" : "an HTTP server (url, headers)"}; to change its transport, remove it and add another.`,
    );
  }
  if (body.name !== undefined && body.name !== row.name) await checkName(ctx, boardId, body.name, row.id);

  const d = row.data as ServerData;
  const next: ServerData = { ...d };
  // What it runs, where it connects or what it sends is now the editor's; a new name alone is not.
  if ([...STDIO_ONLY, ...HTTP_ONLY].some((k) => body[k] !== undefined)) next.editedBy = userId(ctx);
  if (body.command !== undefined) next.command = body.command;
  if (body.args !== undefined) next.args = body.args;
  if (body.url !== undefined) next.url = body.url;
  const changes = row.transport === "stdio" ? body.env : body.headers;
  if (changes !== undefined) {
    const ring = await keyring(ctx.config.encryptionKey);
    let kept: Record<string, string>;
    try {
      kept = d.sealed ? (JSON.parse(await unseal(ring, d.sealed, aadOf(row.id))) as Record<string, string>) : {};
    } catch {
      throw conflict(
        "Its saved secrets cannot be opened with the Worker's ENCRYPTION_KEY (was the key replaced?): remove it and add it again.",
        "secret_unreadable",
      );
    }
    for (const [k, v] of Object.entries(changes)) {
      if (v === null) delete kept[k];
      else kept[k] = v;
    }
    const field = row.transport === "stdio" ? "env" : "headers";
    if (Object.keys(kept).length > MAX_SECRETS) throw badRequest(`${field}: at most ${MAX_SECRETS} entries`);
    next[field] = Object.entries(kept).map(([k, v]) => hint(k, v));
    next.sealed = await seal(ring, JSON.stringify(kept), aadOf(row.id));
  }
  let updated: Row | undefined;
  try {
    [updated] = await ctx.db
      .update(mcpServers)
      .set({ name: body.name ?? row.name, data: next as Record<string, unknown> })
      .where(and(eq(mcpServers.id, row.id), eq(mcpServers.boardId, boardId)))
      .returning();
  } catch (err) {
    // Two edits racing for one name: the unique index decides.
    if (/UNIQUE/i.test(String((err as Error)?.message ?? err))) {
      throw conflict(`This board already has an MCP server named "${body.name}".`, "mcp_server_exists");
    }
    throw err;
  }
  if (!updated) throw notFound("MCP server");
  const server = toServer(updated, await namesOf(ctx, peopleOf(updated)));
  await ctx.publish(boardId, entity("mcp_server", "patched", server));
  return server;
}

export async function removeMcpServer(ctx: Ctx, boardId: string, serverId: string): Promise<void> {
  peopleOnly(ctx);
  await requireBoardRole(ctx, boardId, "member");
  const [row] = await ctx.db
    .delete(mcpServers)
    .where(and(eq(mcpServers.id, serverId), eq(mcpServers.boardId, boardId)))
    .returning({ id: mcpServers.id });
  if (!row) throw notFound("MCP server");
  await ctx.publish(boardId, removed("mcp_server", serverId));
}

/** A session's pick, checked: every id is a server on this board. Returns it without repeats. */
export async function checkMcpServerIds(ctx: Ctx, boardId: string, ids: string[]): Promise<string[]> {
  const unique = [...new Set(ids)];
  if (!unique.length) return [];
  const rows = await ctx.db.query.mcpServers.findMany({
    where: and(eq(mcpServers.boardId, boardId), inArray(mcpServers.id, unique)),
    columns: { id: true },
  });
  const found = new Set(rows.map((r) => r.id));
  const missing = unique.find((id) => !found.has(id));
  if (missing) throw badRequest(`mcpServerIds: there is no MCP server ${missing} on this board.`);
  return unique;
}

/**
 * The servers a task may start on `runnerId` (its row, as the task context read it), secrets
 * unsealed, and the ones it may not, with why. Call only for the runner holding the task's lease
 * (the task context does).
 */
export async function serversForTask(
  ctx: Ctx,
  boardId: string,
  ids: string[],
  runnerId: string,
  runner: typeof runners.$inferSelect | undefined,
): Promise<{ servers: McpServerRuntime[]; refused: McpServerRefused[] }> {
  const servers: McpServerRuntime[] = [];
  const refused: McpServerRefused[] = [];
  if (!ids.length) return { servers, refused };
  const rows = await ctx.db.query.mcpServers.findMany({
    where: and(eq(mcpServers.boardId, boardId), inArray(mcpServers.id, ids)),
  });
  const byId = new Map(rows.map((r) => [r.id, r]));
  const boardStdio =
    runner?.boardMcpStdio === true || (runner?.data as Partial<RunnerInfo> | undefined)?.mcpBoardStdio === true;
  const names = await namesOf(ctx, [...rows.map(holderOf), ...(runner ? [runner.ownerId] : [])]);
  const ring = await keyring(ctx.config.encryptionKey);
  for (const id of ids) {
    const r = byId.get(id);
    if (!r) {
      refused.push({ id, name: id, reason: "it was removed from the board" });
      continue;
    }
    const d = r.data as ServerData;
    const holder = holderOf(r);
    if (r.transport === "stdio" && holder !== runner?.ownerId && !boardStdio) {
      const who = names.get(holder) ?? "another member";
      const did = d.editedBy ? "changed it last" : "added it";
      const owner = runner ? (names.get(runner.ownerId) ?? "its owner") : "its owner";
      refused.push({
        id,
        name: r.name,
        reason:
          `it runs a command on the machine of runner "${runner?.name ?? runnerId}", and ${who} ${did}, not ${owner}, who owns that runner. ` +
          `${owner} can add it themselves, or turn on "Run board members' stdio MCP servers" on that runner (or start it with TRELLIS_MCP_BOARD_STDIO=1) to run the stdio servers of the boards it is shared with`,
      });
      continue;
    }
    let secrets: Record<string, string>;
    try {
      secrets = d.sealed ? (JSON.parse(await unseal(ring, d.sealed, aadOf(id))) as Record<string, string>) : {};
    } catch {
      refused.push({
        id,
        name: r.name,
        reason: "its secrets cannot be opened with the Worker's ENCRYPTION_KEY (was the key replaced?): add it again",
      });
      continue;
    }
    servers.push(
      r.transport === "stdio"
        ? { id, name: r.name, transport: "stdio", command: d.command ?? "", args: d.args ?? [], env: secrets }
        : {
            id,
            name: r.name,
            transport: "http",
            url: d.url ?? "",
            headers: secrets,
            byRunnerOwner: holder === runner?.ownerId,
          },
    );
  }
  return { servers, refused };
}
