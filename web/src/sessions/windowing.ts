/**
 * The arithmetic of a windowed list whose rows have different heights: only the rows near the
 * viewport are in the DOM, and spacers above and below stand for the rest. A row not yet seen
 * counts at an estimate; once drawn its measured height replaces it.
 */

export interface ListWindow {
  /** Rows [start, end) are drawn. */
  start: number;
  end: number;
  /** Height of the rows above `start` and below `end`. */
  before: number;
  after: number;
  total: number;
}

export function windowOf(heights: ArrayLike<number>, scrollTop: number, viewport: number, overscan = 600): ListWindow {
  const n = heights.length;
  const top = Math.max(0, scrollTop - overscan);
  const bottom = scrollTop + viewport + overscan;
  let y = 0;
  let start = n;
  let end = n;
  let before = 0;
  for (let i = 0; i < n; i++) {
    const h = heights[i]!;
    if (start === n && y + h > top) {
      start = i;
      before = y;
    }
    if (start !== n && y >= bottom) {
      end = i;
      break;
    }
    y += h;
  }
  if (start === n) before = y;
  let total = y;
  for (let i = end; i < n; i++) total += heights[i]!;
  let drawn = 0;
  for (let i = start; i < end; i++) drawn += heights[i]!;
  return { start, end, before, after: total - before - drawn, total };
}

/** Measured heights by row key, with an estimate for rows never drawn. */
export class RowHeights {
  private measured = new Map<string, number>();

  constructor(private readonly estimate: number) {}

  /** True when the height changed (the window then needs working out again). */
  set(key: string, height: number): boolean {
    const h = Math.max(1, Math.round(height));
    if (this.measured.get(key) === h) return false;
    this.measured.set(key, h);
    return true;
  }

  of(keys: readonly string[]): number[] {
    return keys.map((k) => this.measured.get(k) ?? this.estimate);
  }
}
