import { beforeEach, describe, expect, it } from "vitest";
import type { LinkMessage, RunnerInfo, StreamFrame } from "../protocol/index.ts";
import { LINK_CLOSE, LINK_PROTOCOL, LINK_STALE_MS, LinkMessage as LinkMessageSchema } from "../protocol/index.ts";
import { type LinkHost, type LinkSocket, type LinkState, RunnerLinkCore, SWEEP_MS } from "./link.ts";

/** The runner link's core on plain sockets, a fake clock and recording services. */

class FakeSocket implements LinkSocket {
  state: LinkState | null = null;
  sent: LinkMessage[] = [];
  closedWith: { code?: number; reason?: string } | null = null;
  constructor(readonly id: string) {}
  setState(s: LinkState) {
    this.state = { ...s };
  }
  send(text: string) {
    if (this.closedWith) throw new Error("closed");
    this.sent.push(LinkMessageSchema.parse(JSON.parse(text)));
  }
  close(code?: number, reason?: string) {
    this.closedWith = { code, reason };
  }
}

let now: number;
let sockets: FakeSocket[];
let alarmAt: number | null;
let leaseAt: number | undefined;
let calls: string[];
let onlineAnswer: boolean;
let registered: boolean;
let working: Set<string>;
let streamed: Array<{ boardId: string; piece: StreamFrame }>;
let batches: number[];
let nextLease: number | null;
let link: RunnerLinkCore;

const host: LinkHost = {
  sockets: () => sockets.filter((s) => !s.closedWith),
  lastPingAt: () => 0,
  now: () => now,
  alarm: {
    get: async () => alarmAt,
    set: async (at) => {
      alarmAt = at;
    },
    clear: async () => {
      alarmAt = null;
    },
  },
  leaseCheck: {
    get: async () => leaseAt,
    set: async (at) => {
      leaseAt = at;
    },
  },
  services: {
    online: async (info: RunnerInfo | null) => {
      calls.push(`online ${info?.version ?? "-"}`);
      return onlineAnswer;
    },
    offline: async () => {
      calls.push("offline");
    },
    registered: async () => registered,
    sweepLeases: async () => {
      calls.push("sweep");
      return nextLease;
    },
    worksOn: async (boardId, sessionId) => {
      calls.push(`worksOn ${boardId} ${sessionId}`);
      return working.has(boardId);
    },
    stream: async (boardId, pieces) => {
      batches.push(pieces.length);
      for (const piece of pieces) streamed.push({ boardId, piece });
    },
  },
};

async function connect(id: string, version: number | null = LINK_PROTOCOL) {
  const s = new FakeSocket(id);
  sockets.push(s);
  await link.connect(s, { info: null, version });
  return s;
}

const frame = (f: Record<string, unknown>) => JSON.stringify({ v: LINK_PROTOCOL, ...f });
const piece = { sessionId: "s1", messageId: "m1", seq: 1, part: "text", delta: "hi" };

beforeEach(() => {
  now = 5_000_000;
  sockets = [];
  alarmAt = null;
  leaseAt = undefined;
  calls = [];
  onlineAnswer = true;
  registered = true;
  working = new Set();
  streamed = [];
  batches = [];
  nextLease = null;
  link = new RunnerLinkCore(host);
});

describe("RunnerLinkCore", () => {
  it("shows the runner online, wakes it at once, and watches the socket from an alarm", async () => {
    const s = await connect("a");
    expect(calls).toEqual(["online -"]);
    expect(s.sent).toEqual([{ type: "wake", v: LINK_PROTOCOL }]);
    expect(alarmAt).toBe(now + SWEEP_MS);
  });

  it("a newer connection replaces an older one, which is told why", async () => {
    const old = await connect("old");
    const fresh = await connect("new");
    expect(old.closedWith?.code).toBe(LINK_CLOSE.replaced);
    expect(old.sent.at(-1)).toMatchObject({ type: "closing", code: LINK_CLOSE.replaced });
    expect(fresh.closedWith).toBeNull();
    expect(link.wake()).toBe(1);
  });

  it("refuses a runner of another protocol version, saying what to update", async () => {
    const s = await connect("a", LINK_PROTOCOL + 1);
    expect(s.closedWith?.code).toBe(LINK_CLOSE.outdated);
    expect(s.sent[0]).toMatchObject({ type: "closing", reason: expect.stringMatching(/update trellis-runner/) });
    expect(calls).toEqual([]);
  });

  it("hangs up on a runner revoked while it connected", async () => {
    onlineAnswer = false;
    const s = await connect("a");
    expect(s.closedWith?.code).toBe(LINK_CLOSE.revoked);
  });

  it("sends wake and cancel with the protocol version", async () => {
    const s = await connect("a");
    link.cancel("job-1");
    expect(s.sent.at(-1)).toEqual({ type: "cancel", v: LINK_PROTOCOL, jobId: "job-1" });
  });

  it("relays a stream frame only for a session whose task the runner holds, asking D1 at most every few seconds", async () => {
    const s = await connect("a");
    working.add("board-1");
    await link.message(s, frame({ type: "stream", boardId: "board-1", ...piece }));
    await link.message(s, frame({ type: "stream", boardId: "board-1", ...piece, seq: 2 }));
    expect(streamed.map((x) => x.piece.seq)).toEqual([1, 2]);
    expect(streamed[0]).toEqual({ boardId: "board-1", piece });
    expect(calls.filter((c) => c.startsWith("worksOn"))).toEqual([`worksOn board-1 ${piece.sessionId}`]);

    await link.message(s, frame({ type: "stream", boardId: "board-2", ...piece }));
    expect(streamed).toHaveLength(2);
    expect(s.sent.at(-1)).toMatchObject({ type: "refused", message: expect.stringMatching(/no active task/) });
    expect(s.closedWith).toBeNull();

    // The job ended: after the cache runs out, the link asks again and stops relaying.
    working.delete("board-1");
    now += 6_000;
    await link.message(s, frame({ type: "stream", boardId: "board-1", ...piece, seq: 3 }));
    expect(streamed).toHaveLength(2);
  });

  it("relays one board's pieces in the order the runner sent them, while D1 or the room is slow to answer", async () => {
    const s = await connect("a");
    working.add("board-1");
    // The first look-up of who works on what is slow; the ones after it answer at once.
    const { worksOn, stream } = host.services;
    let first = true;
    host.services.worksOn = async (boardId, sessionId) => {
      if (first) {
        first = false;
        await new Promise((r) => setTimeout(r, 30));
      }
      return worksOn(boardId, sessionId);
    };
    // And the room takes longer over some pieces than others.
    host.services.stream = async (boardId, pieces) => {
      await new Promise((r) => setTimeout(r, pieces[0]!.seq % 2 ? 15 : 0));
      return stream(boardId, pieces);
    };
    try {
      const sends = [1, 2, 3, 4, 5].map((seq) =>
        link.message(s, frame({ type: "stream", boardId: "board-1", ...piece, sessionId: `s${seq % 2}`, seq })),
      );
      await Promise.all(sends);
      expect(streamed.map((x) => x.piece.seq)).toEqual([1, 2, 3, 4, 5]);
    } finally {
      Object.assign(host.services, { worksOn, stream });
    }
  });

  it("relays a batch for one board in one call, in order, dropping only the pieces of sessions it does not run", async () => {
    const s = await connect("a");
    working.add("board-1");
    let session2 = false;
    const { worksOn } = host.services;
    host.services.worksOn = async (boardId, sessionId) => (sessionId === "s2" ? session2 : worksOn(boardId, sessionId));
    try {
      const pieces = [1, 2, 3, 4].map((seq) => ({ ...piece, sessionId: seq % 2 ? "s1" : "s2", seq }));
      await link.message(s, frame({ type: "streams", boardId: "board-1", pieces }));
      expect(batches).toEqual([2]);
      expect(streamed.map((x) => [x.piece.sessionId, x.piece.seq])).toEqual([
        ["s1", 1],
        ["s1", 3],
      ]);
      expect(s.sent.at(-1)).toMatchObject({ type: "refused", message: expect.stringMatching(/no active task/) });
      session2 = true;
      now += 1_000;
      const more = [5, 6].map((seq) => ({ ...piece, sessionId: seq % 2 ? "s1" : "s2", seq }));
      await link.message(s, frame({ type: "streams", boardId: "board-1", pieces: more }));
      expect(batches).toEqual([2, 2]);
      // Too many pieces for one frame: refused whole, with why.
      const tooMany = Array.from({ length: 201 }, (_, i) => ({ ...piece, seq: 10 + i }));
      await link.message(s, frame({ type: "streams", boardId: "board-1", pieces: tooMany }));
      expect(batches).toEqual([2, 2]);
      expect(s.sent.at(-1)).toMatchObject({ type: "refused", message: expect.stringMatching(/^Unknown or malformed/) });
    } finally {
      host.services.worksOn = worksOn;
    }
  });

  it("while a room call is on its way, the frames that come meanwhile go together in the next one", async () => {
    const s = await connect("a");
    working.add("board-1");
    const { stream } = host.services;
    host.services.stream = async (boardId, pieces) => {
      await new Promise((r) => setTimeout(r, 20));
      return stream(boardId, pieces);
    };
    try {
      const first = link.message(s, frame({ type: "stream", boardId: "board-1", ...piece, seq: 1 }));
      await new Promise((r) => setTimeout(r, 5));
      const rest = [2, 3, 4, 5].map((seq) =>
        link.message(s, frame({ type: "stream", boardId: "board-1", ...piece, seq })),
      );
      await Promise.all([first, ...rest]);
      expect(batches).toEqual([1, 4]);
      expect(streamed.map((x) => x.piece.seq)).toEqual([1, 2, 3, 4, 5]);
    } finally {
      host.services.stream = stream;
    }
  });

  it("a session that keeps streaming is re-checked in the background: after the first, its pieces never wait on D1", async () => {
    const s = await connect("a");
    working.add("board-1");
    await link.message(s, frame({ type: "stream", boardId: "board-1", ...piece, seq: 1 }));
    const { worksOn } = host.services;
    let release = () => {};
    host.services.worksOn = (boardId, sessionId) =>
      new Promise((resolve) => {
        release = () => resolve(worksOn(boardId, sessionId));
      });
    try {
      // Halfway through what the link trusts, a piece goes on at once while D1 is asked again.
      now += 3_000;
      await link.message(s, frame({ type: "stream", boardId: "board-1", ...piece, seq: 2 }));
      expect(streamed.map((x) => x.piece.seq)).toEqual([1, 2]);
      release();
      await new Promise((r) => setTimeout(r, 0));
      expect(calls.filter((c) => c.startsWith("worksOn"))).toHaveLength(2);
      // The fresh answer counts from when it came: still trusted 4 s later, with no D1 wait.
      now += 4_000;
      await link.message(s, frame({ type: "stream", boardId: "board-1", ...piece, seq: 3 }));
      expect(streamed.map((x) => x.piece.seq)).toEqual([1, 2, 3]);
    } finally {
      host.services.worksOn = worksOn;
    }
  });

  it("answers a malformed frame with why, and stays up", async () => {
    const s = await connect("a");
    for (const raw of ["nope", JSON.stringify({ type: "stream" }), frame({ type: "teleport" }), new ArrayBuffer(2)]) {
      await link.message(s, raw);
    }
    const refused = s.sent.filter((m) => m.type === "refused").map((m) => m.message);
    expect(refused).toEqual([
      "Frame is not valid JSON.",
      `Frames must carry v: ${LINK_PROTOCOL}.`,
      expect.stringMatching(/^Unknown or malformed frame/),
      // A binary frame is terminal output (protocol/terminal-output.ts) or nothing.
      "Binary frames must be terminal output.",
    ]);
    expect(s.closedWith).toBeNull();
  });

  it("the alarm closes a silent socket and shows the runner offline", async () => {
    const s = await connect("a");
    now += LINK_STALE_MS + 1;
    await link.alarm();
    expect(s.closedWith?.code).toBe(LINK_CLOSE.stale);
    expect(calls.at(-1)).toBe("offline");
    expect(alarmAt).toBeNull();
  });

  it("the alarm hangs up on a runner that is no longer registered", async () => {
    const s = await connect("a");
    registered = false;
    await link.alarm();
    expect(s.closedWith?.code).toBe(LINK_CLOSE.revoked);
  });

  it("sweeps leases when one is due, and keeps the next lease's time", async () => {
    await link.watchLease(now + 30_000);
    expect(leaseAt).toBe(now + 30_000);
    expect(alarmAt).toBe(now + 30_000);
    await link.watchLease(now + 60_000);
    expect(leaseAt).toBe(now + 30_000);
    now += 30_000;
    nextLease = now + 10_000;
    await link.alarm();
    expect(calls).toContain("sweep");
    expect(leaseAt).toBe(now + 10_000);
    nextLease = null;
    now += 10_000;
    await link.alarm();
    expect(leaseAt).toBeUndefined();
    expect(alarmAt).toBeNull();
  });
});
