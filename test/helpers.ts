import { exports as workerExports } from "cloudflare:workers";
import { expect } from "vitest";
import type { AuthSession, InboxMessage, ServerMessage, Zone } from "../protocol/index.ts";
import { testEnv } from "./apply-migrations.ts";

/** The Worker's own default export, called in-process. */
const worker = (workerExports as unknown as { default: Fetcher }).default;

/** Requests go through the real Worker entry (routing, rooms, assets) exactly as in production. */
export const BASE = "http://localhost";
export const PASSWORD = "correct horse battery";

export { testEnv };

export function call(path: string, init: RequestInit & { token?: string; json?: unknown } = {}) {
  const headers = new Headers(init.headers);
  if (init.token) headers.set("authorization", `Bearer ${init.token}`);
  let body = init.body;
  if (init.json !== undefined) {
    headers.set("content-type", "application/json");
    body = JSON.stringify(init.json);
  }
  return worker.fetch(new Request(`${BASE}${path}`, { ...init, headers, body }));
}

/** Parse a JSON response; the caller names the type it expects (tests check it anyway). */
export async function json<T = Record<string, unknown>>(res: Response | Promise<Response>): Promise<T> {
  return (await res).json() as Promise<T>;
}

/**
 * Assert an API error: the status, the code when given, and always a message a person can read.
 * Returns the error body for further checks.
 */
export async function expectError(res: Response | Promise<Response>, status: number, code?: string) {
  const r = await res;
  const text = await r.text();
  expect(r.status, `${r.status} ${text}`).toBe(status);
  const body = JSON.parse(text) as { error: { code: string; message: string } };
  if (code) expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(3);
  return body.error;
}

let n = 0;
/** A unique email per call, so tests in one file never collide. */
export const uniqueEmail = (name = "user") =>
  `${name.toLowerCase().replace(/[^a-z0-9]+/g, "") || "user"}-${Date.now()}-${n++}@example.com`;

export type TestUser = Awaited<ReturnType<typeof registerUser>>;

/** A fresh registered user. Registration hashes a password (scrypt): reuse users within a file. */
export async function registerUser(name = "User") {
  const email = uniqueEmail(name);
  const res = await call("/api/auth/register", {
    method: "POST",
    json: { email, password: PASSWORD, name },
  });
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${await res.text()}`);
  const s = await res.json<AuthSession>();
  return { ...s, token: s.accessToken, id: s.user.id, email };
}

/** Several users at once, typed as a tuple so they destructure cleanly. */
export async function registerUsers<const N extends readonly string[]>(...names: N) {
  return (await Promise.all(names.map((n) => registerUser(n)))) as { -readonly [K in keyof N]: TestUser };
}

export async function createBoard(token: string, name = "Board") {
  const res = await call("/api/boards", { method: "POST", token, json: { name } });
  if (res.status !== 201) throw new Error(`create board failed: ${res.status} ${await res.text()}`);
  return res.json<{ id: string; name: string }>();
}

/** Give `email` a role on a board (invite as member/viewer, then promote if owner is asked for). */
export async function addMember(
  ownerToken: string,
  boardId: string,
  user: { email: string; id: string },
  role: string,
) {
  const res = await call(`/api/boards/${boardId}/members`, {
    method: "POST",
    token: ownerToken,
    json: { email: user.email, role: role === "owner" ? "member" : role },
  });
  if (res.status !== 201) throw new Error(`add member failed: ${res.status} ${await res.text()}`);
  if (role === "owner") {
    const p = await call(`/api/boards/${boardId}/members/${user.id}`, {
      method: "PATCH",
      token: ownerToken,
      json: { role: "owner" },
    });
    if (p.status !== 200) throw new Error(`promote failed: ${p.status} ${await p.text()}`);
  }
}

export async function createZone(token: string, boardId: string, body: Record<string, unknown> = { name: "Zone" }) {
  const res = await call(`/api/boards/${boardId}/zones`, { method: "POST", token, json: body });
  if (res.status !== 201) throw new Error(`create zone failed: ${res.status} ${await res.text()}`);
  return res.json<Zone>();
}

/** A browser's single-use pass into a board room. */
export async function ticketFor(token: string, boardId: string): Promise<string> {
  const res = await call(`/api/boards/${boardId}/ticket`, { method: "POST", token });
  if (res.status !== 201) throw new Error(`ticket failed: ${res.status} ${await res.text()}`);
  return (await res.json<{ ticket: string }>()).ticket;
}

/** Open a board-room socket the way a browser does (ticket) or a CLI does (bearer). */
export async function openRoom(boardId: string, auth: { ticket?: string; token?: string; origin?: string }) {
  const headers: Record<string, string> = { upgrade: "websocket" };
  if (auth.token) headers.authorization = `Bearer ${auth.token}`;
  if (auth.origin) headers.origin = auth.origin;
  const q = auth.ticket ? `?ticket=${encodeURIComponent(auth.ticket)}` : "";
  return worker.fetch(new Request(`${BASE}/parties/board-room/${boardId}${q}`, { headers }));
}

/** Open and accept a room socket; fails the test if the upgrade is refused. Waits for `welcome`. */
export async function joinRoom(boardId: string, auth: { ticket?: string; token?: string; origin?: string }) {
  const res = await openRoom(boardId, auth);
  const ws = res.webSocket;
  if (res.status !== 101 || !ws) throw new Error(`upgrade refused: ${res.status} ${await res.text()}`);
  ws.accept();
  const box = inbox(ws);
  const welcome = await box.next("welcome");
  const closed = new Promise<CloseEvent>((resolve) => ws.addEventListener("close", resolve));
  return {
    ws,
    inbox: box,
    welcome,
    connectionId: welcome.connectionId,
    closed,
    send: (msg: unknown) => ws.send(typeof msg === "string" ? msg : JSON.stringify(msg)),
  };
}

/** A browser's pass onto its person's inbox socket. */
export async function inboxTicketFor(token: string): Promise<string> {
  const res = await call("/api/me/inbox/ticket", { method: "POST", token });
  if (res.status !== 201) throw new Error(`inbox ticket failed: ${res.status} ${await res.text()}`);
  return (await res.json<{ ticket: string }>()).ticket;
}

/** Open someone's inbox socket the way a browser does (ticket) or a CLI does (bearer). */
export async function openInbox(userId: string, auth: { ticket?: string; token?: string; origin?: string }) {
  const headers: Record<string, string> = { upgrade: "websocket" };
  if (auth.token) headers.authorization = `Bearer ${auth.token}`;
  if (auth.origin) headers.origin = auth.origin;
  const q = auth.ticket ? `?ticket=${encodeURIComponent(auth.ticket)}` : "";
  return worker.fetch(new Request(`${BASE}/parties/user-inbox/${userId}${q}`, { headers }));
}

/** Open and accept an inbox socket; fails the test if the upgrade is refused. Waits for `hello`. */
export async function joinInbox(userId: string, auth: { ticket?: string; token?: string; origin?: string }) {
  const res = await openInbox(userId, auth);
  const ws = res.webSocket;
  if (res.status !== 101 || !ws) throw new Error(`upgrade refused: ${res.status} ${await res.text()}`);
  ws.accept();
  const box = inbox<InboxMessage>(ws);
  const closed = new Promise<CloseEvent>((resolve) => ws.addEventListener("close", resolve));
  await box.next("hello");
  return { ws, inbox: box, closed };
}

/**
 * Collects every message a socket receives, and waits for one of a type matching a predicate.
 * Board-room frames unless told (`inbox<InboxMessage>(ws)` for an inbox socket).
 */
export function inbox<M extends { type: string } = ServerMessage>(ws: WebSocket) {
  type Msg<K extends M["type"]> = Extract<M, { type: K }>;
  const messages: M[] = [];
  /** Frames that are not JSON (the platform's `pong`). */
  const raw: string[] = [];
  const waiters: Array<{ pred: (m: M) => boolean; resolve: (m: M) => void }> = [];
  const rawWaiters: Array<{ pred: (t: string) => boolean; resolve: (t: string) => void }> = [];
  ws.addEventListener("message", (e) => {
    const text = String(e.data);
    let m: M;
    try {
      m = JSON.parse(text) as M;
    } catch {
      raw.push(text);
      for (const w of rawWaiters.filter((w) => w.pred(text))) {
        rawWaiters.splice(rawWaiters.indexOf(w), 1);
        w.resolve(text);
      }
      return;
    }
    messages.push(m);
    for (const w of [...waiters]) {
      if (w.pred(m)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  return {
    messages,
    raw,
    nextRaw(pred: (t: string) => boolean, timeoutMs = 3000): Promise<string> {
      const found = raw.find(pred);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error("timed out waiting for a raw frame")), timeoutMs);
        rawWaiters.push({
          pred,
          resolve: (text) => {
            clearTimeout(t);
            resolve(text);
          },
        });
      });
    },
    /** Messages of one type received so far. */
    all<K extends M["type"]>(type: K): Msg<K>[] {
      return messages.filter((m): m is Msg<K> => m.type === type);
    },
    next<K extends M["type"]>(type: K, pred: (m: Msg<K>) => boolean = () => true, timeoutMs = 3000): Promise<Msg<K>> {
      const match = (m: M): m is Msg<K> => m.type === type && pred(m as Msg<K>);
      const found = messages.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out waiting for a "${type}" message`)), timeoutMs);
        waiters.push({
          pred: match,
          resolve: (m) => {
            clearTimeout(t);
            resolve(m as Msg<K>);
          },
        });
      });
    },
  };
}

/**
 * A session row on a fresh board of `userId`'s, written straight into D1 (with the runner, repo
 * and worktree it needs), for tests about credentials rather than about sessions.
 */
export async function insertSession(userId: string) {
  const id = () => crypto.randomUUID();
  const [runnerId, repoId, boardId, worktreeId, sessionId] = [id(), id(), id(), id(), id()];
  await testEnv.DB.batch([
    testEnv.DB.prepare("INSERT INTO runners (id, owner_id, name) VALUES (?, ?, 'seeded')").bind(runnerId, userId),
    testEnv.DB.prepare("INSERT INTO repos (id, runner_id, name, created_by) VALUES (?, ?, ?, ?)").bind(
      repoId,
      runnerId,
      `repo-${repoId}`,
      userId,
    ),
    testEnv.DB.prepare("INSERT INTO boards (id, name, owner_id) VALUES (?, 'Seeded', ?)").bind(boardId, userId),
    testEnv.DB.prepare("INSERT INTO board_members (board_id, user_id, role) VALUES (?, ?, 'owner')").bind(
      boardId,
      userId,
    ),
    testEnv.DB.prepare(
      "INSERT INTO worktrees (id, board_id, repo_id, runner_id, name, branch, status, created_by) VALUES (?, ?, ?, ?, 'wt', 'wt', 'ready', ?)",
    ).bind(worktreeId, boardId, repoId, runnerId, userId),
    testEnv.DB.prepare(
      "INSERT INTO sessions (id, board_id, worktree_id, provider, model, created_by) VALUES (?, ?, ?, 'anthropic', 'claude-sonnet-4-5', ?)",
    ).bind(sessionId, boardId, worktreeId, userId),
  ]);
  return { boardId, sessionId, worktreeId };
}
