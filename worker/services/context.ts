import type {
  EntityEvent,
  EntityRow,
  EntityType,
  InboxFrame,
  LinkMessage,
  Notice,
  StreamFrame,
} from "../../protocol/index.ts";
import type { Db } from "../db/client.ts";
import type { CredentialName, SocketMatch } from "./sockets.ts";
import type { TerminalNotice } from "./terminals.ts";

/** Who is asking. Every service function takes one and checks it; routes never decide access. */
export type Actor =
  | {
      kind: "user";
      userId: string;
      /** `oauth`: an MCP client's token from Trellis's OAuth server (only `/mcp` takes one). */
      via: "jwt" | "personal" | "session" | "oauth";
      /** Which sign-in or token this is (`fam:…`, `tok:…`): sockets remember it, so ending it ends them. */
      credential: CredentialName;
      /** A session token's own session, and the one board it may reach (`via: "session"` only). */
      sessionId?: string;
      boardId?: string;
    }
  | { kind: "runner"; runnerId: string; ownerId: string };

/** A committed change, as a service announces it; the port stamps the version, when and who. */
export type EntityChange = EntityEvent extends infer E
  ? E extends EntityEvent
    ? Omit<E, "type" | "v" | "at" | "actorId">
    : never
  : never;

/** The board rooms, as services see them. Like publishing, none of these fails the write behind it. */
export interface RoomPorts {
  /** End a user's sockets on one board (a credential ended). */
  endSockets(boardId: string, match: SocketMatch): Promise<void>;
  /** Pieces of running agent messages, in order, to the board's sockets watching their sessions. */
  stream(boardId: string, pieces: StreamFrame[]): Promise<void>;
  /** Something for one person's sockets on a board only (a zone asking them); the bell goes to their inbox. */
  notify(boardId: string, userId: string, notice: Notice): Promise<void>;
}

/** Each person's inbox: their own live channel, open in every tab of theirs whatever page it shows. Best effort. */
export interface InboxPorts {
  /** To every open tab of this person, and nobody else's. */
  send(userId: string, frame: InboxFrame): Promise<void>;
  /** A credential ended: its inbox sockets close now. */
  endSockets(match: SocketMatch): Promise<void>;
}

/** The runners' links, as services see them. Best effort: the job is in D1 either way. */
export interface LinkPorts {
  /** Work is queued: the runner claims it now instead of on its next connect. */
  wake(runnerId: string): Promise<void>;
  /** The user asked to stop a job the runner holds. */
  cancel(runnerId: string, jobId: string): Promise<void>;
  /** A lease ends at `expiresAt`: the link's alarm looks then. */
  watchLease(runnerId: string, expiresAt: number): Promise<void>;
  /** Close the runner's socket with a reason (revoked). */
  hangUp(runnerId: string, code: number, reason: string): Promise<void>;
  /** Any frame to one runner's socket (permission decisions, terminal input, as they come). */
  send(runnerId: string, msg: LinkMessage): Promise<void>;
  /** A terminal ended, or its viewers' access must be re-checked: to the sockets on that runner's link. */
  terminal(runnerId: string, notice: TerminalNotice): Promise<void>;
}

/** Flags and secrets a service may read; never the raw bindings. */
export interface Config {
  /** A local install started by `npm start`: one person, no sign-in. */
  singleUser: boolean;
  /** HMAC key for access tokens (base64). */
  jwtSecret: string;
  /** AES-GCM keys for secrets at rest, newest first (`worker/lib/crypto.ts` keyring). */
  encryptionKey: string;
}

/**
 * What every service function gets, built by one factory (`worker/context.ts`) for every entry
 * point: REST, the runner API, the Durable Objects and tests. Services reach the rest of the
 * system only through these ports, so they never import `party/` and can run on fakes.
 */
export interface Ctx {
  db: Db;
  actor: Actor;
  config: Config;
  /** Announce a committed change to everyone on the board. Called only after the D1 write; never fails it. */
  publish(boardId: string, change: EntityChange): Promise<void>;
  rooms: RoomPorts;
  inboxes: InboxPorts;
  links: LinkPorts;
}

/** A context before anyone is known to be asking: sign-in, registration, the runner's first call. */
export type Deps = Omit<Ctx, "actor">;

export function userId(ctx: Ctx): string {
  if (ctx.actor.kind !== "user") throw new Error("a runner credential reached a user service");
  return ctx.actor.userId;
}

/** The board a session token is bound to, or null when the actor may reach every board of its user. */
export function boundBoard(ctx: Ctx): string | null {
  return ctx.actor.kind === "user" && ctx.actor.via === "session" ? (ctx.actor.boardId ?? "") : null;
}

export function entity<E extends EntityType>(entity: E, op: "created" | "patched", row: EntityRow<E>): EntityChange {
  return { entity, op, id: row.id, row } as EntityChange;
}

export function removed(entity: EntityType, id: string): EntityChange {
  return { entity, op: "removed", id, row: null } as EntityChange;
}
