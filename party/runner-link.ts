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
import {
  reconcileTerminals,
  recordDetach,
  type TerminalNotice,
  type TerminalViewerIdentity,
  terminalExited,
  terminalOpened,
  viewersStillAllowed,
} from "../worker/services/terminals.ts";
import { answerClose } from "./close.ts";
import { type LinkSocket, type LinkState, RunnerLinkCore } from "./link.ts";
import { TerminalHub, type ViewerSocket, type ViewerState } from "./terminal-hub.ts";

/** Set by the Worker after it checked the runner credential; anything a client sent under these names is overwritten. */
export const RUNNER_HEADERS = {
  runnerId: "x-trellis-runner-id",
  ownerId: "x-trellis-runner-owner",
  /** The runner's `RunnerInfo` as JSON, when it reported one. */
  info: "x-trellis-runner-info",
  /** The link protocol version the runner asked for (`?v=`), if any. */
  version: "x-trellis-link-version",
};

/**
 * Set by the Worker on a terminal viewer's socket after the service authorized it: who, which
 * terminal, may they type (`TerminalViewerIdentity` as URL-encoded JSON), and the protocol version.
 */
export const TERMINAL_HEADERS = {
  viewer: "x-trellis-terminal-viewer",
  version: "x-trellis-terminal-version",
};

/** Link sockets and terminal viewers share the object; tags tell them apart without reading attachments. */
const RUNNER_TAG = "runner";
const VIEWER_TAG = "viewer";
const terminalTag = (terminalId: string) => `term:${terminalId}`;

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

  private core: RunnerLinkCore = new RunnerLinkCore({
    sockets: () => this.getConnections<LinkState>(RUNNER_TAG) as Iterable<LinkSocket>,
    lastPingAt: (s) => this.ctx.getWebSocketAutoResponseTimestamp(s as Connection)?.getTime() ?? 0,
    now: Date.now,
    // Written without waiting for the disk (`allowUnconfirmed`): a confirmed write closes the
    // object's output gate, and every stream piece on its way to a board room waited behind the
    // flush (bench:stream saw stalls of up to 1.3 s every 5 s sweep). Lost only if the object
    // dies before the flush, and then set again by the runner's next claim (`watchLease`).
    alarm: {
      get: () => this.ctx.storage.getAlarm(),
      set: (at) => this.ctx.storage.setAlarm(at, { allowUnconfirmed: true }),
      clear: () => this.ctx.storage.deleteAlarm({ allowUnconfirmed: true }),
    },
    leaseCheck: {
      get: () => this.ctx.storage.get<number>(LEASE_KEY),
      set: async (at) => {
        if (at === undefined) await this.ctx.storage.delete(LEASE_KEY, { allowUnconfirmed: true });
        else await this.ctx.storage.put(LEASE_KEY, at, { allowUnconfirmed: true });
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
      stream: async (boardId, pieces) => relayStream(await this.ctxFor(), boardId, pieces),
    },
    terminals: {
      fromRunner: (frame) => this.hub.fromRunner(frame),
      output: (terminalId, frame, bytes) => this.hub.output(terminalId, frame, bytes),
      runnerUp: () => this.hub.runnerUp(),
      runnerDown: () => this.hub.runnerDown(),
      active: () => this.hub.active(),
      sweep: () => this.hub.sweep(),
    },
  });

  /** The terminals of this runner: their viewers' sockets live here, beside the runner's own. */
  private hub: TerminalHub = new TerminalHub({
    viewers: (terminalId) =>
      this.getConnections<ViewerState>(terminalId ? terminalTag(terminalId) : VIEWER_TAG) as Iterable<ViewerSocket>,
    toRunner: (msg) => this.core.send(msg) > 0,
    runnerOnline: () => this.core.connectionCount() > 0,
    lastPingAt: (s) => this.ctx.getWebSocketAutoResponseTimestamp(s as Connection)?.getTime() ?? 0,
    now: Date.now,
    services: {
      opened: async (terminalId) => terminalOpened(await this.ctxFor(), terminalId),
      exited: async (terminalId, reason) => terminalExited(await this.ctxFor(), terminalId, reason),
      reconcile: async (alive) => reconcileTerminals(await this.ctxFor(), alive),
      detached: async (v) => recordDetach(await this.ctxFor(), v, this.name),
      stillAllowed: async (viewers) => viewersStillAllowed(await this.ctxFor(), this.name, viewers),
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

  override getConnectionTags(_conn: Connection, { request }: ConnectionContext): string[] {
    const viewer = viewerOf(request);
    return viewer ? [VIEWER_TAG, terminalTag(viewer.terminalId)] : [RUNNER_TAG];
  }

  override async onConnect(conn: Connection<LinkState>, { request }: ConnectionContext) {
    const viewer = viewerOf(request);
    if (viewer) {
      const version = request.headers.get(TERMINAL_HEADERS.version);
      this.hub.join(conn as unknown as ViewerSocket, viewer, version ? Number(version) : null);
      await this.core.schedule();
      return;
    }
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
    if (isViewer(conn)) return this.hub.message(conn as unknown as ViewerSocket, raw);
    await this.core.message(conn, raw);
  }

  override async onClose(conn: Connection<LinkState>, code: number) {
    answerClose(conn, code);
    if (isViewer(conn)) return this.hub.left(conn as unknown as ViewerSocket);
    await this.core.closed(conn);
  }

  override async onError(conn: Connection<LinkState>) {
    if (isViewer(conn)) return this.hub.left(conn as unknown as ViewerSocket);
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

  /** A terminal ended (its viewers are told, the runner kills the shell), or access must be re-checked. */
  async terminal(notice: TerminalNotice): Promise<void> {
    await this.hub.notice(notice);
  }

  /** Open sockets, for tests and diagnostics. */
  async connectionCount(): Promise<number> {
    return this.core.connectionCount();
  }

  override async onAlarm() {
    await this.core.alarm();
  }
}

/** The viewer identity the Worker put on a terminal socket's upgrade, if this is one. */
function viewerOf(request: Request): TerminalViewerIdentity | null {
  const raw = request.headers.get(TERMINAL_HEADERS.viewer);
  if (!raw) return null;
  try {
    return JSON.parse(decodeURIComponent(raw)) as TerminalViewerIdentity;
  } catch {
    return null;
  }
}

const isViewer = (conn: Connection) => conn.tags.includes(VIEWER_TAG);
