import { Samples } from "../lib/stats.ts";

/**
 * The cursor load, independent of the server under test so Trellis and Socket.IO are measured by
 * the very same code. Each update's `cursor.x` is its sender's sequence number; the receiver learns
 * the sender from the connection id the server attaches, so latency is looked up in the sender's
 * table of send times (one process, one `performance.now()` clock). An update's latency is the time
 * until its receiver holds it or a newer update from the same sender.
 */

/** One simulated client, already connected and knowing the id the server gave it. */
export interface PresenceClient {
  id: string;
  sendCursor(seq: number, y: number): void;
  close(): Promise<void>;
}

export interface ClientHooks {
  /** One update from `senderId` carrying sequence number `seq`, received at `at` (performance.now()). */
  onUpdate(senderId: string, seq: number, at: number): void;
  /** One frame (socket message) arrived, however many updates it carried. */
  onFrame(): void;
  /** The socket closed or failed while the bench still needed it. */
  onFail(reason: string): void;
}

export type Connect = (index: number, hooks: ClientHooks) => Promise<PresenceClient>;

export interface LoadOptions {
  clients: number;
  hz: number;
  warmupSeconds: number;
  seconds: number;
  /** Longest wait after the last send for stragglers to arrive before counting drops. */
  drainMs: number;
}

export interface LoadResult {
  latency: Samples;
  /** Updates delivered to a peer, sent after warm-up. */
  delivered: number;
  /** Updates a receiver never got as such because a newer one from the same sender replaced them. */
  superseded: number;
  /** Updates a receiver never got and never saw superseded (see `countDrops`). */
  dropped: number;
  /** Updates that arrived older than one the receiver had already seen from the same sender. */
  outOfOrder: number;
  /** Latency per second of send time after warm-up: shows whether a tail is steady or a few stalls. */
  perSecond: Samples[];
  frames: number;
  sent: number;
  failures: string[];
  measuredSeconds: number;
}

const CONNECT_CONCURRENCY = 5;

export async function runLoad(connect: Connect, opts: LoadOptions): Promise<LoadResult> {
  const n = opts.clients;
  const ticks = Math.round(opts.hz * (opts.warmupSeconds + opts.seconds));
  const periodMs = 1000 / opts.hz;
  const sentAt = Array.from({ length: n }, () => new Float64Array(ticks + 1));
  const lastSent = new Int32Array(n);
  // lastSeen[r * n + s]: the newest sequence number receiver r has seen from sender s.
  const lastSeen = new Int32Array(n * n);
  const indexOf = new Map<string, number>();
  const latency = new Samples();
  const perSecond = Array.from({ length: Math.ceil(opts.seconds) + 1 }, () => new Samples());
  const failures: string[] = [];
  let warmupEnd = Number.POSITIVE_INFINITY;
  let delivered = 0;
  let superseded = 0;
  let outOfOrder = 0;
  let frames = 0;
  let closing = false;

  const hooksFor = (r: number): ClientHooks => ({
    onUpdate(senderId, seq, at) {
      const s = indexOf.get(senderId);
      if (s === undefined || s === r) return; // its own echo, or someone not in the bench
      const k = r * n + s;
      if (seq <= lastSeen[k]!) {
        outOfOrder++;
        return;
      }
      // Updates this one superseded (coalesced away in the room) reached the receiver now too: they
      // count at their own, longer latency, so coalescing can never make the figures look better.
      const sends = sentAt[s]!;
      for (let q = lastSeen[k]! + 1; q <= seq; q++) {
        const t = sends[q]!;
        if (t < warmupEnd) continue;
        latency.add(at - t);
        perSecond[Math.floor((t - warmupEnd) / 1000)]?.add(at - t);
        if (q === seq) delivered++;
        else superseded++;
      }
      lastSeen[k] = seq;
    },
    onFrame() {
      frames++;
    },
    onFail(reason) {
      if (!closing) failures.push(`client ${r}: ${reason}`);
    },
  });

  const clients: PresenceClient[] = new Array(n);
  for (let i = 0; i < n; i += CONNECT_CONCURRENCY) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + CONNECT_CONCURRENCY); j++) {
      batch.push(
        connect(j, hooksFor(j)).then((c) => {
          clients[j] = c;
        }),
      );
    }
    await Promise.all(batch);
  }
  for (const [i, c] of clients.entries()) indexOf.set(c.id, i);

  // Spread the clients' phases evenly over one period so the server sees a steady 500 msg/s, not
  // 50-message bursts ten times a second.
  const start = performance.now() + 50;
  warmupEnd = start + opts.warmupSeconds * 1000;
  const done = new Promise<void>((resolve) => {
    let finished = 0;
    for (let i = 0; i < n; i++) {
      const first = start + (i * periodMs) / n;
      const tick = () => {
        const seq = lastSent[i]! + 1;
        sentAt[i]![seq] = performance.now();
        lastSent[i] = seq;
        clients[i]!.sendCursor(seq, i);
        if (seq >= ticks) {
          if (++finished === n) resolve();
          return;
        }
        // Schedule against the ideal timeline, not the last firing, so timer lateness never piles up.
        const next = first + seq * periodMs;
        setTimeout(tick, Math.max(0, next - performance.now()));
      };
      setTimeout(tick, Math.max(0, first - performance.now()));
    }
  });
  await done;
  const measuredSeconds = (performance.now() - warmupEnd) / 1000;

  const drainUntil = performance.now() + opts.drainMs;
  while (performance.now() < drainUntil && countDrops(lastSeen, lastSent, n) > 0) {
    await new Promise((r) => setTimeout(r, 25));
  }
  const dropped = countDrops(lastSeen, lastSent, n);
  closing = true;
  await Promise.all(clients.map((c) => c.close()));

  return {
    latency,
    delivered,
    superseded,
    dropped,
    outOfOrder,
    perSecond: perSecond.filter((p) => p.count > 0),
    frames,
    sent: n * ticks,
    failures,
    measuredSeconds,
  };
}

/**
 * Coalescing is not a drop: a receiver that ends up with a sender's final update got everything it
 * needed. For every (receiver, sender) pair, each update after the last one the receiver saw was
 * dropped (never delivered, and no later update that was delivered replaced it). A receiver whose
 * socket died therefore counts every update it missed.
 */
function countDrops(lastSeen: Int32Array, lastSent: Int32Array, n: number): number {
  let dropped = 0;
  for (let r = 0; r < n; r++) {
    for (let s = 0; s < n; s++) {
      if (r !== s) dropped += lastSent[s]! - lastSeen[r * n + s]!;
    }
  }
  return dropped;
}
