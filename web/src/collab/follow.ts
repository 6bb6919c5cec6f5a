import { Store } from "../lib/store.ts";

/** Whose viewport I follow on this board (a user id), until I pan or zoom myself or press Esc. */
export class Follow {
  readonly leader = new Store<{ userId: string; name: string } | null>(null);

  start(userId: string, name: string): void {
    this.leader.set({ userId, name });
  }

  stop(): void {
    this.leader.set(null);
  }
}
