import { addUsage, type Session, type Usage, ZERO_USAGE } from "../../../protocol/index.ts";

/** One line of a card's genealogy tree. */
export interface SessionNode {
  session: Session;
  /** 0 for a root; children of a session in the same worktree sit one level under it. */
  depth: number;
  /** How it came from its parent; null for a root started by a person. */
  mark: "fork" | "spawn" | null;
}

/** What a worktree card shows of its sessions, computed once per change of that worktree's sessions. */
export interface WorktreeSessions {
  nodes: readonly SessionNode[];
  usage: Usage;
  costMicros: number;
  unpriced: boolean;
  /** Sessions waiting for a person to approve a tool call. */
  awaiting: number;
}

export interface Totals {
  usage: Usage;
  costMicros: number;
  unpriced: boolean;
  sessions: number;
}

export const NO_TOTALS: Totals = { usage: ZERO_USAGE, costMicros: 0, unpriced: false, sessions: 0 };

/** Ids are time-ordered: sorting by id is sorting by creation. */
const byId = (a: Session, b: Session) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * A worktree's sessions in tree order: each root (oldest first), then its forks and spawned
 * children under it, depth-first. A session whose parent is in another worktree (a fork moved
 * there) is a root here, still marked as a fork. A cycle cannot come from the edge, but the walk
 * would not loop on one: every session is placed once.
 */
export function buildTree(sessions: readonly Session[]): SessionNode[] {
  const here = new Set(sessions.map((s) => s.id));
  const children = new Map<string, Session[]>();
  const roots: Session[] = [];
  for (const s of [...sessions].sort(byId)) {
    if (s.parentId && here.has(s.parentId) && s.parentId !== s.id) {
      const list = children.get(s.parentId) ?? [];
      list.push(s);
      children.set(s.parentId, list);
    } else roots.push(s);
  }
  const out: SessionNode[] = [];
  const placed = new Set<string>();
  const walk = (s: Session, depth: number) => {
    if (placed.has(s.id)) return;
    placed.add(s.id);
    out.push({ session: s, depth, mark: s.origin });
    for (const c of children.get(s.id) ?? []) walk(c, depth + 1);
  };
  for (const r of roots) walk(r, 0);
  // Whatever a cycle left out still shows, as roots.
  for (const s of sessions) if (!placed.has(s.id)) walk(s, 0);
  return out;
}

export function summarize(sessions: readonly Session[]): WorktreeSessions {
  let usage = ZERO_USAGE;
  let costMicros = 0;
  let unpriced = false;
  let awaiting = 0;
  for (const s of sessions) {
    usage = addUsage(usage, s.usage);
    costMicros += s.costMicros;
    unpriced ||= s.unpriced;
    if (s.status === "awaiting_permission") awaiting++;
  }
  return { nodes: buildTree(sessions), usage, costMicros, unpriced, awaiting };
}

export function totalsOf(sessions: Iterable<Session>): Totals {
  let usage = ZERO_USAGE;
  let costMicros = 0;
  let unpriced = false;
  let count = 0;
  for (const s of sessions) {
    usage = addUsage(usage, s.usage);
    costMicros += s.costMicros;
    unpriced ||= s.unpriced;
    count++;
  }
  return { usage, costMicros, unpriced, sessions: count };
}

export const sameTotals = (a: Totals, b: Totals) =>
  a.costMicros === b.costMicros &&
  a.unpriced === b.unpriced &&
  a.sessions === b.sessions &&
  a.usage.input === b.usage.input &&
  a.usage.output === b.usage.output &&
  a.usage.cacheRead === b.usage.cacheRead &&
  a.usage.cacheWrite === b.usage.cacheWrite;
