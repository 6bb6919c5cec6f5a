import { JobPayloads, JobResults, type JobType } from "../../protocol/index.ts";
import type { KeyedLock } from "./locks.ts";
import { addRepo, fetchRepo, removeRepo } from "./repos.ts";
import type { SessionTasks } from "./session-task.ts";
import type { LocalState } from "./state.ts";
import { createWorktree, deleteWorktree, refreshWorktree } from "./worktrees.ts";

export interface JobEnv {
  dataDir: string;
  state: LocalState;
  locks: KeyedLock;
  signal: AbortSignal;
  /** The job being run, for work that talks to the edge while it runs (agent sessions). */
  job: { id: string; leaseToken: string; boardId: string | null };
  sessions: SessionTasks;
}

type Handler<T extends JobType> = (
  payload: ReturnType<(typeof JobPayloads)[T]["parse"]>,
  env: JobEnv,
) => Promise<ReturnType<(typeof JobResults)[T]["parse"]>>;

/** Git work on one repo is serialized; everything else runs side by side. */
const inRepo = <T>(env: JobEnv, repoId: string, fn: () => Promise<T>) => env.locks.run(repoId, env.signal, fn);

const handlers: { [T in JobType]: Handler<T> } = {
  ping: async () => ({ startedAt: Date.now() }),
  "repo.add": (p, env) => inRepo(env, p.repoId, () => addRepo(p, env)),
  "repo.fetch": (p, env) => inRepo(env, p.repoId, () => fetchRepo(p, env)),
  "repo.remove": (p, env) => inRepo(env, p.repoId, () => removeRepo(p, env)),
  "worktree.create": (p, env) => inRepo(env, p.repoId, () => createWorktree(p, env)),
  "worktree.delete": (p, env) => inRepo(env, p.repoId, () => deleteWorktree(p, env)),
  "worktree.refresh": (p, env) => inRepo(env, p.repoId, () => refreshWorktree(p, env)),
  "session.task": (p, env) => {
    if (!env.job.boardId) throw new Error("a session task must belong to a board");
    return env.sessions.run({ ...env.job, boardId: env.job.boardId }, p, env.signal);
  },
};

export const isJobType = (type: string): type is JobType => Object.hasOwn(handlers, type);

/** What this runner can run: it claims only these, so a job of a newer type waits for a newer runner. */
export const KNOWN_JOB_TYPES = Object.keys(handlers) as JobType[];

/** Check the payload against the contract, do the work, and check the result before it is reported. */
export async function runJob(type: string, payload: unknown, env: JobEnv): Promise<Record<string, unknown>> {
  if (!isJobType(type)) throw new Error(`this runner does not know job type "${type}": update trellis-runner`);
  const parsed = JobPayloads[type].safeParse(payload);
  if (!parsed.success) throw new Error(`bad ${type} payload: ${parsed.error.issues[0]?.message}`);
  const handler = handlers[type] as Handler<typeof type>;
  const result = await handler(parsed.data as never, env);
  return JobResults[type].parse(result) as Record<string, unknown>;
}
