import { exports as workerExports } from "cloudflare:workers";

/** The Worker's own default export, called in-process. */
const worker = (workerExports as unknown as { default: Fetcher }).default;

/** Requests go through the real Worker entry (routing, rooms, assets) exactly as in production. */
export const BASE = "http://localhost";

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

export async function json<T = any>(res: Response | Promise<Response>): Promise<T> {
  return (await res).json() as Promise<T>;
}

let n = 0;
/** A fresh registered user; emails are unique per test run. */
export async function registerUser(name = "User") {
  const email = `${name.toLowerCase()}-${Date.now()}-${n++}@example.com`;
  const res = await call("/api/auth/register", {
    method: "POST",
    json: { email, password: "correct horse battery", name },
  });
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${await res.text()}`);
  const s = await res.json<{ accessToken: string; refreshToken: string; user: { id: string; email: string } }>();
  return { ...s, token: s.accessToken, email };
}

export async function createBoard(token: string, name = "Board") {
  return json<{ id: string; name: string }>(call("/api/boards", { method: "POST", token, json: { name } }));
}

/** Open a board-room socket the way a browser does (ticket) or a CLI does (bearer). */
export async function openRoom(boardId: string, auth: { ticket?: string; token?: string; origin?: string }) {
  const headers: Record<string, string> = { upgrade: "websocket" };
  if (auth.token) headers.authorization = `Bearer ${auth.token}`;
  if (auth.origin) headers.origin = auth.origin;
  const q = auth.ticket ? `?ticket=${auth.ticket}` : "";
  const res = await worker.fetch(new Request(`${BASE}/parties/board-room/${boardId}${q}`, { headers }));
  return res;
}

/** Collects every JSON message a socket receives, and waits for one matching a predicate. */
export function inbox(ws: WebSocket) {
  const messages: any[] = [];
  const waiters: Array<{ pred: (m: any) => boolean; resolve: (m: any) => void }> = [];
  ws.addEventListener("message", (e) => {
    const m = JSON.parse(e.data as string);
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
    next(pred: (m: any) => boolean, timeoutMs = 3000): Promise<any> {
      const found = messages.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error("timed out waiting for a room message")), timeoutMs);
        waiters.push({ pred, resolve: (m) => (clearTimeout(t), resolve(m)) });
      });
    },
  };
}
