import type { Message, Session, Task } from "../../../protocol/index.ts";
import { type ApiClient, ApiError, messageOf, unwrap } from "../lib/http.ts";
import { Store } from "../lib/store.ts";
import {
  applyPiece,
  contiguous,
  dropFinished,
  type LiveMessage,
  mergeMessages,
  mergeTask,
  type StreamPiece,
} from "./transcript.ts";

/** The API's largest page: a transcript of a thousand messages is one or two requests. */
export const MESSAGE_PAGE = 1000;

export type ViewStatus =
  | { status: "loading" }
  | { status: "ready" }
  | { status: "error"; message: string }
  | { status: "gone"; message: string };

const EMPTY_LIVE: ReadonlyMap<string, LiveMessage> = new Map();

/**
 * One open session panel's data: its finished messages (REST pages merged with the room's
 * `message` events), its tasks, and the text of messages still being written (stream frames).
 * Each is its own store, so a stream delta wakes only what shows the live text.
 */
export class SessionView {
  readonly messages = new Store<readonly Message[]>([]);
  readonly live = new Store<ReadonlyMap<string, LiveMessage>>(EMPTY_LIVE);
  readonly tasks = new Store<readonly Task[]>([]);
  readonly status = new Store<ViewStatus>({ status: "loading" });
  /** A later read failed: what is shown may be out of date (the next reconnect reads again). */
  readonly readError = new Store<string | null>(null);
  /** The message the transcript was asked to show (a link to a comment on it); `n` asks again. */
  readonly target = new Store<{ messageId: string; n: number } | null>(null);
  private ids = new Set<string>();
  private reading: Promise<void> | null = null;
  private again = false;
  private holeSeen = false;
  /** Tasks removed here (a queued prompt taken out): a read that began before the removal must not bring one back. */
  private removedTasks = new Set<string>();

  constructor(
    private readonly api: ApiClient,
    private readonly boardId: string,
    readonly sessionId: string,
    /** The session row as the detail read found it, for the board's sessions store. */
    private readonly onSession: (s: Session) => void,
  ) {}

  private isFinished = (id: string) => this.ids.has(id);

  takeMessages(items: readonly Message[]): void {
    const mine = items.filter((m) => m.sessionId === this.sessionId);
    const next = mergeMessages(this.messages.get(), mine);
    if (next === this.messages.get()) return;
    for (const m of mine) this.ids.add(m.id);
    this.messages.set(next);
    // The finished message replaces its in-flight text (same id).
    this.live.update((l) => dropFinished(l, this.isFinished));
  }

  /**
   * A `message` event: merged, and a hole before it (a missed event) is read over REST. During a
   * read the hole is most likely what that read is fetching: it is looked at again when it ends.
   */
  applyMessage(m: Message): void {
    this.takeMessages([m]);
    if (!this.hasHole()) return;
    if (this.reading) this.holeSeen = true;
    else void this.read({ detail: false });
  }

  private hasHole = () => contiguous(this.messages.get()) < this.messages.get().length;

  applyTask(t: Task): void {
    if (t.sessionId === this.sessionId && !this.removedTasks.has(t.id)) this.tasks.update((ts) => mergeTask(ts, t));
  }

  removeTask(taskId: string): void {
    this.removedTasks.add(taskId);
    this.tasks.update((ts) => (ts.some((t) => t.id === taskId) ? ts.filter((t) => t.id !== taskId) : ts));
  }

  applyStream(piece: StreamPiece): void {
    this.live.update((l) => applyPiece(l, piece, this.isFinished));
  }

  /**
   * The session's row changed. When no task is in hand, nothing is being written: text left over
   * from a message that never arrived (stopped, runner lost) goes.
   */
  sessionChanged(s: Session): void {
    if (s.status === "running" || s.status === "queued" || s.status === "awaiting_permission") return;
    if (this.live.get().size > 0) this.live.set(EMPTY_LIVE);
  }

  /**
   * The socket (re)joined: what streamed meanwhile was lost, and the room sends the text so far
   * of every message still being written once the watch list reaches it.
   */
  rejoined(): void {
    this.live.set(EMPTY_LIVE);
  }

  gone(message: string): void {
    this.status.set({ status: "gone", message });
  }

  /**
   * Read the session's tasks (with `detail`) and every message after the whole part of what is
   * held, page by page. One read at a time; asked again meanwhile, it reads once more after.
   * Never throws: a failure is in `status` (first read) or `readError` (later ones).
   */
  read(opts: { detail?: boolean } = {}): Promise<void> {
    if (this.reading) {
      this.again = true;
      return this.reading;
    }
    const detail = opts.detail !== false;
    this.reading = (async () => {
      try {
        do {
          this.again = false;
          this.holeSeen = false;
          await Promise.all([detail ? this.readDetail() : null, this.readMessages()]);
        } while (this.again || (this.holeSeen && this.hasHole()));
        if (this.status.get().status !== "gone") this.status.set({ status: "ready" });
        this.readError.set(null);
      } catch (err) {
        if (err instanceof ApiError && err.status === 404)
          this.gone("This session was deleted, or is not on this board.");
        else if (this.status.get().status === "loading") this.status.set({ status: "error", message: messageOf(err) });
        else this.readError.set(messageOf(err));
      } finally {
        this.reading = null;
      }
    })();
    return this.reading;
  }

  private session() {
    return this.api.api.boards[":boardId"].sessions[":sessionId"];
  }

  private async readDetail(): Promise<void> {
    const d = await unwrap(this.session().$get({ param: { boardId: this.boardId, sessionId: this.sessionId } }));
    this.onSession(d.session);
    // A snapshot of every task: one held but not in it was removed, unless it is newer than the
    // snapshot (ids are time-ordered); a row held that is further along (an event meanwhile) wins.
    const read = new Set(d.tasks.map((t) => t.id));
    const newest = d.tasks.at(-1)?.id ?? "";
    let next: readonly Task[] = this.tasks.get().filter((t) => read.has(t.id) || t.id > newest);
    for (const t of d.tasks) if (!this.removedTasks.has(t.id)) next = mergeTask(next, t);
    this.tasks.set(next);
  }

  private async readMessages(): Promise<void> {
    let after = contiguous(this.messages.get());
    for (;;) {
      const page = await unwrap(
        this.session().messages.$get({
          param: { boardId: this.boardId, sessionId: this.sessionId },
          query: { after: String(after), limit: String(MESSAGE_PAGE) },
        }),
      );
      this.takeMessages(page.items);
      if (page.nextAfter === null) return;
      after = page.nextAfter;
      // Drawn page by page: the first screen of a long transcript does not wait for the rest.
      if (this.status.get().status === "loading") this.status.set({ status: "ready" });
    }
  }
}
