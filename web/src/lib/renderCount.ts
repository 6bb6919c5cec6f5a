declare global {
  interface Window {
    /** Renders of the board canvas so far; set only on `?bench=1` (bench/stream reads it). */
    __trellisCanvasRenders?: number;
  }
}

let counting: boolean | undefined;

/**
 * One render of the board canvas, counted for `npm run bench:stream` when the page was opened with
 * `?bench=1`; otherwise a check of a cached boolean. Streaming text must never re-render the canvas.
 */
export function countCanvasRender(): void {
  counting ??= new URLSearchParams(window.location.search).get("bench") === "1";
  if (counting) window.__trellisCanvasRenders = (window.__trellisCanvasRenders ?? 0) + 1;
}
