import { getBoardRoom } from "../../party/stubs.ts";
import type { EntityEvent, EntityType } from "../../protocol/index.ts";
import type { Db } from "../db/client.ts";
import type { Env } from "../env.ts";
import type { CredentialName } from "./sockets.ts";

/** Who is asking. Every service function takes one and checks it; routes never decide access. */
export type Actor =
  | {
      kind: "user";
      userId: string;
      via: "jwt" | "personal" | "session";
      /** Which sign-in or token this is (`fam:…`, `tok:…`): sockets remember it, so ending it ends them. */
      credential: CredentialName;
      sessionId?: string;
    }
  | { kind: "runner"; runnerId: string; ownerId: string };

export interface Ctx {
  db: Db;
  env: Env;
  actor: Actor;
  /** Announce a committed change to everyone on the board. Called only after the D1 write. */
  publish: (boardId: string, event: Omit<EntityEvent, "type" | "at" | "actorId">) => Promise<void>;
}

export function userId(ctx: Ctx): string {
  if (ctx.actor.kind !== "user") throw new Error("a runner credential reached a user service");
  return ctx.actor.userId;
}

/** Publishing never fails the write that caused it: the change is in D1, and clients re-read on reconnect. */
export function roomPublisher(env: Env, actorId: string | null): Ctx["publish"] {
  return async (boardId, event) => {
    try {
      await getBoardRoom(env, boardId).publish({ type: "entity", at: Date.now(), actorId, ...event });
    } catch (err) {
      console.error("publish to board room failed", boardId, err);
    }
  };
}

export function entity<T extends { id: string }>(
  entity: EntityType,
  op: "created" | "patched",
  row: T,
): Omit<EntityEvent, "type" | "at" | "actorId"> {
  return { entity, op, id: row.id, row: row as unknown as Record<string, unknown> };
}

export function removed(entity: EntityType, id: string): Omit<EntityEvent, "type" | "at" | "actorId"> {
  return { entity, op: "removed", id, row: null };
}
