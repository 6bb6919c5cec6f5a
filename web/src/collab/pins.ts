import type { Comment } from "../../../protocol/index.ts";

export interface Pin {
  threadId: string;
  x: number;
  y: number;
  resolved: boolean;
  replies: number;
  authorName: string;
  body: string;
}

/** The canvas's pins: board threads with a point, open ones always, resolved ones when asked for. */
export function pinsOf(all: Iterable<Comment>, showResolved: boolean): Pin[] {
  const replies = new Map<string, number>();
  const roots: Comment[] = [];
  for (const c of all) {
    if (c.threadId) replies.set(c.threadId, (replies.get(c.threadId) ?? 0) + 1);
    else if (c.target === "board" && c.x !== null && c.y !== null) roots.push(c);
  }
  return roots
    .filter((c) => showResolved || !c.resolvedAt)
    .sort((a, b) => (a.id < b.id ? -1 : 1))
    .map((c) => ({
      threadId: c.id,
      x: c.x!,
      y: c.y!,
      resolved: !!c.resolvedAt,
      replies: replies.get(c.id) ?? 0,
      authorName: c.authorName,
      body: c.body,
    }));
}

/**
 * A pin drawn inside the viewport layer sits at its flow point and is counter-scaled so it keeps
 * its size at any zoom; its tip (bottom-left corner) is the point.
 */
export function pinTransform(pin: Pick<Pin, "x" | "y">, zoom: number): string {
  return `translate(${pin.x}px, ${pin.y}px) scale(${1 / zoom})`;
}

/** Where the view goes to show a place: centred on it, at a zoom where a card reads. */
export function revealViewport(
  center: { x: number; y: number },
  screen: { width: number; height: number },
  zoom = 1,
): { x: number; y: number; zoom: number } {
  return { x: screen.width / 2 - center.x * zoom, y: screen.height / 2 - center.y * zoom, zoom };
}
