import { type ReactNode, useCallback, useEffect, useLayoutEffect, useReducer, useRef, useState } from "react";
import { RowHeights, windowOf } from "./windowing.ts";

/** How close to the end counts as "at the end", where new rows keep the view pinned. */
const PINNED_PX = 48;

/**
 * A vertical list that draws only the rows near its viewport (a thousand-message transcript opens
 * at once), measuring each drawn row so the spacers stay true. Pinned to the end while the person
 * is there, so streaming text stays in view; scrolled up, it stays where they are.
 */
export function WindowedList<T extends { key: string }>({
  items,
  render,
  estimate = 90,
  className,
  testId,
  scrollTo,
}: {
  items: readonly T[];
  render: (item: T) => ReactNode;
  estimate?: number;
  className?: string;
  testId?: string;
  /** Bring this row to the middle of the view (once per `n`), and stop following the end. */
  scrollTo?: { key: string; n: number };
}) {
  const ref = useRef<HTMLDivElement>(null);
  const [heights] = useState(() => new RowHeights(estimate));
  const [view, setView] = useState({ top: 0, height: 800 });
  const [, remeasured] = useReducer((n: number) => n + 1, 0);
  const pinned = useRef(true);
  const observer = useRef<ResizeObserver | null>(null);

  useEffect(() => {
    const ro = new ResizeObserver((entries) => {
      let changed = false;
      for (const e of entries) {
        const key = (e.target as HTMLElement).dataset.rowKey;
        const h = e.borderBoxSize?.[0]?.blockSize ?? e.contentRect.height;
        if (key && heights.set(key, h)) changed = true;
      }
      if (changed) remeasured();
    });
    observer.current = ro;
    for (const el of ref.current?.querySelectorAll<HTMLElement>("[data-row-key]") ?? []) ro.observe(el);
    return () => ro.disconnect();
  }, [heights]);

  useLayoutEffect(() => {
    const box = ref.current;
    if (!box) return;
    const onResize = () => setView({ top: box.scrollTop, height: box.clientHeight });
    const ro = new ResizeObserver(onResize);
    ro.observe(box);
    onResize();
    return () => ro.disconnect();
  }, []);

  const w = windowOf(heights.of(items.map((i) => i.key)), view.top, view.height);

  // After every render: pinned, the end stays in view (new rows, longer streaming text).
  useLayoutEffect(() => {
    const box = ref.current;
    if (box && pinned.current && box.scrollHeight - box.scrollTop - box.clientHeight > 1) {
      box.scrollTop = box.scrollHeight;
    }
  });

  // Asked for a row: scroll to where the estimates put it, then, once it is drawn, centre it.
  const reached = useRef("");
  useLayoutEffect(() => {
    const box = ref.current;
    if (!box || !scrollTo || reached.current === `${scrollTo.key}:${scrollTo.n}`) return;
    const at = items.findIndex((i) => i.key === scrollTo.key);
    if (at < 0) return;
    pinned.current = false;
    const el = [...box.querySelectorAll<HTMLElement>("[data-row-key]")].find((e) => e.dataset.rowKey === scrollTo.key);
    if (el) {
      reached.current = `${scrollTo.key}:${scrollTo.n}`;
      const off = el.getBoundingClientRect().top - box.getBoundingClientRect().top;
      box.scrollTop += off - Math.max(0, (box.clientHeight - el.offsetHeight) / 2);
      return;
    }
    const hs = heights.of(items.map((i) => i.key));
    let y = 0;
    for (let i = 0; i < at; i++) y += hs[i]!;
    box.scrollTop = Math.max(0, y - box.clientHeight / 2);
    setView({ top: box.scrollTop, height: box.clientHeight });
  });

  const onScroll = useCallback(() => {
    const box = ref.current;
    if (!box) return;
    pinned.current = box.scrollHeight - box.scrollTop - box.clientHeight < PINNED_PX;
    setView((v) =>
      v.top === box.scrollTop && v.height === box.clientHeight ? v : { top: box.scrollTop, height: box.clientHeight },
    );
  }, []);

  const rowRef = useCallback((node: HTMLElement | null) => {
    if (!node) return;
    observer.current?.observe(node);
    return () => observer.current?.unobserve(node);
  }, []);

  return (
    <div ref={ref} className={className} onScroll={onScroll} data-testid={testId} data-rows={items.length}>
      <div className="list-spacer" style={{ height: w.before }} aria-hidden="true" />
      {items.slice(w.start, w.end).map((item) => (
        <div key={item.key} ref={rowRef} data-row-key={item.key}>
          {render(item)}
        </div>
      ))}
      <div className="list-spacer" style={{ height: w.after }} aria-hidden="true" />
    </div>
  );
}
