import { eq } from "drizzle-orm";
import { type Connection, type ConnectionContext, Server } from "partyserver";
import { LINK_CLOSE, type LinkMessage, RunnerInfo } from "../protocol/index.ts";
import { contextFor } from "../worker/context.ts";
import { openDb, schema } from "../worker/db/client.ts";
import type { Env } from "../worker/env.ts";
import type { Ctx } from "../worker/services/context.ts";
import { sweepExpiredLeases } from "../worker/services/jobs.ts";
import { setRunnerOffline, setRunnerOnline } from "../worker/services/runners.ts";
import { relayStream, runnerWorksOn } from "../worker/services/streams.ts";
import { type LinkSocket, type LinkState, RunnerLinkCore } from "./link.ts";

/** Set by the Worker after it checked the runner credential; anything a client sent under these names is overwritten. */
export const RUNNER_HEADERS = {
  runnerId: "x-trellis-runner-id",
  ownerId: "x-trellis-runner-owner",
  /** The runner's `RunnerInfo` as JSON, when it reported one. */
  info: "x-trellis-runner-info",
  /** The link protocol version the runner asked for (`?v=`), if any. */
  version: "x-trellis-link-version",
};

/** When the alarm should next sweep this runner's leases (set while any job is claimed). */
const LEASE_KEY = "leaseCheckAt";

/**
 * One per runner: the platform side of `RunnerLinkCore` (party/link.ts), which holds the logic.
 * The runner's one outbound socket: online while it is up, woken the moment a job is queued (so
 * there is no poll interval), cancellations down, stream frames up, and an alarm that sweeps
 * expired job leases even when nobody is looking. Hibernates between messages; pings are answered
 * by the platform.
 */
export class RunnerLink extends Server<Env> {
  static override options = { hibernate: true };

  private core = new RunnerLinkCore({
    sockets: () => this.getConnections<LinkState>() as Iterable<LinkSocket>,
    lastPingAt: (s) => this.ctx.getWebSocketAutoResponseTimestamp(s as Connection)?.getTime() ?? 0,
    now: Date.now,
    alarm: {
      get: () => this.ctx.storage.getAlarm(),
      set: (at) => this.ctx.storage.setAlarm(at),
      clear: () => this.ctx.storage.deleteAlarm(),
    },
    leaseCheck: {
      get: () => this.ctx.storage.get<number>(LEASE_KEY),
      set: async (at) => {
        if (at === undefined) await this.ctx.storage.delete(LEASE_KEY);
        else await this.ctx.storage.put(LEASE_KEY, at);
      },
    },
    services: {
      online: async (info) => setRunnerOnline(await this.ctxFor(), info),
      offline: async () => setRunnerOffline(await this.ctxFor()),
      registered: async () => {
        const row = await this.runnerRow();
        return !!row && row.status !== "revoked" && !!row.credentialHash;
      },
      sweepLeases: async () => sweepExpiredLeases(await this.ctxFor(), this.name),
      worksOn: async (boardId, sessionId) => runnerWorksOn(await this.ctxFor(), boardId, sessionId),
      stream: async (boardId, piece) => relayStream(await this.ctxFor(), boardId, piece),
    },
  });

  /** The owner is known at connect; after a wake from hibernation it is read again. */
  private ownerId: string | null = null;

  override onStart() {
    this.ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
  }

  private runnerRow() {
    return openDb(this.env.DB).query.runners.findFirst({
      where: eq(schema.runners.id, this.name),
      columns: { ownerId: true, status: true, credentialHash: true },
    });
  }

  private async ctxFor(): Promise<Ctx> {
    this.ownerId ??= (await this.runnerRow())?.ownerId ?? "";
    return contextFor(this.env, { kind: "runner", runnerId: this.name, ownerId: this.ownerId });
  }

  override async onConnect(conn: Connection<LinkState>, { request }: ConnectionContext) {
    const ownerId = request.headers.get(RUNNER_HEADERS.ownerId);
    if (request.headers.get(RUNNER_HEADERS.runnerId) !== this.name || !ownerId) {
      // Only reachable if someone routes around the Worker's auth: refuse rather than trust.
      conn.close(LINK_CLOSE.unauthenticated, "unauthenticated");
      return;
    }
    this.ownerId = ownerId;
    const raw = request.headers.get(RUNNER_HEADERS.info);
    const info = raw ? RunnerInfo.safeParse(JSON.parse(raw)) : null;
    const version = request.headers.get(RUNNER_HEADERS.version);
    await this.core.connect(conn, {
      info: info?.success ? info.data : null,
      version: version ? Number(version) : null,
    });
  }

  override async onMessage(conn: Connection<LinkState>, raw: string | ArrayBuffer) {
    await this.core.message(conn, raw);
  }

  override async onClose(conn: Connection<LinkState>) {
    await this.core.closed(conn);
  }

  override async onError(conn: Connection<LinkState>) {
    await this.core.closed(conn);
  }

  // ---- RPC from the Worker ----

  /** A job was queued for this runner. Returns how many sockets heard it. */
  async wake(): Promise<number> {
    return this.core.wake();
  }

  /** The user asked to cancel a job the runner holds. */
  async cancel(jobId: string): Promise<number> {
    return this.core.cancel(jobId);
  }

  /** A lease was granted that ends at `expiresAt`: make sure the alarm looks then. */
  async watchLease(expiresAt: number): Promise<void> {
    await this.core.watchLease(expiresAt);
  }

  /** Any frame to this runner's socket; returns how many sockets took it (0: the runner is away). */
  async send(msg: LinkMessage): Promise<number> {
    return this.core.send(msg);
  }

  /** Revocation: close every socket; the runner must not come back with this credential. */
  async hangUp(code: number, reason: string): Promise<void> {
    this.core.hangUp(code, reason);
  }

  /** Open sockets, for tests and diagnostics. */
  async connectionCount(): Promise<number> {
    return this.core.connectionCount();
  }

  override async onAlarm() {
    await this.core.alarm();
  }
}
