import { and, desc, eq, gt, inArray, lt, ne } from "drizzle-orm";
import type { Role, Terminal, TerminalAccess, TerminalEvent, TerminalTicket } from "../../protocol/index.ts";
import { MAX_TERMINALS_PER_WORKTREE } from "../../protocol/index.ts";
import type { Db } from "../db/client.ts";
import { schema } from "../db/client.ts";
import { randomToken, sha256 } from "../lib/crypto.ts";
import { AppError, conflict, forbidden, notFound, unauthorized } from "../lib/errors.ts";
import { newId } from "../lib/ids.ts";
import { roleOn } from "./access.ts";
import type { Ctx, Deps } from "./context.ts";
import { entity, userId } from "./context.ts";
import { authenticateUser, identityKey, liveCredentials } from "./credentials.ts";
import type { RunnerRow } from "./runner-access.ts";
import { actingRunnerId, loadRunner, publishToRunnerBoards, requireRunnerOwner } from "./runner-access.ts";
import { toRunner } from "./runners.ts";
import { getUser } from "./users.ts";

/**
 * Shared terminals: who may open, watch and type in a shell on a runner's machine, the rows and
 * their audit trail. Every check lives here, used by the REST routes and by the socket's
 * authorization (in the Worker, before the RunnerLink wakes) and re-checks (in the RunnerLink)
 * alike.
 *
 * The rule, which is a trust boundary: a terminal is a shell as the runner's OS user on the
 * owner's machine. The owner may always open and type (on a board they belong to). Anyone else
 * only if the owner set the runner's `terminalAccess` to `boards`, the runner is shared with the
 * terminal's board, and they are a member there: members and owners type, viewers watch.
 */

const { terminals, terminalEvents, terminalTickets, worktrees, runners, runnerBoards, boardMembers } = schema;
type TerminalRow = typeof terminals.$inferSelect;

export const TERMINAL_TICKET_TTL_MS = 30_000;

/** What a person may do with a runner's terminals on a board: type (and watch), watch only, or nothing. */
export type TerminalRight = "type" | "watch";

export const toTerminal = (r: TerminalRow): Terminal => ({
  id: r.id,
  boardId: r.boardId,
  worktreeId: r.worktreeId,
  runnerId: r.runnerId,
  name: r.name,
  status: r.status,
  createdBy: r.createdBy,
  createdAt: r.createdAt,
  endedBy: r.endedBy,
  endedAt: r.endedAt,
  endReason: r.endReason,
});

/** The facts the rule needs, and the rule itself: pure, so the sweep and the requests share it. */
export interface AccessFacts {
  userId: string;
  /** The person's role on the terminal's board, or null when not a member. */
  role: Role | null;
  runner: Pick<RunnerRow, "ownerId" | "status" | "terminalAccess">;
  /** Is the runner shared with the terminal's board? */
  shared: boolean;
}

export function terminalRight(f: AccessFacts): TerminalRight | null {
  if (!f.role || f.runner.status === "revoked") return null;
  if (f.runner.ownerId === f.userId) return "type";
  if (f.runner.terminalAccess !== "boards" || !f.shared) return null;
  return f.role === "viewer" ? "watch" : "type";
}

/** The same rule, as the error a person is shown when it says no (or not enough). */
function refusal(f: AccessFacts, need: TerminalRight): AppError | null {
  if (!f.role) return notFound("Board");
  if (f.runner.status === "revoked") {
    return new AppError(409, "runner_revoked", "This runner was revoked: its terminals are gone with it.");
  }
  const right = terminalRight(f);
  if (right === "type" || (right === "watch" && need === "watch")) return null;
  if (right === "watch") {
    return forbidden("Viewers of this board can watch a terminal but never type in it.", "terminal_read_only");
  }
  if (f.runner.terminalAccess !== "boards") {
    return forbidden(
      "Only the runner's owner can open its terminals: a terminal is a shell on their machine, as them. The owner can let this board's members in from the Runners page.",
      "terminal_owner_only",
    );
  }
  return forbidden("This runner is not shared with this board.", "runner_not_shared");
}

async function factsFor(db: Db, uid: string, boardId: string, runner: RunnerRow): Promise<AccessFacts> {
  const [role, shared] = await Promise.all([
    roleOn(db, boardId, uid),
    db.query.runnerBoards
      .findFirst({
        where: and(eq(runnerBoards.runnerId, runner.id), eq(runnerBoards.boardId, boardId)),
        columns: { runnerId: true },
      })
      .then((r) => !!r),
  ]);
  return { userId: uid, role, runner, shared };
}

async function requireRight(ctx: Ctx, boardId: string, runner: RunnerRow, need: TerminalRight): Promise<AccessFacts> {
  const facts = await factsFor(ctx.db, userId(ctx), boardId, runner);
  const err = refusal(facts, need);
  if (err) throw err;
  return facts;
}

/** A terminal the caller may at least see: a non-member of its board gets the same 404 as for none. */
async function loadTerminal(ctx: Ctx, terminalId: string): Promise<TerminalRow> {
  const row = await ctx.db.query.terminals.findFirst({ where: eq(terminals.id, terminalId) });
  if (!row || !(await roleOn(ctx.db, row.boardId, userId(ctx)))) throw notFound("Terminal");
  return row;
}

function audit(
  db: Db,
  t: Pick<TerminalRow, "id" | "runnerId" | "boardId">,
  kind: TerminalEvent["kind"],
  uid: string | null,
  detail: string | null = null,
) {
  return db.insert(terminalEvents).values({
    id: newId(),
    terminalId: t.id,
    runnerId: t.runnerId,
    boardId: t.boardId,
    userId: uid,
    kind,
    detail,
  });
}

const publishTerminal = (ctx: Deps, op: "created" | "patched", row: TerminalRow) =>
  ctx.publish(row.boardId, entity("terminal", op, toTerminal(row)));

// ---- the board's side ----

/** The board's terminals that are not over, for its cards. Any member may list them. */
export async function listBoardTerminals(ctx: Ctx, boardId: string): Promise<Terminal[]> {
  if (!(await roleOn(ctx.db, boardId, userId(ctx)))) throw notFound("Board");
  const rows = await ctx.db.query.terminals.findMany({
    where: and(eq(terminals.boardId, boardId), ne(terminals.status, "ended")),
    orderBy: terminals.id,
    limit: 1000,
  });
  return rows.map(toTerminal);
}

/** Open a new terminal in a ready worktree. The runner makes its shell when the first viewer attaches. */
export async function createTerminal(
  ctx: Ctx,
  boardId: string,
  worktreeId: string,
  body: { name?: string | undefined },
): Promise<Terminal> {
  const uid = userId(ctx);
  const wt = await ctx.db.query.worktrees.findFirst({
    where: and(eq(worktrees.id, worktreeId), eq(worktrees.boardId, boardId)),
  });
  if (!wt) {
    if (!(await roleOn(ctx.db, boardId, uid))) throw notFound("Board");
    throw notFound("Worktree");
  }
  const runner = await loadRunner(ctx, wt.runnerId);
  await requireRight(ctx, boardId, runner, "type");
  if (wt.status !== "ready") throw conflict("A terminal opens in a ready worktree; this one is not ready.");
  if (runner.status !== "online") {
    throw conflict("The runner is offline: start it (trellis-runner start) to open a terminal.", "runner_offline");
  }
  const open = await ctx.db
    .select({ name: terminals.name })
    .from(terminals)
    .where(and(eq(terminals.worktreeId, worktreeId), ne(terminals.status, "ended")));
  if (open.length >= MAX_TERMINALS_PER_WORKTREE) {
    throw conflict(
      `This worktree has ${MAX_TERMINALS_PER_WORKTREE} open terminals already: end one first.`,
      "too_many_terminals",
    );
  }
  const taken = new Set(open.map((t) => t.name));
  let name = body.name;
  for (let n = 1; !name; n++) if (!taken.has(n === 1 ? "shell" : `shell ${n}`)) name = n === 1 ? "shell" : `shell ${n}`;
  const id = newId();
  const [[row]] = await ctx.db.batch([
    ctx.db
      .insert(terminals)
      .values({ id, boardId, worktreeId, runnerId: wt.runnerId, name, createdBy: uid })
      .returning(),
    audit(ctx.db, { id, runnerId: wt.runnerId, boardId }, "created", uid, name),
  ]);
  await publishTerminal(ctx, "created", row!);
  return toTerminal(row!);
}

/** A browser's single-use, 30-second pass onto one terminal's socket. Watching is enough. */
export async function createTerminalTicket(ctx: Ctx, terminalId: string): Promise<TerminalTicket> {
  const t = await loadTerminal(ctx, terminalId);
  if (t.status === "ended") throw conflict("This terminal has ended.", "terminal_ended");
  await requireRight(ctx, t.boardId, await loadRunner(ctx, t.runnerId), "watch");
  if (ctx.actor.kind !== "user") throw unauthorized();
  const ticket = randomToken("trl_tt_", 24);
  const now = Date.now();
  await ctx.db.batch([
    ctx.db.delete(terminalTickets).where(lt(terminalTickets.expiresAt, now)),
    ctx.db.insert(terminalTickets).values({
      ticketHash: await sha256(ticket),
      userId: ctx.actor.userId,
      credential: ctx.actor.credential,
      terminalId,
      expiresAt: now + TERMINAL_TICKET_TTL_MS,
    }),
  ]);
  return { ticket, expiresIn: TERMINAL_TICKET_TTL_MS / 1000, terminalId, runnerId: t.runnerId };
}

/** What ends a terminal for everyone, as the RunnerLink hears it. */
export type TerminalNotice =
  | { type: "ended"; terminalId: string; by: string | null; reason: string }
  /** Access may have narrowed (sharing turned off): re-check every viewer now. */
  | { type: "recheck" };

/** "End terminal": the shell is killed for everyone, and it is recorded who did it. */
export async function endTerminal(ctx: Ctx, terminalId: string): Promise<Terminal> {
  const t = await loadTerminal(ctx, terminalId);
  if (t.status === "ended") return toTerminal(t);
  await requireRight(ctx, t.boardId, await loadRunner(ctx, t.runnerId), "type");
  const uid = userId(ctx);
  const who = (await getUser(ctx.db, uid))?.name ?? "someone";
  const row = await markEnded(ctx, t, uid, `ended by ${who}`);
  if (row) await ctx.links.terminal(t.runnerId, { type: "ended", terminalId, by: who, reason: row.endReason! });
  return toTerminal(row ?? t);
}

/** A card that is being deleted takes its terminals with it (before its folder goes). */
export async function endWorktreeTerminals(ctx: Ctx, worktreeId: string, reason: string): Promise<void> {
  const rows = await ctx.db.query.terminals.findMany({
    where: and(eq(terminals.worktreeId, worktreeId), ne(terminals.status, "ended")),
  });
  const uid = ctx.actor.kind === "user" ? ctx.actor.userId : null;
  for (const t of rows) {
    const row = await markEnded(ctx, t, uid, reason);
    if (row) await ctx.links.terminal(t.runnerId, { type: "ended", terminalId: t.id, by: null, reason });
  }
}

/** One conditional UPDATE, so two ends (or an end and an exit) record once. */
async function markEnded(
  ctx: Deps,
  t: TerminalRow,
  uid: string | null,
  reason: string,
  kind: "ended" | "exited" = "ended",
) {
  const now = Date.now();
  const [[row]] = await ctx.db.batch([
    ctx.db
      .update(terminals)
      .set({ status: "ended", endedBy: uid, endedAt: now, endReason: reason })
      .where(and(eq(terminals.id, t.id), ne(terminals.status, "ended")))
      .returning(),
    audit(ctx.db, t, kind, uid, reason),
  ]);
  if (row) await publishTerminal(ctx, "patched", row);
  return row ?? null;
}

/** The owner's switch: may members of the boards this runner is shared with open its terminals? */
export async function setTerminalAccess(ctx: Ctx, runnerId: string, access: TerminalAccess) {
  await requireRunnerOwner(ctx, runnerId);
  const [row] = await ctx.db
    .update(runners)
    .set({ terminalAccess: access })
    .where(eq(runners.id, runnerId))
    .returning();
  await publishToRunnerBoards(ctx, runnerId, entity("runner", "patched", toRunner(row!, [])));
  // Narrowing takes effect on open sockets too, at once (the link's sweep would find them later).
  if (access === "owner") await ctx.links.terminal(runnerId, { type: "recheck" });
  const boards = await ctx.db
    .select({ boardId: runnerBoards.boardId })
    .from(runnerBoards)
    .where(eq(runnerBoards.runnerId, runnerId));
  return toRunner(
    row!,
    boards.map((b) => b.boardId),
  );
}

/** The owner's record of terminals on their machine: who opened, watched and ended what, newest first. */
export async function listTerminalEvents(ctx: Ctx, runnerId: string, limit = 200): Promise<TerminalEvent[]> {
  await requireRunnerOwner(ctx, runnerId);
  const rows = await ctx.db.query.terminalEvents.findMany({
    where: eq(terminalEvents.runnerId, runnerId),
    orderBy: desc(terminalEvents.id),
    limit,
  });
  return rows.map((r) => ({ ...r }));
}

// ---- the socket: authorized in the Worker before the RunnerLink wakes ----

export type TerminalPass = { ticket: string } | { bearer: string | null };

/** Who is on a terminal socket and what they may do; the RunnerLink keeps it with the socket. */
export interface TerminalViewerIdentity {
  userId: string;
  name: string;
  color: string;
  credential: string;
  canType: boolean;
  terminalId: string;
  boardId: string;
  repoId: string;
  worktree: string;
  /** The runner has not made the shell yet: the first attach may. */
  create: boolean;
}

/**
 * May this pass open this terminal's socket, on this runner's link? A ticket is spent (single
 * use, bound to the terminal), and the credential it was made with must still be in force. The
 * attach is recorded.
 */
export async function authorizeTerminalJoin(
  deps: Deps,
  runnerId: string,
  terminalId: string,
  pass: TerminalPass,
): Promise<TerminalViewerIdentity> {
  const { db } = deps;
  let uid: string;
  let credential: string;
  if ("ticket" in pass) {
    const [spent] = await db
      .delete(terminalTickets)
      .where(
        and(
          eq(terminalTickets.ticketHash, await sha256(pass.ticket)),
          eq(terminalTickets.terminalId, terminalId),
          gt(terminalTickets.expiresAt, Date.now()),
        ),
      )
      .returning({ userId: terminalTickets.userId, credential: terminalTickets.credential });
    if (!spent) throw unauthorized("Ticket is invalid, expired or already used. Ask for a new one.", "invalid_ticket");
    if (!(await liveCredentials(db, [spent])).size) {
      throw unauthorized("The sign-in this ticket was made with has ended. Sign in again.", "invalid_ticket");
    }
    ({ userId: uid, credential } = spent);
  } else {
    const actor = pass.bearer ? await authenticateUser(deps, pass.bearer) : null;
    if (actor?.kind !== "user") throw unauthorized("Send a ticket or a bearer token.");
    ({ userId: uid, credential } = actor);
  }
  const [row] = await db
    .select({ t: terminals, repoId: worktrees.repoId, worktree: worktrees.name })
    .from(terminals)
    .innerJoin(worktrees, eq(worktrees.id, terminals.worktreeId))
    .where(and(eq(terminals.id, terminalId), eq(terminals.runnerId, runnerId)));
  const runner = row && (await db.query.runners.findFirst({ where: eq(runners.id, row.t.runnerId) }));
  if (!row || !runner) throw notFound("Terminal");
  const facts = await factsFor(db, uid, row.t.boardId, runner);
  const err = refusal(facts, "watch");
  if (err) throw err.status === 404 ? notFound("Terminal") : err;
  if (row.t.status === "ended") throw conflict("This terminal has ended.", "terminal_ended");
  const user = await getUser(db, uid);
  if (!user) throw unauthorized("Unknown user.");
  const canType = terminalRight(facts) === "type";
  await audit(db, row.t, "attached", uid, canType ? "type" : "watch");
  return {
    userId: uid,
    name: user.name,
    color: user.color,
    credential,
    canType,
    terminalId,
    boardId: row.t.boardId,
    repoId: row.repoId,
    worktree: row.worktree,
    create: row.t.status === "starting",
  };
}

/** A viewer's socket closed (panel closed, tab gone): recorded like the attach. */
export async function recordDetach(
  deps: Deps,
  v: { terminalId: string; userId: string; boardId: string },
  runnerId: string,
) {
  await audit(deps.db, { id: v.terminalId, runnerId, boardId: v.boardId }, "detached", v.userId);
}

/**
 * Which of a runner's terminal sockets may stay, and with what right: the credential is still in
 * force, the terminal is not over, and the rule still gives at least what the socket has. A few
 * queries for every socket at once: the RunnerLink asks on its sweep and when told access narrowed.
 */
export async function viewersStillAllowed(
  deps: Deps,
  runnerId: string,
  viewers: { userId: string; credential: string; terminalId: string; canType: boolean }[],
): Promise<Set<string>> {
  const out = new Set<string>();
  if (!viewers.length) return out;
  const { db } = deps;
  const runner = await db.query.runners.findFirst({ where: eq(runners.id, runnerId) });
  if (!runner) return out;
  const live = await liveCredentials(db, viewers);
  const ids = [...new Set(viewers.map((v) => v.terminalId))];
  // D1 binds at most 100 parameters per query: every list goes in chunks.
  const rows: { id: string; boardId: string; status: string }[] = [];
  for (const part of chunks(ids, 90)) {
    rows.push(
      ...(await db
        .select({ id: terminals.id, boardId: terminals.boardId, status: terminals.status })
        .from(terminals)
        .where(and(inArray(terminals.id, part), eq(terminals.runnerId, runnerId)))),
    );
  }
  const byId = new Map(rows.map((r) => [r.id, r]));
  const boardIds = [...new Set(rows.map((r) => r.boardId))];
  const userIds = [...new Set(viewers.map((v) => v.userId))];
  const roles: { boardId: string; userId: string; role: Role }[] = [];
  for (const boards of chunks(boardIds, 40)) {
    for (const users of chunks(userIds, 40)) {
      roles.push(
        ...(await db
          .select({ boardId: boardMembers.boardId, userId: boardMembers.userId, role: boardMembers.role })
          .from(boardMembers)
          .where(and(inArray(boardMembers.boardId, boards), inArray(boardMembers.userId, users)))),
      );
    }
  }
  const shares = await db
    .select({ boardId: runnerBoards.boardId })
    .from(runnerBoards)
    .where(eq(runnerBoards.runnerId, runnerId));
  const role = new Map(roles.map((r) => [`${r.boardId} ${r.userId}`, r.role]));
  const shared = new Set(shares.map((s) => s.boardId));
  for (const v of viewers) {
    const t = byId.get(v.terminalId);
    if (!t || t.status === "ended" || !live.has(identityKey(v))) continue;
    const right = terminalRight({
      userId: v.userId,
      role: role.get(`${t.boardId} ${v.userId}`) ?? null,
      runner,
      shared: shared.has(t.boardId),
    });
    if (right === "type" || (right === "watch" && !v.canType)) out.add(viewerKey(v));
  }
  return out;
}

export const viewerKey = (v: { userId: string; credential: string; terminalId: string }) =>
  `${v.terminalId} ${v.userId} ${v.credential}`;

// ---- the runner's side (a runner actor: only its own terminals) ----

/** The runner made the terminal's tmux session. */
export async function terminalOpened(ctx: Ctx, terminalId: string): Promise<void> {
  const [row] = await ctx.db
    .update(terminals)
    .set({ status: "open" })
    .where(
      and(eq(terminals.id, terminalId), eq(terminals.runnerId, actingRunnerId(ctx)), eq(terminals.status, "starting")),
    )
    .returning();
  if (row) await publishTerminal(ctx, "patched", row);
}

/** The shell is over (it exited, its session is gone, or it could not start): ended for everyone. */
export async function terminalExited(ctx: Ctx, terminalId: string, reason: string): Promise<boolean> {
  const t = await ctx.db.query.terminals.findFirst({
    where: and(eq(terminals.id, terminalId), eq(terminals.runnerId, actingRunnerId(ctx))),
  });
  if (!t || t.status === "ended") return false;
  return !!(await markEnded(ctx, t, null, reason, "exited"));
}

/**
 * On every link connect the runner says which tmux sessions are alive. A terminal that ran and
 * whose session is gone (the machine restarted, someone killed it) is over; a live session that
 * is not an open terminal of this runner (ended while the runner was away) is to be killed; a
 * terminal still `starting` is made on its first attach.
 */
export async function reconcileTerminals(
  ctx: Ctx,
  alive: string[],
): Promise<{ open: { id: string; status: "starting" | "open" }[]; gone: string[]; kill: string[] }> {
  const rows = await ctx.db.query.terminals.findMany({
    where: and(eq(terminals.runnerId, actingRunnerId(ctx)), ne(terminals.status, "ended")),
  });
  const live = new Set(alive);
  const open: { id: string; status: "starting" | "open" }[] = [];
  const gone: string[] = [];
  for (const t of rows) {
    if (t.status === "open" && !live.has(t.id)) {
      if (await markEnded(ctx, t, null, "the shell is gone (it exited, or the runner's machine restarted)", "exited"))
        gone.push(t.id);
    } else open.push({ id: t.id, status: t.status as "starting" | "open" });
  }
  const known = new Set(rows.map((r) => r.id));
  return { open, gone, kill: alive.filter((id) => !known.has(id)) };
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
