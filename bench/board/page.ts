/**
 * What runs inside the board page during the benchmark. Each function is serialized into the page
 * by playwright, so it uses nothing from its module: only the DOM and its own arguments.
 */

export interface MountMarks {
  /** First worktree card in the DOM (progressive rendering: the first page of cards landed). */
  firstCard: number;
  /** Every page loaded and merged (`data-loaded` on the canvas) with cards on screen. */
  loaded: number;
  /** The frame after that one was produced: the board is drawn and the main thread free again. */
  interactive: number;
  longTasks: number;
  longTaskMs: number;
  cardsInDom: number;
}

declare global {
  interface Window {
    __mount?: Promise<MountMarks>;
  }
}

/**
 * Installed before any page script runs (`addInitScript`): watches the DOM from navigation start.
 * Times are `performance.now()`, i.e. milliseconds since the navigation started.
 */
export function installMountProbe(): void {
  let longTasks = 0;
  let longTaskMs = 0;
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        longTasks++;
        longTaskMs += e.duration;
      }
    }).observe({ type: "longtask", buffered: true });
  } catch {}
  window.__mount = new Promise((resolve) => {
    let firstCard = 0;
    const cardsVisible = () =>
      document.querySelector(".react-flow__node-worktree") ??
      document.querySelector('canvas[data-cards-drawn]:not([data-cards-drawn="0"])');
    const check = () => {
      if (!firstCard && cardsVisible()) firstCard = performance.now();
      if (!firstCard || !document.querySelector('[data-testid="canvas"][data-loaded="true"]')) return;
      observer.disconnect();
      const loaded = performance.now();
      requestAnimationFrame(() =>
        requestAnimationFrame(() =>
          resolve({
            firstCard,
            loaded,
            interactive: performance.now(),
            longTasks,
            longTaskMs,
            cardsInDom: document.querySelectorAll(".react-flow__node-worktree").length,
          }),
        ),
      );
    };
    const observer = new MutationObserver(check);
    observer.observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-loaded"] });
  });
}

export interface PanResult {
  frames: number;
  elapsedMs: number;
  frameMs: number[];
  zoom: number;
  cardsInDomMax: number;
}

/** The canvas's current zoom, read from React Flow's viewport transform. */
export function currentZoom(): number {
  const el = document.querySelector(".react-flow__viewport") as HTMLElement | null;
  if (!el) return Number.NaN;
  return new DOMMatrixReadOnly(getComputedStyle(el).transform).a;
}

/**
 * Pan with wheel events (the board pans on scroll, as trackpads and wheels do), one event per
 * animation frame, at a constant speed in screen pixels per second along `path` (unit vectors taken
 * in turn for equal shares of the time). Counts the frames the page produced meanwhile.
 */
export function pan(args: { seconds: number; speed: number; path: number[][] }): Promise<PanResult> {
  const target = document.querySelector(".react-flow__pane") as HTMLElement;
  const rect = target.getBoundingClientRect();
  const cx = rect.left + rect.width / 2;
  const cy = rect.top + rect.height / 2;
  const frameMs: number[] = [];
  let cardsInDomMax = 0;
  return new Promise((resolve) => {
    let t0 = 0;
    let last = 0;
    const step = (now: number) => {
      if (!t0) {
        t0 = now;
        last = now;
      } else {
        frameMs.push(now - last);
      }
      const dt = (now - last) / 1000;
      last = now;
      const t = (now - t0) / 1000;
      if (t >= args.seconds) {
        const el = document.querySelector(".react-flow__viewport") as HTMLElement;
        resolve({
          frames: frameMs.length,
          elapsedMs: now - t0,
          frameMs,
          zoom: new DOMMatrixReadOnly(getComputedStyle(el).transform).a,
          cardsInDomMax,
        });
        return;
      }
      const [lx = 0, ly = 0] =
        args.path[Math.min(args.path.length - 1, Math.floor((t / args.seconds) * args.path.length))]!;
      if (dt > 0) {
        target.dispatchEvent(
          new WheelEvent("wheel", {
            deltaX: lx * args.speed * dt,
            deltaY: ly * args.speed * dt,
            deltaMode: 0,
            clientX: cx,
            clientY: cy,
            bubbles: true,
            cancelable: true,
          }),
        );
      }
      if (frameMs.length % 30 === 0) {
        cardsInDomMax = Math.max(cardsInDomMax, document.querySelectorAll(".react-flow__node-worktree").length);
      }
      requestAnimationFrame(step);
    };
    requestAnimationFrame(step);
  });
}

/** Frames the page produces in `ms` with nothing to do: the ceiling `pan` can reach here. */
export function idleFps(ms: number): Promise<number> {
  return new Promise((resolve) => {
    let n = 0;
    let t0 = 0;
    const step = (now: number) => {
      if (!t0) t0 = now;
      else n++;
      if (now - t0 >= ms) resolve((n * 1000) / (now - t0));
      else requestAnimationFrame(step);
    };
    requestAnimationFrame(step);
  });
}

/**
 * Zoom with ctrl+wheel (a trackpad pinch) around the screen point that shows canvas point
 * (`x`, `y`), until the zoom is near `target`: that canvas point stays where it was on screen.
 */
export async function zoomTo(args: { target: number; x: number; y: number }): Promise<number> {
  const pane = document.querySelector(".react-flow__pane") as HTMLElement;
  const rect = pane.getBoundingClientRect();
  const matrix = () =>
    new DOMMatrixReadOnly(getComputedStyle(document.querySelector(".react-flow__viewport") as HTMLElement).transform);
  const m0 = matrix();
  const clientX = rect.left + args.x * m0.a + m0.e;
  const clientY = rect.top + args.y * m0.a + m0.f;
  for (let i = 0; i < 400; i++) {
    const z = matrix().a;
    if (Math.abs(Math.log(z / args.target)) < 0.02) return z;
    pane.dispatchEvent(
      new WheelEvent("wheel", {
        deltaY: Math.max(-60, Math.min(60, -Math.log(args.target / z) * 150)),
        ctrlKey: true,
        clientX,
        clientY,
        bubbles: true,
        cancelable: true,
      }),
    );
    await new Promise((r) => requestAnimationFrame(r));
  }
  return matrix().a;
}
