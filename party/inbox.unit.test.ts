import { beforeEach, describe, expect, it } from "vitest";
import { INBOX_CLOSE, INBOX_PROTOCOL, InboxMessage } from "../protocol/index.ts";
import type { SocketIdentity } from "../worker/services/sockets.ts";
import { INBOX_STALE_MS, InboxCore, type InboxPeer, type InboxSocket } from "./inbox.ts";

/** The inbox core on plain sockets: no workerd, a clock the test moves. */

class FakeSocket implements InboxSocket {
  readonly id: string;
  state: InboxPeer | null = null;
  sent: InboxMessage[] = [];
  closedWith: number | null = null;
  constructor(id: string) {
    this.id = id;
  }
  setState(state: InboxPeer) {
    this.state = structuredClone(state);
  }
  send(text: string) {
    if (this.closedWith !== null) throw new Error("socket closed");
    this.sent.push(InboxMessage.parse(JSON.parse(text)));
  }
  close(code?: number) {
    this.closedWith = code ?? 1000;
  }
}

let now: number;
let sockets: FakeSocket[];
let pings: Map<string, number>;
let allowed: (ids: SocketIdentity[]) => Set<string>;
let core: InboxCore;

beforeEach(() => {
  now = 1_000_000;
  sockets = [];
  pings = new Map();
  allowed = (ids) => new Set(ids.map((i) => `${i.userId} ${i.credential}`));
  core = new InboxCore({
    owner: () => "ann",
    sockets: () => sockets.filter((s) => s.closedWith === null),
    lastPingAt: (s) => pings.get(s.id) ?? 0,
    stillAllowed: async (ids) => allowed(ids),
    now: () => now,
  });
});

function open(id: string, userId = "ann", credential = `fam:${id}`, version: number | null = INBOX_PROTOCOL) {
  const s = new FakeSocket(id);
  sockets.push(s);
  core.connect(s, { userId, credential, version });
  return s;
}

describe("the inbox core", () => {
  it("accepts only its owner, on its protocol, and greets each tab", () => {
    const tab = open("a");
    expect(tab.sent).toEqual([{ type: "hello", v: INBOX_PROTOCOL }]);
    expect(open("b", "bob").closedWith).toBe(INBOX_CLOSE.signedOut);
    expect(open("c", "ann", "fam:c", INBOX_PROTOCOL + 1).closedWith).toBe(INBOX_CLOSE.outdated);
    expect(core.send({ type: "read", v: INBOX_PROTOCOL })).toBe(1);
  });

  it("ends one credential's sockets, tabs that stopped pinging, and credentials the sweep finds dead", async () => {
    const [a, b, c] = [open("a"), open("b", "ann", "tok:t"), open("c")];
    expect(core.endSockets({ userId: "ann", credential: "tok:t" })).toBe(1);
    expect(b.closedWith).toBe(INBOX_CLOSE.signedOut);

    now += INBOX_STALE_MS / 2;
    pings.set("a", now);
    now += INBOX_STALE_MS / 2 + 1;
    allowed = (ids) => new Set(ids.filter((i) => i.credential !== "fam:a").map((i) => `${i.userId} ${i.credential}`));
    // c never pinged: stale; a pinged but its sign-in ended.
    expect(await core.sweep()).toBe(0);
    expect(c.closedWith).toBe(INBOX_CLOSE.stale);
    expect(a.closedWith).toBe(INBOX_CLOSE.signedOut);
  });
});
