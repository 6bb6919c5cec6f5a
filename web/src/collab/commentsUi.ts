import type { CommentTarget } from "../../../protocol/index.ts";
import { Store } from "../lib/store.ts";

/** Where a new thread goes: a place, optionally one message of a session or a point on the canvas. */
export interface Place {
  target: CommentTarget;
  targetId: string | null;
  messageId?: string;
  x?: number;
  y?: number;
}

/** The thread shown (and the one comment of it a link named), or a new thread's draft. */
export type CommentsFocus = { threadId: string; commentId?: string } | { draft: Place } | null;

/** What the canvas is asked to show: a thread's place, or a place itself. */
export type Reveal = ({ threadId: string } | { place: Place }) & { n: number };

/**
 * The comments panel's state, outside React: open or not, which thread (or new-thread draft) it
 * shows, whether resolved threads are listed, and whether the canvas's comment tool is on (the
 * next click on the canvas pins a thread there). `reveal` asks the canvas to centre on a place.
 */
export class CommentsUi {
  readonly open = new Store(false);
  readonly focus = new Store<CommentsFocus>(null);
  readonly showResolved = new Store(false);
  readonly placing = new Store(false);
  /** The canvas listens: centre the view on this thread's place (a link, a click in the panel). */
  readonly reveal = new Store<Reveal | null>(null);
  /** A reveal has moved the view: the board's first framing must not move it away again. */
  tookView = false;
  private n = 0;

  toggle(): void {
    this.open.set(!this.open.get());
    if (!this.open.get()) this.focus.set(null);
  }

  showThread(threadId: string, opts: { reveal?: boolean; commentId?: string } = {}): void {
    this.open.set(true);
    this.focus.set(opts.commentId ? { threadId, commentId: opts.commentId } : { threadId });
    if (opts.reveal) this.reveal.set({ threadId, n: ++this.n });
  }

  /** Centre the canvas on a place (its name clicked in the panel). */
  revealPlace(place: Place): void {
    this.reveal.set({ place, n: ++this.n });
  }

  startAt(place: Place): void {
    this.placing.set(false);
    this.open.set(true);
    this.focus.set({ draft: place });
  }

  close(): void {
    this.open.set(false);
    this.focus.set(null);
  }
}
