import type { Role, Worktree, Zone } from "../../../protocol/index.ts";
import { type ApiClient, ApiError, expectOk, messageOf, unwrap } from "../lib/http.ts";
import { notify } from "../ui/notices.tsx";
import { isCard, toCard, type WorktreeNode, type ZoneNode } from "./cards.ts";
import type { BoardEntities } from "./entities.ts";
import { toNode } from "./entities.ts";
import type { CardJobs } from "./jobs.ts";

export type ZonePatch = Partial<Pick<Zone, "name" | "color" | "x" | "y" | "width" | "height">>;
export type WorktreePatch = Partial<Pick<Worktree, "x" | "y" | "zoneId" | "notes">>;
export type NewWorktree = {
  repoId: string;
  name: string;
  mode: "new" | "existing";
  branch: string;
  baseBranch?: string;
  issueUrl?: string;
  notes: string;
  x: number;
  y: number;
  zoneId: string | null;
};

/** `gesture`: group this write with others for undo; `undoable: false` for undo's own writes. */
export type WriteOpts = { gesture?: number; undoable?: boolean };

/** Two columns and two rows of card slots (see `zoneGrid`). */
export const ZONE_SIZE = { width: 592, height: 344 };
export const ZONE_COLORS = ["#7c3aed", "#2563eb", "#0891b2", "#059669", "#d97706", "#dc2626", "#db2777", "#475569"];

const MAX_UNDO = 100;

/**
 * Undo (Ctrl/Cmd+Z) for this tab's moves and zone edits: each entry puts back what one write
 * changed, grouped by gesture (a multi-card drag is one step). Undoing is itself a write like any
 * other, so everyone sees it.
 */
class UndoHistory {
  private entries: { gesture: number; undo: () => Promise<void> }[] = [];
  private gestures = 0;

  newGesture(): number {
    return ++this.gestures;
  }

  record(gesture: number | undefined, undo: () => Promise<void>): void {
    this.entries.push({ gesture: gesture ?? ++this.gestures, undo });
    if (this.entries.length > MAX_UNDO) this.entries.shift();
  }

  /** The undos of the last gesture, taken off the history; empty when there is none. */
  takeLast(): (() => Promise<void>)[] {
    const top = this.entries.at(-1);
    if (!top) return [];
    const step: (() => Promise<void>)[] = [];
    while (this.entries.at(-1)?.gesture === top.gesture) step.push(this.entries.pop()!.undo);
    return step;
  }
}

/**
 * What the board page can do, over the entity stores and the API. Writes are optimistic on the
 * canvas and confirmed (or rolled back) by the API's answer; the room's echo of our own write is
 * skipped while it is in flight (`BoardEntities.track`).
 */
export class BoardActions {
  private readonly history = new UndoHistory();

  constructor(
    private readonly api: ApiClient,
    private readonly boardId: string,
    private readonly entities: BoardEntities,
    private readonly jobs: CardJobs,
  ) {}

  /** Writes made with the same gesture number are undone together. */
  newGesture(): number {
    return this.history.newGesture();
  }

  /** Undo this tab's last move or zone edit (all of one gesture). False when there is none. */
  async undo(): Promise<boolean> {
    const step = this.history.takeLast();
    if (step.length === 0) return false;
    await Promise.all(step.map((u) => u()));
    return true;
  }

  async addZone(at: { x: number; y: number }, count: number): Promise<Zone | null> {
    const body = {
      name: `Zone ${count + 1}`,
      color: ZONE_COLORS[count % ZONE_COLORS.length]!,
      x: Math.round(at.x),
      y: Math.round(at.y),
      ...ZONE_SIZE,
      promptTemplate: "",
      trigger: null,
    };
    try {
      const zone = await unwrap(
        this.api.api.boards[":boardId"].zones.$post({ param: { boardId: this.boardId }, json: body }),
      );
      this.entities.upsertZone(zone);
      return zone;
    } catch (err) {
      notify(messageOf(err), "error");
      return null;
    }
  }

  /**
   * A zone carries its cards: moving it moves every card in it by the same amount, here at once
   * and on the server in the same write (which announces each moved card to the board).
   */
  async patchZone(zoneId: string, patch: ZonePatch, opts: WriteOpts = {}): Promise<void> {
    const { entities } = this;
    const before = (entities.node(zoneId) as ZoneNode | undefined)?.data.zone;
    if (!before) return;
    if (opts.undoable !== false) {
      const back = Object.fromEntries(Object.keys(patch).map((k) => [k, before[k as keyof ZonePatch]])) as ZonePatch;
      this.history.record(opts.gesture, () => this.patchZone(zoneId, back, { undoable: false }));
    }
    const dx = patch.x === undefined ? 0 : patch.x - before.x;
    const dy = patch.y === undefined ? 0 : patch.y - before.y;
    const carried = new Map<string, Worktree>();
    if (dx || dy) {
      for (const n of entities.nodes.get()) if (isCard(n) && n.data.wt.zoneId === zoneId) carried.set(n.id, n.data.wt);
    }
    entities.nodes.update((ns) =>
      ns.map((n) => {
        if (n.id === zoneId && n.type === "zone")
          return toNode({ ...n.data.zone, ...patch }, { ...n, dragging: false });
        const wt = isCard(n) ? carried.get(n.id) : undefined;
        return wt && isCard(n) ? toCard({ ...wt, x: wt.x + dx, y: wt.y + dy }, { ...n, dragging: false }) : n;
      }),
    );
    entities.track(zoneId, 1);
    try {
      const zone = await unwrap(
        this.api.api.boards[":boardId"].zones[":zoneId"].$patch({
          param: { boardId: this.boardId, zoneId },
          json: patch,
        }),
      );
      if (entities.track(zoneId, -1) === 0) entities.upsertZone(zone);
    } catch (err) {
      entities.track(zoneId, -1);
      if (err instanceof ApiError && err.status === 404) entities.drop(zoneId);
      else
        entities.nodes.update((ns) =>
          ns.map((n) => {
            if (n.id === zoneId && n.type === "zone") return toNode(before, n);
            const wt = isCard(n) ? carried.get(n.id) : undefined;
            return wt && isCard(n) ? toCard(wt, n) : n;
          }),
        );
      notify(`Could not save the zone: ${messageOf(err)}`, "error");
    }
  }

  /** A zone's prompt and trigger, saved as one write; throws the edge's words for the editor to show. */
  async saveZoneTrigger(zoneId: string, body: Pick<Zone, "promptTemplate" | "trigger">): Promise<Zone> {
    const zone = await unwrap(
      this.api.api.boards[":boardId"].zones[":zoneId"].$patch({
        param: { boardId: this.boardId, zoneId },
        json: body,
      }),
    );
    this.entities.upsertZone(zone);
    return zone;
  }

  async removeZone(zoneId: string): Promise<void> {
    const node = this.entities.node(zoneId);
    this.entities.drop(zoneId);
    try {
      await expectOk(
        this.api.api.boards[":boardId"].zones[":zoneId"].$delete({ param: { boardId: this.boardId, zoneId } }),
      );
    } catch (err) {
      if (node && !(err instanceof ApiError && err.status === 404)) this.entities.nodes.update((ns) => [...ns, node]);
      notify(`Could not delete the zone: ${messageOf(err)}`, "error");
    }
  }

  /** Throws the API's message for the dialog to show; the card appears at once for everyone. */
  async createWorktree(body: NewWorktree): Promise<Worktree> {
    const wt = await unwrap(
      this.api.api.boards[":boardId"].worktrees.$post({ param: { boardId: this.boardId }, json: body }),
    );
    this.entities.upsertCard(wt);
    return wt;
  }

  /** Position, zone or notes: the card shows the change at once and rolls back if refused. */
  async patchWorktree(worktreeId: string, patch: WorktreePatch, opts: WriteOpts = {}): Promise<void> {
    const { entities } = this;
    const before = (entities.node(worktreeId) as WorktreeNode | undefined)?.data.wt;
    if (!before) return;
    if (opts.undoable !== false) {
      const back = Object.fromEntries(
        Object.keys(patch).map((k) => [k, before[k as keyof WorktreePatch]]),
      ) as WorktreePatch;
      this.history.record(opts.gesture, () => this.patchWorktree(worktreeId, back, { undoable: false }));
    }
    entities.nodes.update((ns) =>
      ns.map((n) =>
        n.id === worktreeId && n.type === "worktree"
          ? toCard({ ...n.data.wt, ...patch }, { ...n, dragging: false })
          : n,
      ),
    );
    entities.track(worktreeId, 1);
    try {
      const wt = await unwrap(
        this.api.api.boards[":boardId"].worktrees[":worktreeId"].$patch({
          param: { boardId: this.boardId, worktreeId },
          json: patch,
        }),
      );
      if (entities.track(worktreeId, -1) === 0) entities.upsertCard(wt);
    } catch (err) {
      entities.track(worktreeId, -1);
      if (err instanceof ApiError && err.status === 404) entities.drop(worktreeId);
      else
        entities.nodes.update((ns) =>
          ns.map((n) => (n.id === worktreeId && n.type === "worktree" ? toCard(before, n) : n)),
        );
      notify(`Could not save the worktree: ${messageOf(err)}`, "error");
    }
  }

  async refreshWorktree(worktreeId: string): Promise<void> {
    try {
      const job = await unwrap(
        this.api.api.boards[":boardId"].worktrees[":worktreeId"].refresh.$post({
          param: { boardId: this.boardId, worktreeId },
        }),
      );
      this.jobs.apply(job);
    } catch (err) {
      notify(messageOf(err), "error");
    }
  }

  /** Throws for the delete dialog. The card shows `deleting` until its runner reports back. */
  async deleteWorktree(
    worktreeId: string,
    opts: { force: boolean; deleteBranch: boolean; deleteUnmerged?: boolean },
  ): Promise<void> {
    const res = await this.api.api.boards[":boardId"].worktrees[":worktreeId"].$delete({
      param: { boardId: this.boardId, worktreeId },
      query: {
        force: String(opts.force) as "true" | "false",
        deleteBranch: String(opts.deleteBranch) as "true" | "false",
        deleteUnmerged: String(!!opts.deleteUnmerged) as "true" | "false",
      },
    });
    if (res.status === 204) return this.entities.drop(worktreeId);
    const wt = await unwrap(Promise.resolve(res));
    if (wt) this.entities.upsertCard(wt);
  }

  /** Run a failed card's create again, maybe with another branch, base or mode. Throws for the dialog. */
  async retryWorktree(
    worktreeId: string,
    edit: { mode?: "new" | "existing"; branch?: string; baseBranch?: string | null } = {},
  ): Promise<void> {
    const wt = await unwrap(
      this.api.api.boards[":boardId"].worktrees[":worktreeId"].retry.$post({
        param: { boardId: this.boardId, worktreeId },
        json: edit,
      }),
    );
    this.entities.upsertCard(wt);
  }

  async cancelJob(jobId: string): Promise<void> {
    try {
      this.jobs.apply(await unwrap(this.api.api.jobs[":jobId"].cancel.$post({ param: { jobId } })));
    } catch (err) {
      notify(messageOf(err), "error");
    }
  }

  async renameBoard(name: string): Promise<void> {
    try {
      this.entities.board.set(
        await unwrap(this.api.api.boards[":boardId"].$patch({ param: { boardId: this.boardId }, json: { name } })),
      );
    } catch (err) {
      notify(messageOf(err), "error");
    }
  }

  /** Member changes throw so the panel can show the API's message next to the form. */
  async invite(email: string, role: Exclude<Role, "owner">): Promise<void> {
    const m = await unwrap(
      this.api.api.boards[":boardId"].members.$post({ param: { boardId: this.boardId }, json: { email, role } }),
    );
    this.entities.members.update((ms) => (ms.some((x) => x.userId === m.userId) ? ms : [...ms, m]));
  }

  async changeRole(userId: string, role: Role): Promise<void> {
    const m = await unwrap(
      this.api.api.boards[":boardId"].members[":userId"].$patch({
        param: { boardId: this.boardId, userId },
        json: { role },
      }),
    );
    this.entities.members.update((ms) => ms.map((x) => (x.userId === m.userId ? m : x)));
  }

  async removeMember(userId: string): Promise<void> {
    await expectOk(
      this.api.api.boards[":boardId"].members[":userId"].$delete({ param: { boardId: this.boardId, userId } }),
    );
    this.entities.members.update((ms) => ms.filter((x) => x.userId !== userId));
  }
}
