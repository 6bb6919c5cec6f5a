import { z } from "zod";
import { Board, Member, Zone, ZoneTrigger } from "./boards.ts";
import { Comment } from "./comments.ts";
import { Text } from "./common.ts";
import { Job } from "./jobs.ts";
import { McpServer } from "./mcp-servers.ts";
import { Repo } from "./repos.ts";
import { Runner } from "./runners.ts";
import { Message, Session, Task } from "./sessions.ts";
import { Terminal } from "./terminals.ts";
import { Worktree } from "./worktrees.ts";

/**
 * Messages on a board room socket (`/parties/board-room/:boardId?v=ROOM_PROTOCOL`). D1 is the
 * truth; the room only carries what may be lost (presence, cursors, stream deltas) and announces
 * durable changes (`entity`). Every frame the room sends carries `v`: a client that speaks another
 * version is closed with `ROOM_CLOSE.outdated` and asks its person to reload, instead of
 * misreading frames.
 */
export const ROOM_PROTOCOL = 1;
/** The query parameter a client names its protocol version in. */
export const ROOM_VERSION_PARAM = "v";

/**
 * Close codes a board room uses. `signedOut`: the credential the socket was opened with ended
 * (token revoked, signed out, password changed): reconnect with a fresh ticket if still signed
 * in. `removed`, `deleted` and `outdated` are final: reconnecting would only be refused again.
 */
export const ROOM_CLOSE = {
  signedOut: 4401,
  removed: 4403,
  deleted: 4404,
  stale: 4408,
  outdated: 4426,
  full: 4429,
} as const;

export const Point = z.object({ x: z.number().finite(), y: z.number().finite() });
export const Viewport = z.object({ x: z.number().finite(), y: z.number().finite(), zoom: z.number().finite() });

/**
 * What a person is dragging right now: card or zone ids with their live top-left, so everyone else
 * sees the drag as it happens (the drop itself is a REST write like any other). Null when not dragging.
 */
export const Drag = z
  .array(z.object({ id: Text.max(64), x: z.number().finite(), y: z.number().finite() }))
  .max(30)
  .nullable();
export type Drag = z.infer<typeof Drag>;

/** One person on the board, as everyone else sees them. A user with two tabs has two peers. */
export const Peer = z.object({
  connectionId: z.string(),
  userId: z.string(),
  name: z.string(),
  color: z.string(),
  cursor: Point.nullable(),
  viewport: Viewport.nullable(),
  selection: z.array(z.string()).max(30),
  drag: Drag.optional(),
});
export type Peer = z.infer<typeof Peer>;

/** How many sessions one socket may watch at once (open panels, not every card). */
export const MAX_WATCHED = 20;

/** Client → room. Cursor is in canvas (flow) coordinates so it lands right at any zoom. */
export const ClientMessage = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("presence"),
    cursor: Point.nullable().optional(),
    viewport: Viewport.nullable().optional(),
    selection: z.array(Text.max(64)).max(30).optional(),
    drag: Drag.optional(),
  }),
  /** The sessions whose live stream this socket wants (its open panels); replaces the last list. */
  z.object({ type: z.literal("watch"), sessionIds: z.array(Text.min(1).max(64)).max(MAX_WATCHED) }),
]);
export type ClientMessage = z.infer<typeof ClientMessage>;

// ---- entity events: one per committed change, typed by the entity it is about ----

/** What each entity's event carries as its row: exactly what the REST API returns for it. */
export const EntityRows = {
  /** The board as everyone on it sees it (the caller's own role is not part of it). */
  board: Board.omit({ role: true }),
  /** Members are keyed by their user id, like any other entity. */
  member: Member.extend({ id: z.string() }),
  zone: Zone,
  worktree: Worktree,
  repo: Repo,
  runner: Runner,
  job: Job,
  session: Session,
  task: Task,
  /** Sent only to the sockets watching its session (open panels), not to the whole board. */
  message: Message,
  /** A shared terminal: listed on its worktree's card while not ended. */
  terminal: Terminal,
  /** Threaded comments on the board, its zones, worktrees and sessions. */
  comment: Comment,
  /** An MCP server config on the board (names and last four of its secrets, never the values). */
  mcp_server: McpServer,
} as const;
export type EntityType = keyof typeof EntityRows;
export type EntityRow<E extends EntityType> = z.infer<(typeof EntityRows)[E]>;
export const EntityType = z.enum(Object.keys(EntityRows) as [EntityType, ...EntityType[]]);

const entityEvent = <E extends EntityType>(entity: E) =>
  z.object({
    type: z.literal("entity"),
    v: z.literal(ROOM_PROTOCOL),
    entity: z.literal(entity),
    op: z.enum(["created", "patched", "removed"]),
    id: z.string(),
    /** The new row for created/patched; null when removed. */
    row: z.nullable(EntityRows[entity]),
    /** Who caused it, so a client can skip echoing its own optimistic change. */
    actorId: z.string().nullable(),
    at: z.number(),
  });

export const EntityEvent = z.discriminatedUnion("entity", [
  entityEvent("board"),
  entityEvent("member"),
  entityEvent("zone"),
  entityEvent("worktree"),
  entityEvent("repo"),
  entityEvent("runner"),
  entityEvent("job"),
  entityEvent("session"),
  entityEvent("task"),
  entityEvent("message"),
  entityEvent("terminal"),
  entityEvent("comment"),
  entityEvent("mcp_server"),
]);
export type EntityEvent = z.infer<typeof EntityEvent>;

// ---- frames aimed at some sockets only ----

/**
 * A piece of a running agent message, to the sockets watching its session. Ephemeral: never in
 * D1; the finished message arrives as an entity. `seq` orders the pieces of one message; the room
 * keeps the text so far, so a socket that starts watching mid-answer gets it whole (`snapshot`).
 */
export const StreamFrame = z.object({
  sessionId: Text.min(1).max(64),
  messageId: Text.min(1).max(64),
  seq: z.number().int().nonnegative(),
  part: z.enum(["text", "thinking", "tool_input"]),
  delta: Text.max(64 * 1024),
  /** The message is complete: the room forgets its text. */
  done: z.boolean().optional(),
});
export type StreamFrame = z.infer<typeof StreamFrame>;

/** At most this many pieces travel in one batch, on the runner's link and from the room. */
export const MAX_STREAM_PIECES = 200;
/**
 * Pieces of running messages gathered in one coalescing window: a runner's `streams` frame (every
 * session it runs on one board, one window per runner) and a room's `streams` frame (the pieces of
 * the sessions one socket watches). In order: a message's pieces keep their `seq` order.
 */
export const StreamBatch = z.array(StreamFrame).min(1).max(MAX_STREAM_PIECES);
export type StreamBatch = z.infer<typeof StreamBatch>;

/**
 * What a streaming session is doing, for its card: the last line of the text it is writing. The
 * room derives it from the pieces it relays and sends it to everyone on the board, at most once a
 * second per session; never stored (the session row's `nowDoing` takes over once the message is).
 */
export const LiveDoing = z.object({ sessionId: Text.min(1).max(64), nowDoing: Text.max(300) });
export type LiveDoing = z.infer<typeof LiveDoing>;

/**
 * Something one person should hear about on this board only (a zone asking them, a trigger that
 * could not fire), to their sockets here. Stored notifications (the bell) go to their inbox
 * (`inbox.ts`), which every tab of theirs holds open whatever page it shows.
 */
export const Notice = z.object({
  kind: Text.min(1).max(40),
  title: Text.min(1).max(200),
  body: Text.max(2000).optional(),
  /** An in-app path to open (`/b/…`), never an outside URL. */
  href: Text.regex(/^\/[^/]/, "must be an in-app path")
    .max(500)
    .optional(),
  /** A zone's `ask` trigger: the rendered prompt, for the person who dropped the card to edit and send. */
  ask: z.object({ zoneId: z.string(), worktreeId: z.string(), prompt: z.string(), trigger: ZoneTrigger }).optional(),
});
export type Notice = z.infer<typeof Notice>;

const v = z.literal(ROOM_PROTOCOL);

/** Room → client. */
export const ServerMessage = z.discriminatedUnion("type", [
  z.object({ type: z.literal("welcome"), v, connectionId: z.string(), peers: z.array(Peer) }),
  z.object({ type: z.literal("join"), v, peer: Peer }),
  z.object({ type: z.literal("leave"), v, connectionId: z.string() }),
  /** Coalesced cursor/viewport/selection changes since the last flush, one entry per peer. */
  z.object({
    type: z.literal("presence"),
    v,
    updates: z.array(Peer.pick({ connectionId: true, cursor: true, viewport: true, selection: true, drag: true })),
  }),
  EntityEvent,
  z.object({ type: z.literal("stream"), v, ...StreamFrame.shape, snapshot: z.boolean().optional() }),
  /** Several live pieces at once (never snapshots): treat each as a `stream` frame, in order. */
  z.object({ type: z.literal("streams"), v, pieces: StreamBatch }),
  /** Live "now doing" lines of streaming sessions (see `LiveDoing`), coalesced. */
  z.object({ type: z.literal("doing"), v, items: z.array(LiveDoing).min(1).max(MAX_STREAM_PIECES) }),
  z.object({ type: z.literal("notice"), v, notice: Notice }),
  z.object({ type: z.literal("error"), v, code: z.string(), message: z.string() }),
]);
export type ServerMessage = z.infer<typeof ServerMessage>;
