import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import type { Board, EntityEvent, Job, Member, Role, User, Worktree, Zone } from "../../../protocol/index.ts";
import { ApiError, api, expectOk, messageOf, unwrap } from "../lib/api.ts";
import { navigate } from "../lib/router.tsx";
import { RunnerStore } from "../runners/store.ts";
import { notify } from "../ui/notices.tsx";
import { type BoardNode, isCard, toCard, type WorktreeNode, type ZoneNode } from "./cards.ts";
import { CardJobs } from "./jobs.ts";
import { RoomConnection } from "./room.ts";

export type { BoardNode, WorktreeNode, ZoneNode } from "./cards.ts";
export type ZonePatch = Partial<Pick<Zone, "name" | "color" | "x" | "y" | "width" | "height">>;
export type WorktreePatch = Partial<Pick<Worktree, "x" | "y" | "zoneId" | "notes">>;
export type LoadState = { status: "loading" } | { status: "ready" } | { status: "error"; message: string };
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

const MAX_BUFFERED = 500;
const MAX_UNDO = 100;

/** `gesture`: group this write with others for undo; `undoable: false` for undo's own writes. */
export type WriteOpts = { gesture?: number; undoable?: boolean };
/** The API's largest page: 3,000 cards are six requests. */
const CARD_PAGE = 500;
/** A board past this many cards shows the first ones and says so, rather than reading forever. */
const MAX_CARD_PAGES = 40;

/**
 * Zones sit under everything else on the board (worktree cards), selected or not: React Flow lifts a
 * selected node by 1,000, so a zone starts that far down and even a selected one stays under cards.
 */
const ZONE_Z = -1001;

/**
 * A zone row as a React Flow node. While this tab is dragging or resizing a zone, the local geometry
 * wins over whatever arrives, so a remote rename never yanks a zone out from under the pointer.
 */
export function toNode(zone: Zone, prev?: ZoneNode): ZoneNode {
  const busy = prev && (prev.dragging || prev.resizing);
  if (prev?.data.zone === zone) return prev;
  return {
    ...prev,
    id: zone.id,
    type: "zone",
    position: busy ? prev.position : { x: zone.x, y: zone.y },
    width: busy ? prev.width : zone.width,
    height: busy ? prev.height : zone.height,
    zIndex: ZONE_Z,
    data: { zone },
  };
}

const newer = (a: { updatedAt: number }, b: { updatedAt: number }) => a.updatedAt >= b.updatedAt;

/** Count a write in flight for a node (+1 when sent, -1 when answered); returns how many remain. */
function track(pending: Map<string, number>, id: string, delta: 1 | -1): number {
  const n = (pending.get(id) ?? 0) + delta;
  if (n > 0) pending.set(id, n);
  else pending.delete(id);
  return n;
}

/**
 * Merge a page of cards into the node list. Rows that did not change since we last saw them keep
 * their node object (a re-read after a reconnect then costs the canvas nothing), and a page that
 * changes nothing returns the same array, so React skips the render altogether.
 */
function mergeCards(ns: BoardNode[], rows: Worktree[], skip: (id: string) => boolean): BoardNode[] {
  const at = new Map<string, number>();
  for (let i = 0; i < ns.length; i++) at.set(ns[i]!.id, i);
  let next: BoardNode[] | null = null;
  for (const wt of rows) {
    const i = at.get(wt.id);
    if (i === undefined) {
      next ??= ns.slice();
      at.set(wt.id, next.length);
      next.push(toCard(wt));
      continue;
    }
    const prev = (next ?? ns)[i] as WorktreeNode;
    if (skip(wt.id) || prev.data.wt.updatedAt === wt.updatedAt) continue;
    next ??= ns.slice();
    next[i] = toCard(wt, prev);
  }
  return next ?? ns;
}

/**
 * Everything the board page knows: the board, its zones and worktree cards (as canvas nodes),
 * members, runners and open card jobs, kept current by the room's entity events and re-read over
 * REST whenever the room is (re)joined. D1 is the truth.
 */
export function useBoard(boardId: string, user: User) {
  const [load, setLoad] = useState<LoadState>({ status: "loading" });
  const [board, setBoard] = useState<Board | null>(null);
  const [nodes, setNodes] = useState<BoardNode[]>([]);
  const [members, setMembers] = useState<Member[]>([]);
  /** Cards read so far during the board's first load; null once all of them are in. */
  const [firstLoad, setFirstLoad] = useState<number | null>(0);
  const [runners] = useState(() => new RunnerStore(boardId));
  const [jobs] = useState(() => new CardJobs());
  /** Writes of ours in flight per node: our own echoes are skipped until the last one answers. */
  const pending = useRef(new Map<string, number>());
  const isPending = useCallback((id: string) => (pending.current.get(id) ?? 0) > 0, []);

  const upsertZone = useCallback((zone: Zone) => {
    setNodes((ns) => {
      const i = ns.findIndex((n) => n.id === zone.id);
      if (i < 0) return [...ns, toNode(zone)];
      const prev = ns[i] as ZoneNode;
      if (!newer(zone, prev.data.zone)) return ns;
      const next = ns.slice();
      next[i] = toNode(zone, prev);
      return next;
    });
  }, []);

  const upsertCard = useCallback((wt: Worktree) => {
    setNodes((ns) => {
      const i = ns.findIndex((n) => n.id === wt.id);
      if (i < 0) return [...ns, toCard(wt)];
      const prev = ns[i] as WorktreeNode;
      if (!newer(wt, prev.data.wt)) return ns;
      const next = ns.slice();
      next[i] = toCard(wt, prev);
      return next;
    });
  }, []);

  const dropNode = useCallback((id: string) => setNodes((ns) => ns.filter((n) => n.id !== id)), []);

  const left = useRef(false);
  const leave = useCallback((message: string) => {
    // The room says it twice (the entity event, then the socket close): tell the person once.
    if (left.current) return;
    left.current = true;
    notify(message, "error");
    navigate("/", { replace: true });
  }, []);

  const readMeta = useCallback(async () => {
    const boardIdParam = { param: { boardId } };
    const [b, z, m] = await Promise.all([
      unwrap(api.api.boards[":boardId"].$get(boardIdParam)),
      unwrap(api.api.boards[":boardId"].zones.$get(boardIdParam)),
      unwrap(api.api.boards[":boardId"].members.$get(boardIdParam)),
    ]);
    setBoard(b);
    setMembers(m.items);
    setNodes((ns) => {
      const prev = new Map(ns.map((n) => [n.id, n]));
      const zones = z.items.map((zone) => {
        const p = prev.get(zone.id) as ZoneNode | undefined;
        return p && isPending(zone.id) ? p : toNode(zone, p);
      });
      return [...zones, ...ns.filter(isCard)];
    });
  }, [boardId, isPending]);

  /**
   * Events that arrive while a REST read is in flight wait for it and are applied on top of the
   * snapshot, never under it: a card created or removed meanwhile would otherwise be undone. A
   * join (`welcome`) during a read means the part read before it may have missed a change whose
   * event came before we listened: that part, and only that part, is read once more right after.
   */
  const sync = useRef({
    running: null as Promise<void> | null,
    again: false,
    /** Room joins so far, to tell which requests went out before the latest one. */
    joins: 0,
    buffered: [] as EntityEvent[],
    overflow: false,
  });

  /**
   * Page through the cards in bounded pages, drawing each page as it lands. With `until`, reads
   * only the cards up to that id (the part of an earlier read that predates a join). Returns the
   * cursor of the first page requested after a join that happened meanwhile: "" when even the
   * first page was, undefined when none was.
   */
  const readCards = useCallback(
    async (opts: { until?: string; firstPage?: () => void }): Promise<string | undefined> => {
      const s = sync.current;
      const joinsAtStart = s.joins;
      const seen = new Set<string>();
      let cursor: string | undefined;
      let pages = 0;
      let joinCursor: string | undefined;
      let done = false;
      do {
        if (joinCursor === undefined && s.joins !== joinsAtStart) joinCursor = cursor ?? "";
        const page = await unwrap(
          api.api.boards[":boardId"].worktrees.$get({
            param: { boardId },
            query: cursor ? { limit: String(CARD_PAGE), cursor } : { limit: String(CARD_PAGE) },
          }),
        );
        for (const wt of page.items) seen.add(wt.id);
        setNodes((ns) => mergeCards(ns, page.items, isPending));
        if (!opts.until) setFirstLoad((n) => (n === null ? n : seen.size));
        if (++pages === 1) opts.firstPage?.();
        cursor = page.nextCursor ?? undefined;
        done = !cursor || (opts.until !== undefined && cursor >= opts.until);
      } while (!done && pages < MAX_CARD_PAGES);
      if (!done) notify(`This board has more than ${seen.size} worktrees: showing the first ${seen.size}.`, "error");
      else {
        // Cards gone while we were not listening (in the range this read covered).
        const gone = (n: BoardNode) =>
          isCard(n) && !seen.has(n.id) && !isPending(n.id) && (opts.until === undefined || n.id <= opts.until);
        setNodes((ns) => (ns.some(gone) ? ns.filter((n) => !gone(n)) : ns));
      }
      if (!opts.until) setFirstLoad(null);
      return joinCursor;
    },
    [boardId, isPending],
  );

  const catchUp = useCallback(
    (onFirstView?: () => void): Promise<void> => {
      const s = sync.current;
      if (s.running) {
        s.again = true;
        return s.running;
      }
      s.running = (async () => {
        try {
          let first = onFirstView;
          let until: string | undefined;
          let cards = true;
          do {
            s.again = false;
            let metaDone = false;
            let pageDone = !cards;
            const show = () => {
              if (!first || !metaDone || !pageDone) return;
              first();
              first = undefined;
            };
            const [, joinCursor]: [unknown, string | undefined] = await Promise.all([
              readMeta().then(() => {
                metaDone = true;
                show();
              }),
              cards
                ? readCards({
                    until,
                    firstPage: () => {
                      pageDone = true;
                      show();
                    },
                  })
                : undefined,
            ]);
            // Joined meanwhile: re-read what was read before the join (all of it if the join came
            // after the last page went out; none of the cards if it came before the first).
            cards = joinCursor !== "";
            until = joinCursor || undefined;
            jobs.clear();
            runners.loadBoard().catch(() => {});
          } while (s.again);
        } finally {
          s.running = null;
          const events = s.buffered;
          const again = s.overflow;
          s.buffered = [];
          s.overflow = false;
          for (const e of events) handlers.current.applyEntity(e);
          if (again) void handlers.current.catchUp().catch(() => {});
        }
      })();
      return s.running;
    },
    [readMeta, readCards, jobs, runners],
  );

  const onEntity = useCallback((e: EntityEvent) => {
    const s = sync.current;
    if (!s.running) return handlers.current.applyEntity(e);
    // A read that stalls while a busy board keeps talking: stop queueing, read once more after.
    if (s.buffered.length < MAX_BUFFERED) s.buffered.push(e);
    else s.overflow = true;
  }, []);

  const applyEntity = useCallback(
    (e: EntityEvent) => {
      switch (e.entity) {
        case "worktree":
          if (e.op === "removed") {
            jobs.forget(e.id);
            return dropNode(e.id);
          }
          if (e.actorId === user.id && isPending(e.id)) return;
          return upsertCard(e.row as Worktree);
        case "zone":
          if (e.op === "removed") {
            // The server detached its cards in the same write; mirror it rather than re-read them.
            return setNodes((ns) =>
              ns
                .filter((n) => n.id !== e.id)
                .map((n) => (isCard(n) && n.data.wt.zoneId === e.id ? toCard({ ...n.data.wt, zoneId: null }, n) : n)),
            );
          }
          if (e.actorId === user.id && isPending(e.id)) return;
          return upsertZone(e.row as Zone);
        case "job":
          return jobs.apply(e.row as Job);
        case "runner":
        case "repo":
          return runners.apply(e);
        case "board":
          if (e.op === "removed") return leave("This board was deleted.");
          // The event row is the board without anyone's role: keep ours.
          return setBoard((b) => (b ? { ...b, ...(e.row as Omit<Board, "role">), role: b.role } : b));
        case "member": {
          if (e.op === "removed") {
            if (e.id === user.id) return leave("You were removed from this board.");
            setMembers((ms) => ms.filter((m) => m.userId !== e.id));
            return;
          }
          const m = e.row as Member;
          setMembers((ms) =>
            ms.some((x) => x.userId === m.userId) ? ms.map((x) => (x.userId === m.userId ? m : x)) : [...ms, m],
          );
          if (m.userId === user.id) setBoard((b) => (b ? { ...b, role: m.role } : b));
        }
      }
    },
    [dropNode, leave, upsertZone, upsertCard, isPending, jobs, runners, user.id],
  );

  const [room, setRoom] = useState<RoomConnection | null>(null);
  const handlers = useRef({ applyEntity, catchUp, leave });
  handlers.current = { applyEntity, catchUp, leave };

  useEffect(() => {
    let live = true;
    let shown = false;
    catchUp(() => {
      shown = true;
      if (live) setLoad({ status: "ready" });
    }).catch((err) => {
      if (!live) return;
      const message =
        err instanceof ApiError && err.status === 404
          ? "This board does not exist, or you are not a member of it."
          : messageOf(err);
      // Before anything is on screen the page says why; after, a failed later page is a notice.
      if (shown) notify(message, "error");
      else setLoad({ status: "error", message });
    });
    const r = new RoomConnection(boardId, user.id, {
      entity: onEntity,
      // Every (re)join re-reads: whatever happened while we were not listening, including in the
      // moment between the first read above and the first join, is only in D1.
      welcomed: () => {
        sync.current.joins++;
        void handlers.current.catchUp().catch(() => {});
      },
      gone: (message) => handlers.current.leave(message),
    });
    setRoom(r);
    return () => {
      live = false;
      r.close();
      runners.close();
    };
  }, [boardId, user.id, catchUp, onEntity, runners]);

  // ---- writes: optimistic on the canvas, confirmed (or rolled back) by the API ----

  const nodesRef = useRef(nodes);
  nodesRef.current = nodes;

  /**
   * Undo (Ctrl/Cmd+Z) for this tab's moves and zone edits: each entry puts back what one write
   * changed, grouped by gesture (a multi-card drag is one step). Undoing is itself a write like any
   * other, so everyone sees it.
   */
  const history = useRef<{ gesture: number; undo: () => Promise<void> }[]>([]);
  const gestures = useRef(0);
  const record = useCallback((gesture: number | undefined, undo: () => Promise<void>) => {
    history.current.push({ gesture: gesture ?? ++gestures.current, undo });
    if (history.current.length > MAX_UNDO) history.current.shift();
  }, []);

  const actions = useMemo(() => {
    const actions = {
      /** Writes made with the same gesture number are undone together. */
      newGesture: () => ++gestures.current,

      /** Undo this tab's last move or zone edit (all of one gesture). False when there is none. */
      async undo(): Promise<boolean> {
        const top = history.current.at(-1);
        if (!top) return false;
        const step: (() => Promise<void>)[] = [];
        while (history.current.at(-1)?.gesture === top.gesture) step.push(history.current.pop()!.undo);
        await Promise.all(step.map((u) => u()));
        return true;
      },

      async addZone(at: { x: number; y: number }, count: number): Promise<Zone | null> {
        const body = {
          name: `Zone ${count + 1}`,
          color: ZONE_COLORS[count % ZONE_COLORS.length]!,
          x: Math.round(at.x),
          y: Math.round(at.y),
          ...ZONE_SIZE,
          promptTemplate: "",
        };
        try {
          const zone = await unwrap(api.api.boards[":boardId"].zones.$post({ param: { boardId }, json: body }));
          upsertZone(zone);
          return zone;
        } catch (err) {
          notify(messageOf(err), "error");
          return null;
        }
      },

      /**
       * A zone carries its cards: moving it moves every card in it by the same amount, here at once
       * and on the server in the same write (which announces each moved card to the board).
       */
      async patchZone(zoneId: string, patch: ZonePatch, opts: WriteOpts = {}) {
        const before = (nodesRef.current.find((n) => n.id === zoneId) as ZoneNode | undefined)?.data.zone;
        if (!before) return;
        if (opts.undoable !== false) {
          const back = Object.fromEntries(
            Object.keys(patch).map((k) => [k, before[k as keyof ZonePatch]]),
          ) as ZonePatch;
          record(opts.gesture, () => actions.patchZone(zoneId, back, { undoable: false }));
        }
        const dx = patch.x === undefined ? 0 : patch.x - before.x;
        const dy = patch.y === undefined ? 0 : patch.y - before.y;
        const carried = new Map<string, Worktree>();
        if (dx || dy) {
          for (const n of nodesRef.current) if (isCard(n) && n.data.wt.zoneId === zoneId) carried.set(n.id, n.data.wt);
        }
        setNodes((ns) =>
          ns.map((n) => {
            if (n.id === zoneId && n.type === "zone")
              return toNode({ ...n.data.zone, ...patch }, { ...n, dragging: false });
            const wt = isCard(n) ? carried.get(n.id) : undefined;
            return wt && isCard(n) ? toCard({ ...wt, x: wt.x + dx, y: wt.y + dy }, { ...n, dragging: false }) : n;
          }),
        );
        track(pending.current, zoneId, 1);
        try {
          const zone = await unwrap(
            api.api.boards[":boardId"].zones[":zoneId"].$patch({ param: { boardId, zoneId }, json: patch }),
          );
          if (track(pending.current, zoneId, -1) === 0) upsertZone(zone);
        } catch (err) {
          track(pending.current, zoneId, -1);
          if (err instanceof ApiError && err.status === 404) dropNode(zoneId);
          else
            setNodes((ns) =>
              ns.map((n) => {
                if (n.id === zoneId && n.type === "zone") return toNode(before, n);
                const wt = isCard(n) ? carried.get(n.id) : undefined;
                return wt && isCard(n) ? toCard(wt, n) : n;
              }),
            );
          notify(`Could not save the zone: ${messageOf(err)}`, "error");
        }
      },

      async removeZone(zoneId: string) {
        const node = nodesRef.current.find((n) => n.id === zoneId);
        dropNode(zoneId);
        try {
          await expectOk(api.api.boards[":boardId"].zones[":zoneId"].$delete({ param: { boardId, zoneId } }));
        } catch (err) {
          if (node && !(err instanceof ApiError && err.status === 404)) setNodes((ns) => [...ns, node]);
          notify(`Could not delete the zone: ${messageOf(err)}`, "error");
        }
      },

      /** Throws the API's message for the dialog to show; the card appears at once for everyone. */
      async createWorktree(body: NewWorktree): Promise<Worktree> {
        const wt = await unwrap(api.api.boards[":boardId"].worktrees.$post({ param: { boardId }, json: body }));
        upsertCard(wt);
        return wt;
      },

      /** Position, zone or notes: the card shows the change at once and rolls back if refused. */
      async patchWorktree(worktreeId: string, patch: WorktreePatch, opts: WriteOpts = {}) {
        const before = (nodesRef.current.find((n) => n.id === worktreeId) as WorktreeNode | undefined)?.data.wt;
        if (!before) return;
        if (opts.undoable !== false) {
          const back = Object.fromEntries(
            Object.keys(patch).map((k) => [k, before[k as keyof WorktreePatch]]),
          ) as WorktreePatch;
          record(opts.gesture, () => actions.patchWorktree(worktreeId, back, { undoable: false }));
        }
        setNodes((ns) =>
          ns.map((n) =>
            n.id === worktreeId && n.type === "worktree"
              ? toCard({ ...n.data.wt, ...patch }, { ...n, dragging: false })
              : n,
          ),
        );
        track(pending.current, worktreeId, 1);
        try {
          const wt = await unwrap(
            api.api.boards[":boardId"].worktrees[":worktreeId"].$patch({
              param: { boardId, worktreeId },
              json: patch,
            }),
          );
          if (track(pending.current, worktreeId, -1) === 0) upsertCard(wt);
        } catch (err) {
          track(pending.current, worktreeId, -1);
          if (err instanceof ApiError && err.status === 404) dropNode(worktreeId);
          else setNodes((ns) => ns.map((n) => (n.id === worktreeId && n.type === "worktree" ? toCard(before, n) : n)));
          notify(`Could not save the worktree: ${messageOf(err)}`, "error");
        }
      },

      async refreshWorktree(worktreeId: string) {
        try {
          const job = await unwrap(
            api.api.boards[":boardId"].worktrees[":worktreeId"].refresh.$post({ param: { boardId, worktreeId } }),
          );
          jobs.apply(job);
        } catch (err) {
          notify(messageOf(err), "error");
        }
      },

      /** Throws for the delete dialog. The card shows `deleting` until its runner reports back. */
      async deleteWorktree(
        worktreeId: string,
        opts: { force: boolean; deleteBranch: boolean; deleteUnmerged?: boolean },
      ) {
        const res = await api.api.boards[":boardId"].worktrees[":worktreeId"].$delete({
          param: { boardId, worktreeId },
          query: {
            force: String(opts.force) as "true" | "false",
            deleteBranch: String(opts.deleteBranch) as "true" | "false",
            deleteUnmerged: String(!!opts.deleteUnmerged) as "true" | "false",
          },
        });
        if (res.status === 204) return dropNode(worktreeId);
        const wt = await unwrap(Promise.resolve(res));
        if (wt) upsertCard(wt as Worktree);
      },

      /** Run a failed card's create again, maybe with another branch, base or mode. Throws for the dialog. */
      async retryWorktree(
        worktreeId: string,
        edit: { mode?: "new" | "existing"; branch?: string; baseBranch?: string | null } = {},
      ) {
        const wt = await unwrap(
          api.api.boards[":boardId"].worktrees[":worktreeId"].retry.$post({
            param: { boardId, worktreeId },
            json: edit,
          }),
        );
        upsertCard(wt);
      },

      async cancelJob(jobId: string) {
        try {
          jobs.apply(await unwrap(api.api.jobs[":jobId"].cancel.$post({ param: { jobId } })));
        } catch (err) {
          notify(messageOf(err), "error");
        }
      },

      async renameBoard(name: string) {
        try {
          setBoard(await unwrap(api.api.boards[":boardId"].$patch({ param: { boardId }, json: { name } })));
        } catch (err) {
          notify(messageOf(err), "error");
        }
      },

      /** Member changes throw so the panel can show the API's message next to the form. */
      async invite(email: string, role: Exclude<Role, "owner">) {
        const m = await unwrap(api.api.boards[":boardId"].members.$post({ param: { boardId }, json: { email, role } }));
        setMembers((ms) => (ms.some((x) => x.userId === m.userId) ? ms : [...ms, m]));
      },

      async changeRole(userId: string, role: Role) {
        const m = await unwrap(
          api.api.boards[":boardId"].members[":userId"].$patch({ param: { boardId, userId }, json: { role } }),
        );
        setMembers((ms) => ms.map((x) => (x.userId === m.userId ? m : x)));
      },

      async removeMember(userId: string) {
        await expectOk(api.api.boards[":boardId"].members[":userId"].$delete({ param: { boardId, userId } }));
        setMembers((ms) => ms.filter((x) => x.userId !== userId));
      },
    };
    return actions;
  }, [boardId, dropNode, upsertZone, upsertCard, jobs, record]);

  return { load, board, nodes, setNodes, members, room, actions, runners, jobs, cardsLoading: firstLoad };
}

export type BoardActions = ReturnType<typeof useBoard>["actions"];

/** Two columns and two rows of card slots (see `zoneGrid`). */
export const ZONE_SIZE = { width: 592, height: 344 };
export const ZONE_COLORS = ["#7c3aed", "#2563eb", "#0891b2", "#059669", "#d97706", "#dc2626", "#db2777", "#475569"];
