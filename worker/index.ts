import { routePartykitRequest } from "partyserver";
import { BoardRoom, IDENTITY_HEADERS } from "../party/board-room.ts";
import { RUNNER_HEADERS, RunnerLink, TERMINAL_HEADERS } from "../party/runner-link.ts";
import { UserInbox } from "../party/user-inbox.ts";
import {
  INBOX_TICKET_PARAM,
  INBOX_VERSION_PARAM,
  ROOM_VERSION_PARAM,
  TERMINAL_ID_PARAM,
  TERMINAL_TICKET_PARAM,
  TERMINAL_VERSION_PARAM,
} from "../protocol/index.ts";
import { app } from "./app.ts";
import { depsFor } from "./context.ts";
import type { Env } from "./env.ts";
import { AppError } from "./lib/errors.ts";
import { bearer, hostProblem, originAllowed } from "./middleware.ts";
import { authorizeInboxJoin, authorizeRoomJoin } from "./services/room-join.ts";
import { authorizeTerminalJoin } from "./services/terminals.ts";
import { rotateSecrets } from "./services/user-secrets.ts";

export { BoardRoom, RunnerLink, UserInbox };

const refuse = (status: number, code: string, message: string) =>
  Response.json({ error: { code, message } }, { status });

/** A browser's socket (it brings a ticket) comes from our own origin, addressed to our own host. */
function browserSocketRefused(env: Env, request: Request): Response | null {
  const badHost = hostProblem(env, request);
  if (badHost) return refuse(421, "bad_host", badHost);
  if (!originAllowed(env, request)) return refuse(403, "bad_origin", "Cross-origin socket refused.");
  return null;
}

/**
 * Authenticate a board-room upgrade before the Durable Object wakes. Browsers bring a single-use
 * ticket (`?ticket=`) and must come from an allowed Origin; other clients send a bearer token.
 * Who may join is the service's decision (`authorizeRoomJoin`); this only carries it to the room.
 */
async function authorizeBoardRoom(request: Request, env: Env, boardId: string): Promise<Request | Response> {
  const url = new URL(request.url);
  const ticket = url.searchParams.get("ticket");
  if (ticket) {
    const refused = browserSocketRefused(env, request);
    if (refused) return refused;
  }
  try {
    const who = await authorizeRoomJoin(
      depsFor(env),
      boardId,
      ticket ? { ticket } : { bearer: bearer(request.headers.get("authorization") ?? undefined) },
    );
    const headers = new Headers(request.headers);
    headers.set(IDENTITY_HEADERS.userId, who.userId);
    headers.set(IDENTITY_HEADERS.name, encodeURIComponent(who.name));
    headers.set(IDENTITY_HEADERS.color, who.color);
    headers.set(IDENTITY_HEADERS.credential, who.credential);
    headers.delete(IDENTITY_HEADERS.version);
    const version = url.searchParams.get(ROOM_VERSION_PARAM);
    if (version) headers.set(IDENTITY_HEADERS.version, version);
    return new Request(request, { headers });
  } catch (err) {
    if (err instanceof AppError) return refuse(err.status, err.code, err.message);
    throw err;
  }
}

/**
 * Authenticate an inbox upgrade (`/parties/user-inbox/:userId`) the same way as a board socket:
 * only its person, by ticket (Origin checked) or bearer token. Who it is rides in the board room's
 * identity headers, which no client can set (anything sent under those names is dropped first).
 */
async function authorizeInbox(request: Request, env: Env, ownerId: string): Promise<Request | Response> {
  const url = new URL(request.url);
  const ticket = url.searchParams.get(INBOX_TICKET_PARAM);
  if (ticket) {
    const refused = browserSocketRefused(env, request);
    if (refused) return refused;
  }
  try {
    const who = await authorizeInboxJoin(
      depsFor(env),
      ownerId,
      ticket ? { ticket } : { bearer: bearer(request.headers.get("authorization") ?? undefined) },
    );
    const headers = new Headers(request.headers);
    for (const h of Object.values(IDENTITY_HEADERS)) headers.delete(h);
    headers.set(IDENTITY_HEADERS.userId, who.userId);
    headers.set(IDENTITY_HEADERS.credential, who.credential);
    const version = url.searchParams.get(INBOX_VERSION_PARAM);
    if (version) headers.set(IDENTITY_HEADERS.version, version);
    return new Request(request, { headers });
  } catch (err) {
    if (err instanceof AppError) return refuse(err.status, err.code, err.message);
    throw err;
  }
}

/**
 * Authenticate a terminal socket (`/parties/runner-link/:runnerId?terminal=…`) the same way, before
 * the runner's RunnerLink wakes: who may watch and who may type is `authorizeTerminalJoin`'s
 * decision, carried to the object in headers no client can set (anything sent under those names,
 * or the runner's own, is dropped first).
 */
async function authorizeTerminal(request: Request, env: Env, runnerId: string): Promise<Request | Response> {
  const url = new URL(request.url);
  const terminalId = url.searchParams.get(TERMINAL_ID_PARAM);
  if (!terminalId) return refuse(404, "not_found", "No such room.");
  const ticket = url.searchParams.get(TERMINAL_TICKET_PARAM);
  if (ticket) {
    const refused = browserSocketRefused(env, request);
    if (refused) return refused;
  }
  try {
    const who = await authorizeTerminalJoin(
      depsFor(env),
      runnerId,
      terminalId,
      ticket ? { ticket } : { bearer: bearer(request.headers.get("authorization") ?? undefined) },
    );
    const headers = new Headers(request.headers);
    for (const h of [...Object.values(RUNNER_HEADERS), ...Object.values(TERMINAL_HEADERS)]) headers.delete(h);
    headers.set(TERMINAL_HEADERS.viewer, encodeURIComponent(JSON.stringify(who)));
    const version = url.searchParams.get(TERMINAL_VERSION_PARAM);
    if (version) headers.set(TERMINAL_HEADERS.version, version);
    return new Request(request, { headers });
  } catch (err) {
    if (err instanceof AppError) return refuse(err.status, err.code, err.message);
    throw err;
  }
}

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname.startsWith("/parties/")) {
      const routed = await routePartykitRequest(request, env, {
        onBeforeConnect: (req, { className, name }) =>
          className === "BoardRoom"
            ? authorizeBoardRoom(req, env, name)
            : className === "RunnerLink"
              ? authorizeTerminal(req, env, name)
              : className === "UserInbox"
                ? authorizeInbox(req, env, name)
                : refuse(404, "not_found", "No such room."),
        // Rooms speak only WebSocket to the outside; the Worker talks to them over RPC.
        onBeforeRequest: () => refuse(404, "not_found", "No such room."),
      });
      return routed ?? refuse(404, "not_found", "No such room.");
    }
    return app.fetch(request, env, ctx);
  },
  /**
   * The cron (wrangler.toml): re-seal users' secrets still under an older ENCRYPTION_KEY version,
   * so a rotation finishes by itself after the new key is put first.
   */
  async scheduled(_controller, env) {
    const r = await rotateSecrets(depsFor(env));
    if (r.resealed || r.unreadable || r.remaining) console.log("secret rotation", JSON.stringify(r));
  },
} satisfies ExportedHandler<Env>;
