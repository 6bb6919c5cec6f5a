declare global {
  interface Window {
    /** Renders of the board canvas so far; set only on `?bench=1` (bench/stream reads it). */
    __trellisCanvasRenders?: number;
  }
}

// Read when the page loads: the board drops its link's query (`?session=…`) as soon as it has
// opened what the link asked for, which may be before the canvas first renders.
const counting = typeof window !== "undefined" && new URLSearchParams(window.location.search).get("bench") === "1";

/**
 * One render of the board canvas, counted for `npm run bench:stream` when the page was opened with
 * `?bench=1`; otherwise a check of a cached boolean. Streaming text must never re-render the canvas.
 */
export function countCanvasRender(): void {
  if (counting) window.__trellisCanvasRenders = (window.__trellisCanvasRenders ?? 0) + 1;
}
