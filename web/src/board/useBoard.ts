import type { Node } from "@xyflow/react";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import type { Board, EntityEvent, Member, Role, User, Zone } from "../../../protocol/index.ts";
import { ApiError, api, expectOk, messageOf, unwrap } from "../lib/api.ts";
import { navigate } from "../lib/router.tsx";
import { notify } from "../ui/notices.tsx";
import { RoomConnection } from "./room.ts";

export type ZoneNode = Node<{ zone: Zone }, "zone">;
export type ZonePatch = Partial<Pick<Zone, "name" | "color" | "x" | "y" | "width" | "height">>;
export type LoadState = { status: "loading" } | { status: "ready" } | { status: "error"; message: string };

const MAX_BUFFERED = 500;

/** Zones sit under everything later issues put on the board (worktree cards). */
const ZONE_Z = -1;

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

const newer = (a: Zone, b: Zone) => a.updatedAt >= b.updatedAt;

/** Count a write in flight for a zone (+1 when sent, -1 when answered); returns how many remain. */
function track(pending: Map<string, number>, zoneId: string, delta: 1 | -1): number {
  const n = (pending.get(zoneId) ?? 0) + delta;
  if (n > 0) pending.set(zoneId, n);
  else pending.delete(zoneId);
  return n;
}

/**
 * Everything the board page knows: the board, its zones (as canvas nodes) and members, kept current
 * by the room's entity events, re-read over REST whenever the room is (re)joined. D1 is the truth.
 */
export function useBoard(boardId: string, user: User) {
  const [load, setLoad] = useState<LoadState>({ status: "loading" });
  const [board, setBoard] = useState<Board | null>(null);
  const [nodes, setNodes] = useState<ZoneNode[]>([]);
  const [members, setMembers] = useState<Member[]>([]);
  /** Writes of ours in flight per zone: our own echoes are skipped until the last one answers. */
  const pending = useRef(new Map<string, number>());

  const upsertZone = useCallback((zone: Zone) => {
    setNodes((ns) => {
      const i = ns.findIndex((n) => n.id === zone.id);
      if (i < 0) return [...ns, toNode(zone)];
      const prev = ns[i]!;
      if (!newer(zone, prev.data.zone)) return ns;
      const next = ns.slice();
      next[i] = toNode(zone, prev);
      return next;
    });
  }, []);

  const dropZone = useCallback((id: string) => setNodes((ns) => ns.filter((n) => n.id !== id)), []);

  const left = useRef(false);
  const leave = useCallback((message: string) => {
    // The room says it twice (the entity event, then the socket close): tell the person once.
    if (left.current) return;
    left.current = true;
    notify(message, "error");
    navigate("/", { replace: true });
  }, []);

  /**
   * Events that arrive while a REST read is in flight wait for it and are applied on top of the
   * snapshot, never under it: a zone created or removed meanwhile would otherwise be undone.
   */
  const sync = useRef({ reads: 0, buffered: [] as EntityEvent[], overflow: false });

  const catchUp = useCallback(async (): Promise<void> => {
    const s = sync.current;
    s.reads++;
    try {
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
        return z.items.map((zone) => {
          const p = prev.get(zone.id);
          return p && (pending.current.get(zone.id) ?? 0) > 0 ? p : toNode(zone, p);
        });
      });
    } finally {
      if (--s.reads === 0) {
        const events = s.buffered;
        const again = s.overflow;
        s.buffered = [];
        s.overflow = false;
        for (const e of events) handlers.current.applyEntity(e);
        if (again) void handlers.current.catchUp().catch(() => {});
      }
    }
  }, [boardId]);

  const onEntity = useCallback((e: EntityEvent) => {
    const s = sync.current;
    if (s.reads === 0) return handlers.current.applyEntity(e);
    // A read that stalls while a busy board keeps talking: stop queueing, read once more after.
    if (s.buffered.length < MAX_BUFFERED) s.buffered.push(e);
    else s.overflow = true;
  }, []);

  const applyEntity = useCallback(
    (e: EntityEvent) => {
      if (e.entity === "zone") {
        if (e.op === "removed") return dropZone(e.id);
        if (e.actorId === user.id && (pending.current.get(e.id) ?? 0) > 0) return;
        upsertZone(e.row as Zone);
      } else if (e.entity === "board") {
        if (e.op === "removed") return leave("This board was deleted.");
        // The event row is the board without anyone's role: keep ours.
        setBoard((b) => (b ? { ...b, ...(e.row as Omit<Board, "role">), role: b.role } : b));
      } else if (e.entity === "member") {
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
    },
    [dropZone, leave, upsertZone, user.id],
  );

  const [room, setRoom] = useState<RoomConnection | null>(null);
  const handlers = useRef({ applyEntity, catchUp, leave });
  handlers.current = { applyEntity, catchUp, leave };

  useEffect(() => {
    let live = true;
    catchUp()
      .then(() => live && setLoad({ status: "ready" }))
      .catch((err) => {
        if (!live) return;
        const message =
          err instanceof ApiError && err.status === 404
            ? "This board does not exist, or you are not a member of it."
            : messageOf(err);
        setLoad({ status: "error", message });
      });
    const r = new RoomConnection(boardId, user.id, {
      entity: onEntity,
      // Every (re)join re-reads: whatever happened while we were not listening, including in the
      // moment between the first read above and the first join, is only in D1.
      welcomed: () => void handlers.current.catchUp().catch(() => {}),
      gone: (message) => handlers.current.leave(message),
    });
    setRoom(r);
    return () => {
      live = false;
      r.close();
    };
  }, [boardId, user.id, catchUp, onEntity]);

  // ---- writes: optimistic on the canvas, confirmed (or rolled back) by the API ----

  const nodesRef = useRef(nodes);
  nodesRef.current = nodes;

  const actions = useMemo(
    () => ({
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

      async patchZone(zoneId: string, patch: ZonePatch) {
        const before = nodesRef.current.find((n) => n.id === zoneId)?.data.zone;
        if (!before) return;
        setNodes((ns) =>
          ns.map((n) => (n.id === zoneId ? toNode({ ...n.data.zone, ...patch }, { ...n, dragging: false }) : n)),
        );
        track(pending.current, zoneId, 1);
        try {
          const zone = await unwrap(
            api.api.boards[":boardId"].zones[":zoneId"].$patch({ param: { boardId, zoneId }, json: patch }),
          );
          if (track(pending.current, zoneId, -1) === 0) upsertZone(zone);
        } catch (err) {
          track(pending.current, zoneId, -1);
          if (err instanceof ApiError && err.status === 404) dropZone(zoneId);
          else setNodes((ns) => ns.map((n) => (n.id === zoneId ? toNode(before, n) : n)));
          notify(`Could not save the zone: ${messageOf(err)}`, "error");
        }
      },

      async removeZone(zoneId: string) {
        const node = nodesRef.current.find((n) => n.id === zoneId);
        dropZone(zoneId);
        try {
          await expectOk(api.api.boards[":boardId"].zones[":zoneId"].$delete({ param: { boardId, zoneId } }));
        } catch (err) {
          if (node && !(err instanceof ApiError && err.status === 404)) setNodes((ns) => [...ns, node]);
          notify(`Could not delete the zone: ${messageOf(err)}`, "error");
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
    }),
    [boardId, dropZone, upsertZone],
  );

  return { load, board, nodes, setNodes, members, room, actions };
}

export type BoardActions = ReturnType<typeof useBoard>["actions"];

export const ZONE_SIZE = { width: 480, height: 320 };
export const ZONE_COLORS = ["#7c3aed", "#2563eb", "#0891b2", "#059669", "#d97706", "#dc2626", "#db2777", "#475569"];
