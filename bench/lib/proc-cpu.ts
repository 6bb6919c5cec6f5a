import { readdirSync, readFileSync } from "node:fs";

/**
 * CPU used by the processes a bench started (wrangler's node, workerd, a comparison server), read
 * from /proc so a phase can say which process was busy. Linux only; elsewhere it reports nothing.
 */
const TICKS_PER_SECOND = 100; // USER_HZ: 100 on every Linux the project runs on.

interface ProcStat {
  pid: number;
  ppid: number;
  comm: string;
  ticks: number;
}

function readStat(pid: number): ProcStat {
  const raw = readFileSync(`/proc/${pid}/stat`, "utf8");
  // comm may hold spaces and parentheses: fields after the last ')' are fixed.
  const close = raw.lastIndexOf(")");
  const comm = raw.slice(raw.indexOf("(") + 1, close);
  const f = raw.slice(close + 2).split(" ");
  return { pid, ppid: Number(f[1]), comm, ticks: Number(f[11]) + Number(f[12]) };
}

/** CPU time (user + system) one process has used so far, in ms. */
export function processCpuMs(pid: number): number {
  return (readStat(pid).ticks * 1000) / TICKS_PER_SECOND;
}

function readStats(): ProcStat[] {
  const out: ProcStat[] = [];
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  for (const pid of pids) {
    try {
      out.push(readStat(Number(pid)));
    } catch {
      // The process ended between listing and reading.
    }
  }
  return out;
}

/** Ticks per process for every descendant of `root` (not `root` itself). */
function descendants(root: number): Map<number, ProcStat> {
  const stats = readStats();
  const children = new Map<number, ProcStat[]>();
  for (const s of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s]);
  const out = new Map<number, ProcStat>();
  const queue = [root];
  while (queue.length) {
    for (const c of children.get(queue.pop()!) ?? []) {
      out.set(c.pid, c);
      queue.push(c.pid);
    }
  }
  return out;
}

/** Share of one core used by each child command (summed by name) between start and stop. */
export function watchChildCpu(root = process.pid): { stop(): Record<string, number> } {
  const before = descendants(root);
  const t0 = performance.now();
  return {
    stop() {
      const seconds = (performance.now() - t0) / 1000;
      const byComm: Record<string, number> = {};
      for (const [pid, s] of descendants(root)) {
        const used = s.ticks - (before.get(pid)?.ticks ?? 0);
        byComm[s.comm] = (byComm[s.comm] ?? 0) + (100 * used) / TICKS_PER_SECOND / seconds;
      }
      return byComm;
    },
  };
}

/** Busy share of the whole machine (100 = one core) between start and stop, from /proc/stat. */
export function watchMachineCpu(): { stop(): number } {
  const read = () => {
    try {
      const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
      const idle = f[3]! + f[4]!; // idle + iowait
      return { busy: f.reduce((a, b) => a + b, 0) - idle };
    } catch {
      return { busy: Number.NaN };
    }
  };
  const before = read();
  const t0 = performance.now();
  return {
    stop() {
      const seconds = (performance.now() - t0) / 1000;
      return (100 * (read().busy - before.busy)) / TICKS_PER_SECOND / seconds;
    },
  };
}
