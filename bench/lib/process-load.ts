import { monitorEventLoopDelay } from "node:perf_hooks";

/**
 * How busy the bench's own process was during a phase: event-loop delay (a late callback inflates
 * every receive timestamp taken in it) and CPU as a share of one core. A load generator that is
 * itself saturated measures itself, not the server, so benches report these beside their figures.
 */
export interface ProcessLoad {
  lagP50Ms: number;
  lagP99Ms: number;
  lagMaxMs: number;
  cpuPct: number;
}

export function watchProcessLoad(): { stop(): ProcessLoad } {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  return {
    stop() {
      h.disable();
      const cpu = process.cpuUsage(cpu0);
      const wallUs = (performance.now() - t0) * 1000;
      // The histogram counts the whole delay incl. its own 1 ms resolution tick: subtract it.
      const ms = (ns: number) => Math.max(0, ns / 1e6 - 1);
      return {
        lagP50Ms: ms(h.percentile(50)),
        lagP99Ms: ms(h.percentile(99)),
        lagMaxMs: ms(h.max),
        cpuPct: (100 * (cpu.user + cpu.system)) / wallUs,
      };
    },
  };
}
