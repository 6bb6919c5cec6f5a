import { and, eq } from "drizzle-orm";
import { routePartykitRequest } from "partyserver";
import { BoardRoom, IDENTITY_HEADERS } from "../party/board-room.ts";
import { RunnerLink } from "../party/runner-link.ts";
import { app } from "./app.ts";
import { openDb, schema } from "./db/client.ts";
import type { Env } from "./env.ts";
import { authenticateUser, bearer, originAllowed } from "./middleware.ts";
import { redeemTicket } from "./services/tickets.ts";
import { getUser } from "./services/users.ts";

export { BoardRoom, RunnerLink };

const refuse = (status: number, code: string, message: string) =>
  Response.json({ error: { code, message } }, { status });

/**
 * Authenticate a board-room upgrade before the Durable Object wakes. Browsers bring a single-use
 * ticket (`?ticket=`) and must come from an allowed Origin; other clients send a bearer token.
 * A non-member gets 404, as over REST.
 */
async function authorizeBoardRoom(request: Request, env: Env, boardId: string): Promise<Request | Response> {
  const db = openDb(env.DB);
  const url = new URL(request.url);
  const ticket = url.searchParams.get("ticket");
  let uid: string | null = null;
  if (ticket) {
    if (!originAllowed(env, request)) return refuse(403, "bad_origin", "Cross-origin socket refused.");
    uid = await redeemTicket(db, ticket, boardId);
    if (!uid) return refuse(401, "invalid_ticket", "Ticket is invalid, expired or already used. Ask for a new one.");
  } else {
    const token = bearer(request.headers.get("authorization") ?? undefined);
    const actor = token ? await authenticateUser(env, token) : null;
    if (actor?.kind !== "user") return refuse(401, "unauthorized", "Send a ticket or a bearer token.");
    uid = actor.userId;
  }
  const member = await db.query.boardMembers.findFirst({
    where: and(eq(schema.boardMembers.boardId, boardId), eq(schema.boardMembers.userId, uid)),
    columns: { role: true },
  });
  if (!member) return refuse(404, "not_found", "Board not found.");
  const user = await getUser(db, uid);
  if (!user) return refuse(401, "unauthorized", "Unknown user.");
  const headers = new Headers(request.headers);
  headers.set(IDENTITY_HEADERS.userId, user.id);
  headers.set(IDENTITY_HEADERS.name, encodeURIComponent(user.name));
  headers.set(IDENTITY_HEADERS.color, user.color);
  return new Request(request, { headers });
}

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname.startsWith("/parties/")) {
      const routed = await routePartykitRequest(request, env, {
        onBeforeConnect: (req, { className, name }) =>
          className === "BoardRoom" ? authorizeBoardRoom(req, env, name) : refuse(404, "not_found", "No such room."),
        // Rooms speak only WebSocket to the outside; the Worker talks to them over RPC.
        onBeforeRequest: () => refuse(404, "not_found", "No such room."),
      });
      return routed ?? refuse(404, "not_found", "No such room.");
    }
    return app.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<Env>;
