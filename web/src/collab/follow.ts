import { Store } from "../lib/store.ts";

/**
 * Whose viewport I follow on this board (a user id), until I pan or zoom myself or press Esc.
 * The canvas tells the two apart by `steering`: true only while the follow itself moves the view
 * (synchronously, one frame at a time), so every other move of the view, whatever made it (a
 * wheel, a drag, the zoom buttons, the minimap, a keyboard focus, a link), is mine and stops it.
 */
export class Follow {
  readonly leader = new Store<{ userId: string; name: string } | null>(null);
  private steeringNow = false;

  get steering(): boolean {
    return this.steeringNow;
  }

  start(userId: string, name: string): void {
    this.leader.set({ userId, name });
  }

  stop(): void {
    this.leader.set(null);
  }

  /** Move the view as the follow: `move` must set the viewport synchronously. */
  steer(move: () => void): void {
    this.steeringNow = true;
    try {
      move();
    } finally {
      this.steeringNow = false;
    }
  }
}
