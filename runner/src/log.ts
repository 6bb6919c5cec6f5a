/** Plain log lines on stdout, one per thing the runner does, prefixed with the local time. */
export function log(message: string): void {
  const t = new Date();
  const hh = String(t.getHours()).padStart(2, "0");
  const mm = String(t.getMinutes()).padStart(2, "0");
  const ss = String(t.getSeconds()).padStart(2, "0");
  process.stdout.write(`${hh}:${mm}:${ss} ${message}\n`);
}

/** First line of an error, for log lines; the full text goes to the edge. */
export function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split("\n").find((l) => l.trim()) ?? text;
}
