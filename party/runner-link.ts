import { Server } from "partyserver";
import type { Env } from "../worker/env.ts";

/** One per runner: the runner's outbound socket, over which the edge wakes it when a job is queued. */
export class RunnerLink extends Server<Env> {
  static override options = { hibernate: true };
}
