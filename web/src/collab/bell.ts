import type { Notification } from "../../../protocol/index.ts";
import { type ApiClient, unwrap } from "../lib/http.ts";
import { Store } from "../lib/store.ts";

/** How many the bell's list shows; older ones are a page away. */
const SHOWN = 50;

/**
 * The signed-in person's notifications (the bell), across boards. Read whenever this tab's inbox
 * socket (re)connects, and again when some are marked read in another tab; a new one arrives live
 * on the inbox, whatever page this tab shows, so the count moves without a read.
 */
export class Bell {
  readonly items = new Store<readonly Notification[]>([]);
  readonly unread = new Store(0);
  readonly more = new Store(false);
  /** This tab's inbox socket is open (what arrives now shows at once). */
  readonly live = new Store(false);

  constructor(private readonly api: ApiClient) {}

  async read(): Promise<void> {
    const page = await unwrap(this.api.api.me.notifications.$get({ query: { limit: String(SHOWN) } }));
    this.items.set(page.items);
    this.unread.set(page.unread);
    this.more.set(page.nextCursor !== null);
  }

  /** One that arrived live; a repeat (the same notification in two tabs' reads) counts once. */
  add(n: Notification): void {
    if (this.items.get().some((i) => i.id === n.id)) return;
    this.items.set([n, ...this.items.get()].slice(0, SHOWN));
    if (!n.readAt) this.unread.set(this.unread.get() + 1);
  }

  async markRead(id: string): Promise<void> {
    const held = this.items.get().find((n) => n.id === id);
    if (!held || held.readAt) return;
    const n = await unwrap(
      this.api.api.me.notifications[":notificationId"].read.$post({ param: { notificationId: id } }),
    );
    this.items.set(this.items.get().map((i) => (i.id === id ? n : i)));
    this.unread.set(Math.max(0, this.unread.get() - 1));
  }

  async markAllRead(): Promise<void> {
    await unwrap(this.api.api.me.notifications.read.$post());
    const now = Date.now();
    this.items.set(this.items.get().map((i) => (i.readAt ? i : { ...i, readAt: now })));
    this.unread.set(0);
  }

  /** Opening a session is reading what was about it. */
  async readAbout(sessionId: string): Promise<void> {
    const unreadAbout = this.items.get().filter((n) => n.sessionId === sessionId && !n.readAt);
    await Promise.all(unreadAbout.map((n) => this.markRead(n.id)));
  }
}
