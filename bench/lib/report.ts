/**
 * The one output contract every bench shares (DESIGN, "Budgets"): human-readable detail first,
 * then the figures last as one line, `bench NAME key=value ...`, so scripts can take the last line.
 */
export type Figure = number | string | boolean;

/** Round to what a person can read and a script can compare: 2 decimals below 10, 1 below 1000. */
export function formatFigure(v: Figure): string {
  if (typeof v !== "number") return String(v);
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  const abs = Math.abs(v);
  return String(abs < 10 ? Math.round(v * 100) / 100 : abs < 1000 ? Math.round(v * 10) / 10 : Math.round(v));
}

export function figuresLine(name: string, figures: Record<string, Figure>): string {
  const parts = Object.entries(figures).map(([k, v]) => `${k}=${formatFigure(v)}`);
  return `bench ${name} ${parts.join(" ")}`;
}

/** Print the final figures line. Call it last: nothing may be printed after it. */
export function printFigures(name: string, figures: Record<string, Figure>): void {
  process.stdout.write(`${figuresLine(name, figures)}\n`);
}

/** A detail line for people (stderr would interleave badly with child output, so stdout, prefixed). */
export function note(message: string): void {
  process.stdout.write(`  ${message}\n`);
}
