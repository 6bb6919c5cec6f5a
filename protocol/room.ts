import { z } from "zod";

/**
 * Messages on a board room socket (`/parties/board-room/:boardId`). D1 is the truth; the room only
 * carries what may be lost (presence, cursors) and announces durable changes (`entity`).
 */

export const Point = z.object({ x: z.number().finite(), y: z.number().finite() });
export const Viewport = z.object({ x: z.number().finite(), y: z.number().finite(), zoom: z.number().finite() });

/**
 * What a person is dragging right now: card or zone ids with their live top-left, so everyone else
 * sees the drag as it happens (the drop itself is a REST write like any other). Null when not dragging.
 */
export const Drag = z
  .array(z.object({ id: z.string().max(64), x: z.number().finite(), y: z.number().finite() }))
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

/** Client → room. Cursor is in canvas (flow) coordinates so it lands right at any zoom. */
export const ClientMessage = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("presence"),
    cursor: Point.nullable().optional(),
    viewport: Viewport.nullable().optional(),
    selection: z.array(z.string().max(64)).max(30).optional(),
    drag: Drag.optional(),
  }),
]);
export type ClientMessage = z.infer<typeof ClientMessage>;

export const EntityType = z.enum([
  "board",
  "member",
  "zone",
  "worktree",
  "repo",
  "runner",
  "job",
  "session",
  "message",
  "task",
  "comment",
]);
export type EntityType = z.infer<typeof EntityType>;

export const EntityEvent = z.object({
  type: z.literal("entity"),
  op: z.enum(["created", "patched", "removed"]),
  entity: EntityType,
  id: z.string(),
  /** The new row for created/patched (as the REST API returns it); null when removed. */
  row: z.record(z.string(), z.unknown()).nullable(),
  /** Who caused it, so a client can skip echoing its own optimistic change. */
  actorId: z.string().nullable(),
  at: z.number(),
});
export type EntityEvent = z.infer<typeof EntityEvent>;

/** Room → client. */
export const ServerMessage = z.discriminatedUnion("type", [
  z.object({ type: z.literal("welcome"), connectionId: z.string(), peers: z.array(Peer) }),
  z.object({ type: z.literal("join"), peer: Peer }),
  z.object({ type: z.literal("leave"), connectionId: z.string() }),
  /** Coalesced cursor/viewport/selection changes since the last flush, one entry per peer. */
  z.object({
    type: z.literal("presence"),
    updates: z.array(Peer.pick({ connectionId: true, cursor: true, viewport: true, selection: true, drag: true })),
  }),
  EntityEvent,
  z.object({ type: z.literal("error"), code: z.string(), message: z.string() }),
]);
export type ServerMessage = z.infer<typeof ServerMessage>;
