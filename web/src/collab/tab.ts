import type { BoardState } from "./attention.ts";

/** What the tab says before the board's name, and the favicon's dot, for each board state. */
export const TAB_MARK: Record<BoardState, { prefix: string; color: string | null; label: string }> = {
  "needs-you": { prefix: "● ", color: "#f59e0b", label: "An agent is waiting for you" },
  failed: { prefix: "✕ ", color: "#dc2626", label: "A session failed" },
  running: { prefix: "▸ ", color: "#16a34a", label: "Agents are running" },
  idle: { prefix: "", color: null, label: "" },
};

export function tabTitle(state: BoardState, boardName: string | undefined): string {
  const name = boardName ? `${boardName} · Trellis` : "Trellis";
  return `${TAB_MARK[state].prefix}${name}`;
}

/**
 * The favicon as a data URL: the app's mark with a coloured dot in the corner for the state
 * (none when idle). Drawn on a canvas so no image files are needed per state.
 */
export function drawFavicon(state: BoardState, doc: Document = document): string | null {
  const canvas = doc.createElement("canvas");
  canvas.width = 32;
  canvas.height = 32;
  const g = canvas.getContext("2d");
  if (!g) return null;
  g.fillStyle = "#6d28d9";
  g.beginPath();
  g.roundRect(2, 2, 28, 28, 8);
  g.fill();
  g.strokeStyle = "#fff";
  g.lineWidth = 2.4;
  g.lineCap = "round";
  for (const y of [10, 16, 22]) {
    g.beginPath();
    g.moveTo(9, y);
    g.lineTo(23, y);
    g.stroke();
  }
  const color = TAB_MARK[state].color;
  if (color) {
    g.fillStyle = "#fff";
    g.beginPath();
    g.arc(24, 24, 8, 0, Math.PI * 2);
    g.fill();
    g.fillStyle = color;
    g.beginPath();
    g.arc(24, 24, 6, 0, Math.PI * 2);
    g.fill();
  }
  return canvas.toDataURL("image/png");
}
