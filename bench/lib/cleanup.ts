/**
 * Benches start servers in their own process groups (wrangler dev is detached), so a Ctrl-C or a
 * hung phase must still stop them. Register a stop for each thing started; `withDeadline` bounds the
 * whole run and exits non-zero, after cleaning up, if it overruns.
 */
const stops = new Set<() => Promise<void>>();

export function onCleanup(stop: () => Promise<void>): () => void {
  stops.add(stop);
  return () => stops.delete(stop);
}

async function cleanupAll(): Promise<void> {
  const pending = [...stops];
  stops.clear();
  await Promise.allSettled(pending.map((s) => s()));
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    process.stdout.write(`\n  ${signal}: stopping what the bench started\n`);
    void cleanupAll().finally(() => process.exit(130));
  });
}

export async function withDeadline<T>(ms: number, run: () => Promise<T>): Promise<T> {
  const timer = setTimeout(() => {
    process.stdout.write(`  bench overran its ${Math.round(ms / 1000)} s bound: stopping\n`);
    void cleanupAll().finally(() => process.exit(1));
  }, ms);
  try {
    return await run();
  } finally {
    clearTimeout(timer);
    await cleanupAll();
  }
}
