import type { Env } from "../worker/env.ts";

/** Typed handles on the Durable Objects, addressed by name (board id, runner id, user id). */
export const getBoardRoom = (env: Env, boardId: string) => env.BoardRoom.get(env.BoardRoom.idFromName(boardId));
export const getRunnerLink = (env: Env, runnerId: string) => env.RunnerLink.get(env.RunnerLink.idFromName(runnerId));
export const getUserInbox = (env: Env, userId: string) => env.UserInbox.get(env.UserInbox.idFromName(userId));
