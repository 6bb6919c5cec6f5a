import { eq } from "drizzle-orm";
import { type Connection, type ConnectionContext, Server } from "partyserver";
import type { LinkMessage } from "../protocol/index.ts";
import { LINK_CLOSE, LINK_STALE_MS, RunnerInfo } from "../protocol/index.ts";
import { contextFor } from "../worker/context.ts";
import { openDb, schema } from "../worker/db/client.ts";
import type { Env } from "../worker/env.ts";
import type { Ctx } from "../worker/services/context.ts";
import { sweepExpiredLeases } from "../worker/services/jobs.ts";
import { setRunnerOffline, setRunnerOnline } from "../worker/services/runners.ts";

/** Set by the Worker after it checked the runner credential; anything a client sent under these names is overwritten. */
export const RUNNER_HEADERS = {
  runnerId: "x-trellis-runner-id",
  ownerId: "x-trellis-runner-owner",
  /** The runner's `RunnerInfo` as JSON, when it reported one. */
  info: "x-trellis-runner-info",
};

/**
 * How often the alarm looks for silent sockets while any is open. Stale (20 s) plus this stays well
 * under the 30 s in which a runner cut off without a close must show offline.
 */
const SWEEP_MS = 5_000;
/** When the alarm should next sweep this runner's leases (set while any job is claimed). */
const LEASE_KEY = "leaseCheckAt";

type LinkState = { connectedAt: number };

/**
 * One per runner: the runner's one outbound socket. It shows the runner online while the socket is
 * up, wakes it the moment a job is queued (so there is no poll interval), forwards cancellations,
 * and sweeps expired job leases from an alarm, so a runner that vanished gives its jobs back even
 * when nobody is looking. Hibernates between messages; pings are answered by the platform.
 */
export class RunnerLink extends Server<Env> {
  static override options = { hibernate: true };

  override onStart() {
    this.ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
  }

  private ctxFor(ownerId: string): Ctx {
    return contextFor(this.env, { kind: "runner", runnerId: this.name, ownerId });
  }

  private open(except?: string): Connection<LinkState>[] {
    return [...this.getConnections<LinkState>()].filter((c) => c.id !== except);
  }

  private send(msg: LinkMessage) {
    this.broadcast(JSON.stringify(msg));
  }

  override async onConnect(conn: Connection<LinkState>, { request }: ConnectionContext) {
    const ownerId = request.headers.get(RUNNER_HEADERS.ownerId);
    if (request.headers.get(RUNNER_HEADERS.runnerId) !== this.name || !ownerId) {
      // Only reachable if someone routes around the Worker's auth: refuse rather than trust.
      conn.close(LINK_CLOSE.unauthenticated, "unauthenticated");
      return;
    }
    conn.setState({ connectedAt: Date.now() });
    // One live connection per runner: a reconnect after a network cut replaces the half-dead old one.
    for (const old of this.open(conn.id)) hangUp(old, LINK_CLOSE.replaced, "replaced by a newer connection");
    const raw = request.headers.get(RUNNER_HEADERS.info);
    const info = raw ? RunnerInfo.safeParse(JSON.parse(raw)) : null;
    const online = await setRunnerOnline(this.ctxFor(ownerId), info?.success ? info.data : null);
    if (!online) {
      hangUp(conn, LINK_CLOSE.revoked, "runner revoked");
      return;
    }
    // Whatever was queued while the runner was away is picked up at once.
    conn.send(JSON.stringify({ type: "wake" } satisfies LinkMessage));
    await this.schedule();
  }

  // The runner sends nothing but pings, which never reach here.
  override onMessage() {}

  override async onClose(conn: Connection<LinkState>) {
    await this.left(conn.id);
  }

  override async onError(conn: Connection<LinkState>) {
    await this.left(conn.id);
  }

  private async left(connectionId: string) {
    if (this.open(connectionId).length === 0) await setRunnerOffline(this.ctxFor(await this.ownerId()));
    await this.schedule();
  }

  private async ownerId(): Promise<string> {
    const row = await openDb(this.env.DB).query.runners.findFirst({
      where: eq(schema.runners.id, this.name),
      columns: { ownerId: true },
    });
    return row?.ownerId ?? "";
  }

  // ---- RPC from the Worker ----

  /** A job was queued for this runner. Returns how many sockets heard it. */
  async wake(): Promise<number> {
    this.send({ type: "wake" });
    return this.open().length;
  }

  /** The user asked to cancel a job the runner holds. */
  async cancel(jobId: string): Promise<number> {
    this.send({ type: "cancel", jobId });
    return this.open().length;
  }

  /** A lease was granted that ends at `expiresAt`: make sure the alarm looks then. */
  async watchLease(expiresAt: number): Promise<void> {
    const current = await this.ctx.storage.get<number>(LEASE_KEY);
    if (current === undefined || expiresAt < current) await this.ctx.storage.put(LEASE_KEY, expiresAt);
    await this.schedule();
  }

  /** Revocation: close every socket; the runner must not come back with this credential. */
  async hangUp(code: number, reason: string): Promise<void> {
    for (const c of this.open()) hangUp(c, code, reason);
  }

  /** Open sockets, for tests and diagnostics. */
  async connectionCount(): Promise<number> {
    return this.open().length;
  }

  // ---- the alarm: silent sockets and expired leases ----

  private async schedule() {
    const now = Date.now();
    const due = [await this.ctx.storage.get<number>(LEASE_KEY), this.open().length ? now + SWEEP_MS : undefined].filter(
      (t): t is number => t !== undefined,
    );
    if (due.length === 0) {
      await this.ctx.storage.deleteAlarm();
      return;
    }
    const want = Math.max(Math.min(...due), now + 50);
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > want || current < now) await this.ctx.storage.setAlarm(want);
  }

  override async onAlarm() {
    const now = Date.now();
    // A credential can end without the revoke RPC reaching us (its owner's account was deleted,
    // the row removed underneath us): a link whose runner is gone or revoked hangs up here.
    if (this.open().length) {
      const row = await openDb(this.env.DB).query.runners.findFirst({
        where: eq(schema.runners.id, this.name),
        columns: { status: true, credentialHash: true },
      });
      if (!row || row.status === "revoked" || !row.credentialHash) {
        for (const c of this.open()) hangUp(c, LINK_CLOSE.revoked, "runner revoked");
      }
    }
    let closed = false;
    for (const c of this.open()) {
      const lastPing = this.ctx.getWebSocketAutoResponseTimestamp(c)?.getTime() ?? 0;
      if (isStale(lastPing, c.state?.connectedAt ?? 0, now)) {
        c.close(LINK_CLOSE.stale, "no ping");
        closed = true;
      }
    }
    if (closed && this.open().length === 0) await setRunnerOffline(this.ctxFor(await this.ownerId()));
    if ((await this.ctx.storage.get<number>(LEASE_KEY)) !== undefined) {
      const next = await sweepExpiredLeases(this.ctxFor(await this.ownerId()), this.name);
      if (next === null) await this.ctx.storage.delete(LEASE_KEY);
      else await this.ctx.storage.put(LEASE_KEY, next);
    }
    await this.schedule();
  }
}

/** Say why, then close: the message gets there even where the close frame lags behind. */
function hangUp(conn: Connection, code: number, reason: string) {
  try {
    conn.send(JSON.stringify({ type: "closing", code, reason } satisfies LinkMessage));
  } catch {
    // Already closing: the close below is all there is to say.
  }
  conn.close(code, reason);
}

/** A socket is stale when neither a ping nor the connect itself happened within `LINK_STALE_MS`. */
export function isStale(lastPingAt: number, connectedAt: number, now: number): boolean {
  return now - Math.max(lastPingAt, connectedAt) > LINK_STALE_MS;
}
