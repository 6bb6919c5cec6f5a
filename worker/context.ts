import { getBoardRoom, getRunnerLink, getUserInbox } from "../party/stubs.ts";
import { type EntityEvent, INBOX_PROTOCOL, type InboxMessage, ROOM_PROTOCOL } from "../protocol/index.ts";
import { openDb } from "./db/client.ts";
import type { Env } from "./env.ts";
import type { Actor, Ctx, Deps } from "./services/context.ts";

/**
 * The one context factory: every entry point (REST, the runner API, the Durable Objects, tests)
 * builds its service context here, and this is the only place services' ports meet the bindings.
 * Every port is best effort: the change is in D1 already, and clients re-read on reconnect.
 */
export function depsFor(env: Env, actorId: string | null = null): Deps {
  const attempt = async (what: string, id: string, call: () => Promise<unknown>) => {
    try {
      await call();
    } catch (err) {
      console.error(`${what} failed`, id, err);
    }
  };
  return {
    db: openDb(env.DB),
    config: { singleUser: env.SINGLE_USER === "1", jwtSecret: env.JWT_SECRET, encryptionKey: env.ENCRYPTION_KEY },
    publish: (boardId, change) =>
      attempt("publish to board room", boardId, () =>
        getBoardRoom(env, boardId).publish({
          type: "entity",
          v: ROOM_PROTOCOL,
          at: Date.now(),
          actorId,
          ...change,
        } as EntityEvent),
      ),
    rooms: {
      endSockets: (boardId, match) =>
        attempt("ending sockets", boardId, () => getBoardRoom(env, boardId).endSockets(match)),
      stream: (boardId, pieces) =>
        attempt("stream to board room", boardId, () => getBoardRoom(env, boardId).stream(pieces)),
      notify: (boardId, userId, notice) =>
        attempt("notice to board room", boardId, () => getBoardRoom(env, boardId).notify(userId, notice)),
    },
    inboxes: {
      send: (userId, frame) =>
        attempt("send to inbox", userId, () =>
          getUserInbox(env, userId).send({ ...frame, v: INBOX_PROTOCOL } as InboxMessage),
        ),
      endSockets: (match) =>
        attempt("ending inbox sockets", match.userId, () => getUserInbox(env, match.userId).endSockets(match)),
    },
    links: {
      wake: (runnerId) => attempt("runner link wake", runnerId, () => getRunnerLink(env, runnerId).wake()),
      cancel: (runnerId, jobId) =>
        attempt("runner link cancel", runnerId, () => getRunnerLink(env, runnerId).cancel(jobId)),
      watchLease: (runnerId, expiresAt) =>
        attempt("runner link watchLease", runnerId, () => getRunnerLink(env, runnerId).watchLease(expiresAt)),
      hangUp: (runnerId, code, reason) =>
        attempt("runner link hang-up", runnerId, () => getRunnerLink(env, runnerId).hangUp(code, reason)),
      send: (runnerId, msg) => attempt("runner link send", runnerId, () => getRunnerLink(env, runnerId).send(msg)),
      terminal: (runnerId, notice) =>
        attempt("runner link terminal", runnerId, () => getRunnerLink(env, runnerId).terminal(notice)),
    },
  };
}

export function contextFor(env: Env, actor: Actor): Ctx {
  return { ...depsFor(env, actor.kind === "user" ? actor.userId : actor.runnerId), actor };
}
