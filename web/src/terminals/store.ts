import type { EntityEvent, Role, Runner, Terminal } from "../../../protocol/index.ts";
import { ROOM_PROTOCOL } from "../../../protocol/index.ts";
import { type ApiClient, unwrap } from "../lib/http.ts";
import { Store } from "../lib/store.ts";

/**
 * The board's terminals that are not over, by worktree, kept live by the room's `terminal` events
 * and re-read on every (re)join. Cards subscribe to their own worktree only, so a terminal opening
 * re-renders one card, not the canvas. `open` is the terminal whose panel is showing.
 */
export class TerminalStore {
  private rows = new Map<string, Terminal>();
  private byWorktree = new Map<string, Terminal[]>();
  private listeners = new Map<string, Set<() => void>>();
  readonly open = new Store<string | null>(null);
  private readonly api: ApiClient;
  readonly boardId: string;

  constructor(api: ApiClient, boardId: string) {
    this.api = api;
    this.boardId = boardId;
    // A reload re-opens the panel that was open: the shell is still there, and so is its screen.
    this.open.subscribe(() => {
      const id = this.open.get();
      try {
        if (id) sessionStorage.setItem(this.openKey, id);
        else sessionStorage.removeItem(this.openKey);
      } catch {
        // No storage (a private window): the panel just does not come back by itself.
      }
    });
  }

  private get openKey() {
    return `trellis.terminal.${this.boardId}`;
  }

  async load(): Promise<void> {
    const { items } = await unwrap(
      this.api.api.boards[":boardId"].terminals.$get({ param: { boardId: this.boardId } }),
    );
    const touched = new Set([...this.byWorktree.keys(), ...items.map((t) => t.worktreeId)]);
    this.rows = new Map(items.map((t) => [t.id, t]));
    for (const w of touched) this.reindex(w);
    if (this.open.get() === null) {
      let last: string | null = null;
      try {
        last = sessionStorage.getItem(this.openKey);
      } catch {}
      if (last && this.rows.has(last)) this.open.set(last);
    }
  }

  get(id: string): Terminal | undefined {
    return this.rows.get(id);
  }

  /** A worktree's terminals, oldest first; the same array until one of them changes. */
  ofWorktree = (worktreeId: string): Terminal[] => this.byWorktree.get(worktreeId) ?? NONE;

  subscribeWorktree(worktreeId: string, fn: () => void): () => void {
    let set = this.listeners.get(worktreeId);
    if (!set) {
      set = new Set();
      this.listeners.set(worktreeId, set);
    }
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0) this.listeners.delete(worktreeId);
    };
  }

  private reindex(worktreeId: string) {
    const list = [...this.rows.values()]
      .filter((t) => t.worktreeId === worktreeId)
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    if (list.length) this.byWorktree.set(worktreeId, list);
    else this.byWorktree.delete(worktreeId);
    for (const fn of this.listeners.get(worktreeId) ?? []) fn();
  }

  /** A room event about a terminal. An ended one leaves its card (its open panel says why itself). */
  apply(e: Extract<EntityEvent, { entity: "terminal" }>): void {
    const prev = this.rows.get(e.id);
    if (e.op === "removed" || !e.row || e.row.status === "ended") this.rows.delete(e.id);
    else this.rows.set(e.id, e.row);
    const w = e.row?.worktreeId ?? prev?.worktreeId;
    if (w) this.reindex(w);
  }

  /** A card went: its terminals went with it. */
  forgetWorktree(worktreeId: string): void {
    for (const [id, t] of this.rows) if (t.worktreeId === worktreeId) this.rows.delete(id);
    this.reindex(worktreeId);
  }

  /** Open a new terminal in a worktree and show it. Throws the API's message. */
  async create(worktreeId: string, name?: string): Promise<Terminal> {
    const t = await unwrap(
      this.api.api.boards[":boardId"].worktrees[":worktreeId"].terminals.$post({
        param: { boardId: this.boardId, worktreeId },
        json: name ? { name } : {},
      }),
    );
    this.rows.set(t.id, t);
    this.reindex(worktreeId);
    this.open.set(t.id);
    return t;
  }

  /** "End terminal": the shell stops for everyone. Throws the API's message. */
  async end(terminalId: string): Promise<void> {
    const t = await unwrap(this.api.api.terminals[":terminalId"].$delete({ param: { terminalId } }));
    this.apply({
      type: "entity",
      v: ROOM_PROTOCOL,
      entity: "terminal",
      op: "patched",
      id: t.id,
      row: t,
      actorId: null,
      at: Date.now(),
    });
  }

  show(terminalId: string): void {
    this.open.set(terminalId);
  }

  hide(): void {
    this.open.set(null);
  }
}

const NONE: Terminal[] = [];

/**
 * What the board lets a person do with a runner's terminals: the service's rule, for the buttons
 * only (the edge decides). The owner types; others only when the owner allowed the boards it is
 * shared with, and then viewers watch.
 */
export function terminalRight(runner: Runner | undefined, meId: string, role: Role | null): "type" | "watch" | null {
  if (!runner || !role) return null;
  if (runner.ownerId === meId) return "type";
  if (runner.terminalAccess !== "boards") return null;
  return role === "viewer" ? "watch" : "type";
}
