import { useSyncExternalStore } from "react";
import type { Job } from "../../../protocol/index.ts";
import { Store } from "../lib/store.ts";

/** A job working on one card: the card shows a spinner, and "Cancel" while it is being created. */
export interface CardJob {
  id: string;
  type: string;
  status: Job["status"];
}

const OPEN = new Set<Job["status"]>(["queued", "claimed", "running"]);

/**
 * Open jobs by the worktree they work on, from the room's `job` events. Kept outside the canvas
 * nodes: a job starting or ending wakes only the one card it concerns.
 */
export class CardJobs {
  private readonly store = new Store<ReadonlyMap<string, CardJob>>(new Map());

  apply(job: Job): void {
    const worktreeId = "worktreeId" in job.payload ? job.payload.worktreeId : null;
    if (!worktreeId) return;
    const current = this.store.get().get(worktreeId);
    if (OPEN.has(job.status)) {
      if (current?.id === job.id && current.status === job.status) return;
      this.store.update((m) => new Map(m).set(worktreeId, { id: job.id, type: job.type, status: job.status }));
    } else if (current?.id === job.id) {
      this.forget(worktreeId);
    }
  }

  forget(worktreeId: string): void {
    if (!this.store.get().has(worktreeId)) return;
    this.store.update((m) => {
      const next = new Map(m);
      next.delete(worktreeId);
      return next;
    });
  }

  /** After a re-read: an end we never heard of would leave a spinner forever. */
  clear(): void {
    this.store.set(new Map());
  }

  get = (worktreeId: string) => this.store.get().get(worktreeId);
  subscribe = this.store.subscribe;
}

export function useCardJob(jobs: CardJobs, worktreeId: string): CardJob | undefined {
  return useSyncExternalStore(jobs.subscribe, () => jobs.get(worktreeId));
}
