import { PartySocket } from "partysocket";
import type { Notification, UserSettings } from "../../../protocol/index.ts";
import { INBOX_CLOSE, INBOX_PROTOCOL, INBOX_VERSION_PARAM, InboxMessage } from "../../../protocol/index.ts";
import { api, refreshSession, unwrap } from "../lib/api.ts";
import { readFrame } from "../lib/frames.ts";
import type { ApiClient } from "../lib/http.ts";
import type { Bell } from "./bell.ts";
import { chimeOn, playChime, readChime } from "./chime.ts";

/** Where the inbox's frames go. */
export interface InboxHandlers {
  /** (Re)connected: whatever came while not listening is only in D1. */
  hello(): void;
  notification(n: Notification): void;
  /** Some were marked read, here or in another tab. */
  read(): void;
  settings(s: UserSettings): void;
  /** Listening or not (the bell shows it, and the tests wait for it). */
  live(on: boolean): void;
}

const PING_MS = 10_000;

/**
 * This tab's socket on its person's inbox (`protocol/inbox.ts`), open on every signed-in page.
 * partysocket reconnects with backoff, each attempt with a fresh single-use ticket.
 */
export class InboxConnection {
  private readonly handlers: InboxHandlers;
  private readonly socket: PartySocket;
  private readonly ping: ReturnType<typeof setInterval>;
  private done = false;

  constructor(userId: string, handlers: InboxHandlers) {
    this.handlers = handlers;
    this.socket = new PartySocket({
      host: location.host,
      protocol: location.protocol === "https:" ? "wss" : "ws",
      party: "user-inbox",
      room: userId,
      query: async () => ({
        ticket: (await unwrap(api.api.me.inbox.ticket.$post())).ticket,
        [INBOX_VERSION_PARAM]: String(INBOX_PROTOCOL),
      }),
      // The client sends nothing but pings: nothing worth queueing while offline.
      maxEnqueuedMessages: 0,
      maxReconnectionDelay: 8000,
      shouldReconnectOnClose: (e) => e.code !== INBOX_CLOSE.outdated,
    });
    this.socket.addEventListener("message", this.onMessage);
    this.socket.addEventListener("close", this.onClose);
    // Answered by the platform without waking the inbox; a socket that stops pinging is swept.
    this.ping = setInterval(() => {
      if (this.socket.readyState === WebSocket.OPEN) this.socket.send("ping");
    }, PING_MS);
  }

  private onMessage = (e: MessageEvent) => {
    const msg = readFrame(e, InboxMessage, INBOX_PROTOCOL, "inbox");
    // Another version means the edge was updated under this tab: the board says to reload.
    if (msg === "outdated") return this.close();
    if (!msg) return;
    switch (msg.type) {
      case "hello":
        this.handlers.live(true);
        this.handlers.hello();
        break;
      case "notification":
        this.handlers.notification(msg.notification);
        break;
      case "read":
        this.handlers.read();
        break;
      case "settings":
        this.handlers.settings(msg.settings);
        break;
    }
  };

  private onClose = (e: CloseEvent) => {
    if (this.done) return;
    this.handlers.live(false);
    // Its sign-in ended: find out now whether this tab is still signed in, not after the backoff.
    if (e.code === INBOX_CLOSE.signedOut) void refreshSession();
  };

  close(): void {
    this.done = true;
    clearInterval(this.ping);
    this.handlers.live(false);
    this.socket.close();
  }
}

/**
 * Listen on this person's inbox for as long as they are signed in: the bell and the chime setting
 * follow it live, on whichever page this tab is. Returns what stops it.
 */
export function listenToInbox(client: ApiClient, userId: string, bell: Bell): () => void {
  const inbox = new InboxConnection(userId, {
    hello: () => {
      bell.read().catch(() => {});
      readChime(client).catch(() => {});
    },
    notification: (n) => {
      bell.add(n);
      if (n.kind === "permission") playChime();
    },
    read: () => void bell.read().catch(() => {}),
    settings: (s) => chimeOn.set(s.chime),
    live: (on) => bell.live.set(on),
  });
  return () => inbox.close();
}
