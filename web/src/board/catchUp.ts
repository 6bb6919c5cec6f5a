import type { EntityEvent } from "../../../protocol/index.ts";
import { type ApiClient, unwrap } from "../lib/http.ts";
import { Store } from "../lib/store.ts";
import { notify } from "../ui/notices.tsx";
import type { BoardEntities } from "./entities.ts";

const MAX_BUFFERED = 500;
/** The API's largest page: 3,000 cards are six requests. */
const CARD_PAGE = 500;
/** A board past this many cards shows the first ones and says so, rather than reading forever. */
const MAX_CARD_PAGES = 40;

export interface CatchUpHooks {
  /** Where room events go: at once, or once the read in flight is done (then in arrival order). */
  apply(e: EntityEvent): void;
  /** After each read: what it made stale outside the entities (open jobs, the board's runners). */
  afterRead(): void;
  /**
   * Other slices read alongside the board's meta (the agent sessions), so room events that arrive
   * meanwhile wait for them too. The board is shown without waiting for them.
   */
  readMore?(): Promise<void>;
}

/**
 * Reading the board over REST, and the room's events around the reads. D1 is the truth: every
 * (re)join of the room re-reads, since whatever happened while we were not listening is only there.
 *
 * Events that arrive while a REST read is in flight wait for it and are applied on top of the
 * snapshot, never under it: a card created or removed meanwhile would otherwise be undone. A
 * join (`welcome`) during a read means the part read before it may have missed a change whose
 * event came before we listened: that part, and only that part, is read once more right after.
 */
export class CatchUp {
  /** Cards read so far during the board's first load; null once all of them are in. */
  readonly firstLoad = new Store<number | null>(0);
  private running: Promise<void> | null = null;
  private again = false;
  /** Room joins so far, to tell which requests went out before the latest one. */
  private joins = 0;
  private buffered: EntityEvent[] = [];
  private overflow = false;

  constructor(
    private readonly api: ApiClient,
    private readonly boardId: string,
    private readonly entities: BoardEntities,
    private readonly hooks: CatchUpHooks,
  ) {}

  /** A room event: applied now, or buffered until the read in flight is done. */
  onEntity = (e: EntityEvent) => {
    if (!this.running) return this.hooks.apply(e);
    // A read that stalls while a busy board keeps talking: stop queueing, read once more after.
    if (this.buffered.length < MAX_BUFFERED) this.buffered.push(e);
    else this.overflow = true;
  };

  /** Joined the room (first connect or any reconnect): read what may have been missed. */
  joined(): void {
    this.joins++;
    void this.run().catch(() => {});
  }

  /**
   * Read the board, or, while a read is running, have it read once more when done. `onFirstView`
   * is called once the board, its zones and members and the first page of cards are in.
   */
  run(onFirstView?: () => void): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        let first = onFirstView;
        let until: string | undefined;
        let cards = true;
        do {
          this.again = false;
          let metaDone = false;
          let pageDone = !cards;
          const show = () => {
            if (!first || !metaDone || !pageDone) return;
            first();
            first = undefined;
          };
          const [, joinCursor]: [unknown, string | undefined, unknown] = await Promise.all([
            this.readMeta().then(() => {
              metaDone = true;
              show();
            }),
            cards
              ? this.readCards({
                  until,
                  firstPage: () => {
                    pageDone = true;
                    show();
                  },
                })
              : undefined,
            this.hooks.readMore?.(),
          ]);
          // Joined meanwhile: re-read what was read before the join (all of it if the join came
          // after the last page went out; none of the cards if it came before the first).
          cards = joinCursor !== "";
          until = joinCursor || undefined;
          this.hooks.afterRead();
        } while (this.again);
      } finally {
        this.running = null;
        const events = this.buffered;
        const again = this.overflow;
        this.buffered = [];
        this.overflow = false;
        for (const e of events) this.hooks.apply(e);
        if (again) void this.run().catch(() => {});
      }
    })();
    return this.running;
  }

  private async readMeta(): Promise<void> {
    const boardIdParam = { param: { boardId: this.boardId } };
    const board = this.api.api.boards[":boardId"];
    const [b, z, m] = await Promise.all([
      unwrap(board.$get(boardIdParam)),
      unwrap(board.zones.$get(boardIdParam)),
      unwrap(board.members.$get(boardIdParam)),
    ]);
    this.entities.takeMeta(b, z.items, m.items);
  }

  /**
   * Page through the cards in bounded pages, drawing each page as it lands. With `until`, reads
   * only the cards up to that id (the part of an earlier read that predates a join). Returns the
   * cursor of the first page requested after a join that happened meanwhile: "" when even the
   * first page was, undefined when none was.
   */
  private async readCards(opts: { until?: string; firstPage?: () => void }): Promise<string | undefined> {
    const joinsAtStart = this.joins;
    const seen = new Set<string>();
    let cursor: string | undefined;
    let pages = 0;
    let joinCursor: string | undefined;
    let done = false;
    do {
      if (joinCursor === undefined && this.joins !== joinsAtStart) joinCursor = cursor ?? "";
      const page = await unwrap(
        this.api.api.boards[":boardId"].worktrees.$get({
          param: { boardId: this.boardId },
          query: cursor ? { limit: String(CARD_PAGE), cursor } : { limit: String(CARD_PAGE) },
        }),
      );
      for (const wt of page.items) seen.add(wt.id);
      this.entities.takeCards(page.items);
      if (!opts.until) this.firstLoad.update((n) => (n === null ? n : seen.size));
      if (++pages === 1) opts.firstPage?.();
      cursor = page.nextCursor ?? undefined;
      done = !cursor || (opts.until !== undefined && cursor >= opts.until);
    } while (!done && pages < MAX_CARD_PAGES);
    if (!done) notify(`This board has more than ${seen.size} worktrees: showing the first ${seen.size}.`, "error");
    // Cards gone while we were not listening (in the range this read covered).
    else this.entities.dropUnseen(seen, opts.until);
    if (!opts.until) this.firstLoad.set(null);
    return joinCursor;
  }
}
