/**
 * Shared terminals at the edge, in workerd: real D1, the real RunnerLink and board room, the real
 * Worker entry. The runner's side is played over a real link socket (`openLink`), so what the edge
 * sends the runner and what viewers get back are both seen exactly.
 */
import { exports as workerExports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import type {
  LinkMessage,
  Runner,
  Terminal,
  TerminalEvent,
  TerminalServerMessage,
  TerminalTicket,
  Worktree,
} from "../../protocol/index.ts";
import {
  decodeTerminalOutput,
  encodeTerminalOutput,
  LINK_PROTOCOL,
  MAX_UNACKED_BYTES,
  TERMINAL_CLOSE,
  TERMINAL_PROTOCOL,
} from "../../protocol/index.ts";
import { addMember, BASE, call, expectError, joinRoom, json, registerUser, type TestUser } from "../../test/helpers.ts";
import { boardWithRepo, eventually, GIT, openLink, runNext, testEnv } from "./runner-testkit.ts";

const worker = workerExports as unknown as { default: Fetcher };

let owner: TestUser;
let member: TestUser;
let viewer: TestUser;
let outsider: TestUser;
let runner: { id: string; credential: string };
let boardId: string;
let wt: Worktree;
let link: Awaited<ReturnType<typeof openLink>>;

const v = LINK_PROTOCOL;

/** What the runner's link socket was sent since `from`, of one kind. */
const toRunner = <K extends LinkMessage["type"]>(type: K, from = 0) =>
  link.messages.slice(from).filter((m): m is Extract<LinkMessage, { type: K }> => m.type === type);
const nextToRunner = <K extends LinkMessage["type"]>(
  type: K,
  pred: (m: Extract<LinkMessage, { type: K }>) => boolean = () => true,
  from = 0,
) =>
  link.next((m) => m.type === type && pred(m as Extract<LinkMessage, { type: K }>), from) as Promise<
    Extract<LinkMessage, { type: K }>
  >;
const runnerSends = (frame: Record<string, unknown>) => link.ws.send(JSON.stringify({ v, ...frame }));
/** PTY output as the runner sends it: a binary frame. */
const runnerOutputs = (terminalId: string, data: string) =>
  link.ws.send(encodeTerminalOutput(terminalId, [new TextEncoder().encode(data)]));

const openTerminal = (token: string, name?: string) =>
  call(`/api/boards/${boardId}/worktrees/${wt.id}/terminals`, { method: "POST", token, json: name ? { name } : {} });
const ticket = async (token: string, terminalId: string) => {
  const res = await call(`/api/terminals/${terminalId}/ticket`, { method: "POST", token });
  if (res.status !== 201) throw new Error(`ticket: ${res.status} ${await res.text()}`);
  return res.json<TerminalTicket>();
};
/** Tests end what they opened: a worktree holds a few terminals at most. */
const end = (terminalId: string) => call(`/api/terminals/${terminalId}`, { method: "DELETE", token: owner.token });
const setAccess = (token: string, terminalAccess: "owner" | "boards") =>
  call(`/api/runners/${runner.id}/terminal-access`, { method: "PUT", token, json: { terminalAccess } });

function upgrade(runnerId: string, terminalId: string, auth: { ticket?: string; token?: string; origin?: string }) {
  const headers: Record<string, string> = { upgrade: "websocket" };
  if (auth.token) headers.authorization = `Bearer ${auth.token}`;
  if (auth.origin) headers.origin = auth.origin;
  const q = new URLSearchParams({ terminal: terminalId, v: String(TERMINAL_PROTOCOL) });
  if (auth.ticket) q.set("ticket", auth.ticket);
  return worker.default.fetch(new Request(`${BASE}/parties/runner-link/${runnerId}?${q}`, { headers }));
}

type Msg<K extends TerminalServerMessage["type"]> = Extract<TerminalServerMessage, { type: K }>;

/** A viewer's socket, as a browser opens it (ticket + Origin), with everything it received. */
async function attach(token: string, terminalId: string) {
  const t = await ticket(token, terminalId);
  const res = await upgrade(t.runnerId, terminalId, { ticket: t.ticket, origin: BASE });
  const ws = res.webSocket;
  if (res.status !== 101 || !ws) throw new Error(`upgrade refused: ${res.status} ${await res.text()}`);
  ws.accept();
  ws.binaryType = "arraybuffer";
  const messages: TerminalServerMessage[] = [];
  /** Each binary output frame's bytes, as text, and which terminal it said. */
  const outputs: { terminalId: string; data: string }[] = [];
  ws.addEventListener("message", (e) => {
    if (typeof e.data !== "string") {
      const out = decodeTerminalOutput(e.data as ArrayBuffer);
      if (typeof out === "string") throw new Error(out);
      outputs.push({ terminalId: out.terminalId, data: new TextDecoder().decode(out.data) });
    } else if (e.data !== "pong") messages.push(JSON.parse(e.data));
  });
  const closed = new Promise<CloseEvent>((resolve) => ws.addEventListener("close", resolve));
  const next = <K extends TerminalServerMessage["type"]>(
    type: K,
    pred: (m: Msg<K>) => boolean = () => true,
    from = 0,
  ) =>
    eventually(async () => messages.slice(from).find((m): m is Msg<K> => m.type === type && pred(m as Msg<K>)), 3000);
  const hello = await next("hello");
  return {
    ws,
    messages,
    hello,
    closed,
    next,
    all: <K extends TerminalServerMessage["type"]>(type: K) => messages.filter((m): m is Msg<K> => m.type === type),
    outputs,
    nextOutput: (data: string) =>
      eventually(async () => outputs.find((o) => o.data === data && o.terminalId === terminalId), 3000),
    send: (msg: unknown) => ws.send(JSON.stringify(msg)),
  };
}

beforeAll(async () => {
  const stage = await boardWithRepo({ path: "/home/ann/code/app", branches: ["main"] });
  ({ owner, member, runner, boardId } = stage);
  [viewer, outsider] = [await registerUser("Viewer"), await registerUser("Outsider")];
  await addMember(owner.token, boardId, viewer, "viewer");
  wt = await json<Worktree>(
    call(`/api/boards/${boardId}/worktrees`, {
      method: "POST",
      token: owner.token,
      json: { repoId: stage.repo.id, name: "feat-shell", branch: "feat-shell" },
    }),
  );
  await runNext(runner.credential, { status: "succeeded", result: { path: "/p/feat-shell", git: GIT } });
  link = await openLink(runner.credential);
  await link.next((m) => m.type === "wake");
});

describe("who may open a terminal", () => {
  it("by default only the runner's owner; members and viewers are told why, outsiders get a 404", async () => {
    const room = await joinRoom(boardId, { token: member.token });
    const res = await openTerminal(owner.token);
    expect(res.status).toBe(201);
    const t = await res.json<Terminal>();
    expect(t).toMatchObject({ worktreeId: wt.id, runnerId: runner.id, name: "shell", status: "starting" });
    // Every open board hears of it.
    await room.inbox.next("entity", (e) => e.entity === "terminal" && e.id === t.id && e.op === "created");
    room.ws.close();

    const err = await expectError(openTerminal(member.token), 403, "terminal_owner_only");
    expect(err.message).toMatch(/shell on their machine/);
    await expectError(openTerminal(viewer.token), 403, "terminal_owner_only");
    await expectError(openTerminal(outsider.token), 404);
    await expectError(call(`/api/terminals/${t.id}/ticket`, { method: "POST", token: member.token }), 403);
    await expectError(call(`/api/terminals/${t.id}/ticket`, { method: "POST", token: outsider.token }), 404);
    // A second one gets the next free name; any member sees both listed.
    const second = await json<Terminal>(openTerminal(owner.token));
    expect(second.name).toBe("shell 2");
    const list = await json<{ items: Terminal[] }>(call(`/api/boards/${boardId}/terminals`, { token: viewer.token }));
    expect(list.items.map((x) => x.id)).toEqual(expect.arrayContaining([t.id, second.id]));
    await expectError(call(`/api/boards/${boardId}/terminals`, { token: outsider.token }), 404);
    await Promise.all([end(t.id), end(second.id)]);
  });

  it("only the owner turns board access on; then members type and viewers only watch", async () => {
    await expectError(setAccess(member.token, "boards"), 403, "not_runner_owner");
    await expectError(setAccess(outsider.token, "boards"), 404);
    const room = await joinRoom(boardId, { token: viewer.token });
    const on = await setAccess(owner.token, "boards");
    expect(on.status).toBe(200);
    expect((await on.json<Runner>()).terminalAccess).toBe("boards");
    await room.inbox.next(
      "entity",
      (e) => e.entity === "runner" && (e.row as Runner | null)?.terminalAccess === "boards",
    );
    room.ws.close();

    expect((await openTerminal(member.token, "member's")).status).toBe(201);
    await expectError(openTerminal(viewer.token), 403, "terminal_read_only");
    const t = (await json<{ items: Terminal[] }>(call(`/api/boards/${boardId}/terminals`, { token: viewer.token })))
      .items[0]!;
    expect((await ticket(viewer.token, t.id)).runnerId).toBe(runner.id);
    await expectError(
      call(`/api/terminals/${t.id}`, { method: "DELETE", token: viewer.token }),
      403,
      "terminal_read_only",
    );
    expect((await setAccess(owner.token, "owner")).status).toBe(200);
    await end(t.id);
  });

  it("refuses names that are not names", async () => {
    await expectError(openTerminal(owner.token, "\u001b[31mred"), 400);
    await expectError(openTerminal(owner.token, "x".repeat(41)), 400);
  });
});

describe("the ticket", () => {
  it("is single use, bound to its terminal, lives 30 s, and wants our Origin", async () => {
    const a = await json<Terminal>(openTerminal(owner.token));
    const b = await json<Terminal>(openTerminal(owner.token));
    const t = await ticket(owner.token, a.id);
    await expectError(upgrade(runner.id, b.id, { ticket: t.ticket, origin: BASE }), 401, "invalid_ticket");
    await expectError(
      upgrade(runner.id, a.id, { ticket: t.ticket, origin: "https://evil.example" }),
      403,
      "bad_origin",
    );
    const ok = await upgrade(runner.id, a.id, { ticket: t.ticket, origin: BASE });
    expect(ok.status).toBe(101);
    ok.webSocket!.accept();
    ok.webSocket!.close();
    await expectError(upgrade(runner.id, a.id, { ticket: t.ticket, origin: BASE }), 401, "invalid_ticket");

    const late = await ticket(owner.token, a.id);
    await testEnv.DB.prepare("update terminal_tickets set expires_at = ?")
      .bind(Date.now() - 1)
      .run();
    await expectError(upgrade(runner.id, a.id, { ticket: late.ticket, origin: BASE }), 401, "invalid_ticket");

    // On another runner's link, or with no pass at all, nothing opens.
    const other = await ticket(owner.token, a.id);
    await expectError(upgrade("someone-elses-runner", a.id, { ticket: other.ticket, origin: BASE }), 404);
    await expectError(upgrade(runner.id, a.id, {}), 401);
    // Non-browser clients send a bearer token instead.
    const bearer = await upgrade(runner.id, a.id, { token: owner.token });
    expect(bearer.status).toBe(101);
    bearer.webSocket!.accept();
    bearer.webSocket!.close();
    await expectError(upgrade(runner.id, a.id, { token: member.token }), 403, "terminal_owner_only");
    await Promise.all([end(a.id), end(b.id)]);
  });
});

describe("a terminal's socket on the runner's link", () => {
  it("attaches the runner, shows the screen, relays output, and lets only who may type type", async () => {
    await setAccess(owner.token, "boards");
    const t = await json<Terminal>(openTerminal(owner.token, "relay"));
    const from = link.messages.length;
    const ada = await attach(owner.token, t.id);
    expect(ada.hello).toMatchObject({ terminalId: t.id, canType: true, runnerOnline: true });
    const open = await nextToRunner("term.open", (m) => m.terminalId === t.id, from);
    expect(open).toMatchObject({ repoId: wt.repoId, worktree: "feat-shell", create: true });

    const room = await joinRoom(boardId, { token: viewer.token });
    runnerSends({ type: "term.opened", terminalId: t.id, created: true });
    runnerSends({ type: "term.screen", terminalId: t.id, data: "$ ", cols: 100, rows: 30 });
    expect(await ada.next("screen")).toMatchObject({ data: "$ ", cols: 100, rows: 30 });
    // The runner made the session: the terminal is open, for every board.
    await room.inbox.next("entity", (e) => e.entity === "terminal" && (e.row as Terminal | null)?.status === "open");
    room.ws.close();

    const vic = await attach(viewer.token, t.id);
    expect(vic.hello.canType).toBe(false);
    // A late viewer gets the screen as it is now, asked of the runner (no create this time).
    const again = await nextToRunner("term.open", (m) => m.terminalId === t.id, from + 1);
    expect(again.create).toBe(false);
    runnerSends({ type: "term.screen", terminalId: t.id, data: "$ echo hi\r\nhi\r\n$ ", cols: 100, rows: 30 });
    await vic.next("screen", (m) => m.data.includes("hi"));
    await ada.next("viewers", (m) => m.viewers.length === 2);

    runnerOutputs(t.id, "live bytes ✓");
    for (const p of [ada, vic]) await p.nextOutput("live bytes ✓");
    // A runner from before binary output frames sends JSON: viewers get the same binary frame.
    runnerSends({ type: "term.output", terminalId: t.id, data: "older runner ✓" });
    for (const p of [ada, vic]) await p.nextOutput("older runner ✓");
    // A binary frame that is not terminal output is refused, and the link stays up.
    const before = link.messages.length;
    link.ws.send(new Uint8Array([7, 1, 65]));
    expect(await link.next((m) => m.type === "refused", before)).toMatchObject({
      message: "Binary frames must be terminal output.",
    });

    const seen = link.messages.length;
    ada.send({ type: "input", data: "ls\r" });
    expect(await nextToRunner("term.input", () => true, seen)).toMatchObject({ terminalId: t.id, data: "ls\r" });
    await vic.next("typing", (m) => m.userId === owner.id);

    // A viewer's keys go nowhere, and their window does not resize the shell.
    vic.send({ type: "input", data: "rm -rf ~\r" });
    vic.send({ type: "resize", cols: 40, rows: 10 });
    expect(await vic.next("error", (m) => m.code === "terminal_read_only")).toBeTruthy();
    ada.send({ type: "resize", cols: 120, rows: 40 });
    await nextToRunner("term.resize", (m) => m.cols === 120, seen);
    expect(toRunner("term.input", seen).map((m) => m.data)).toEqual(["ls\r"]);
    expect(toRunner("term.resize", seen).map((m) => m.cols)).toEqual([120]);
    await vic.next("size", (m) => m.cols === 120 && m.rows === 40);

    ada.ws.close();
    vic.ws.close();
    // The last one out detaches the runner's PTY (the shell stays in tmux).
    await nextToRunner("term.close", (m) => m.terminalId === t.id, seen);
    await end(t.id);
  });

  it("answers a viewer's close at once, with a status code or without one", async () => {
    const t = await json<Terminal>(openTerminal(owner.token, "closing"));
    const [a, b] = [await attach(owner.token, t.id), await attach(owner.token, t.id)];
    const by = (ms: number) => new Promise<"late">((resolve) => setTimeout(() => resolve("late"), ms));
    a.ws.close();
    expect(await Promise.race([a.closed, by(2000)])).not.toBe("late");
    b.ws.close(1000, "done");
    expect(await Promise.race([b.closed, by(2000)])).not.toBe("late");
    await end(t.id);
  });

  it("skips a viewer that does not keep up and gives it a fresh screen once it has", async () => {
    const t = await json<Terminal>(openTerminal(owner.token, "flood"));
    const slow = await attach(owner.token, t.id);
    const from = link.messages.length;
    runnerSends({ type: "term.screen", terminalId: t.id, data: "", cols: 80, rows: 24 });
    await slow.next("screen");
    const chunk = "y\r\n".repeat(10_000);
    const frames = Math.ceil((2 * MAX_UNACKED_BYTES) / chunk.length);
    for (let i = 0; i < frames; i++) runnerOutputs(t.id, chunk);
    runnerOutputs(t.id, "END");
    await new Promise((r) => setTimeout(r, 300));
    const got = slow.outputs;
    const bytes = got.reduce((n, o) => n + o.data.length, 0);
    // It got about one window's worth and no more: the rest was dropped, not queued.
    expect(bytes).toBeGreaterThan(0);
    expect(bytes).toBeLessThanOrEqual(MAX_UNACKED_BYTES + chunk.length);
    expect(got.some((o) => o.data === "END")).toBe(false);

    const asked = link.messages.length;
    slow.send({ type: "ack", bytes });
    await nextToRunner("term.open", (m) => m.terminalId === t.id, asked);
    runnerSends({ type: "term.screen", terminalId: t.id, data: "caught up", cols: 80, rows: 24 });
    await slow.next("screen", (m) => m.data === "caught up");
    runnerOutputs(t.id, "after");
    await slow.nextOutput("after");
    expect(link.messages.slice(from).filter((m) => m.type === "term.open").length).toBeGreaterThanOrEqual(1);
    slow.ws.close();
    await end(t.id);
  });

  it("End terminal kills the shell for everyone, says who, and is in the owner's record", async () => {
    const t = await json<Terminal>(openTerminal(member.token, "to end"));
    const a = await attach(owner.token, t.id);
    const b = await attach(member.token, t.id);
    const from = link.messages.length;
    const room = await joinRoom(boardId, { token: viewer.token });
    const res = await call(`/api/terminals/${t.id}`, { method: "DELETE", token: owner.token });
    expect(res.status).toBe(200);
    expect(await res.json<Terminal>()).toMatchObject({ status: "ended", endedBy: owner.id });
    await nextToRunner("term.kill", (m) => m.terminalId === t.id, from);
    for (const p of [a, b]) {
      expect(await p.next("ended")).toMatchObject({ by: "Owner" });
      expect((await p.closed).code).toBe(TERMINAL_CLOSE.ended);
    }
    await room.inbox.next("entity", (e) => e.entity === "terminal" && (e.row as Terminal | null)?.status === "ended");
    room.ws.close();
    await expectError(
      call(`/api/terminals/${t.id}/ticket`, { method: "POST", token: owner.token }),
      409,
      "terminal_ended",
    );

    await expectError(call(`/api/runners/${runner.id}/terminal-events`, { token: member.token }), 403);
    const events = await json<{ items: TerminalEvent[] }>(
      call(`/api/runners/${runner.id}/terminal-events`, { token: owner.token }),
    );
    const mine = events.items.filter((e) => e.terminalId === t.id && e.kind !== "detached").reverse();
    expect(mine.map((e) => [e.kind, e.userId])).toEqual([
      ["created", member.id],
      ["attached", owner.id],
      ["attached", member.id],
      ["ended", owner.id],
    ]);
    // The panels closing are recorded too, as they happen.
    await eventually(async () => {
      const all = await json<{ items: TerminalEvent[] }>(
        call(`/api/runners/${runner.id}/terminal-events`, { token: owner.token }),
      );
      return all.items.filter((e) => e.terminalId === t.id && e.kind === "detached").length === 2;
    });
  });

  it("turning board access off closes everyone's socket but the owner's, at once", async () => {
    await setAccess(owner.token, "boards");
    const t = await json<Terminal>(openTerminal(owner.token, "narrowing"));
    const mine = await attach(owner.token, t.id);
    const theirs = await attach(member.token, t.id);
    const watching = await attach(viewer.token, t.id);
    runnerSends({ type: "term.screen", terminalId: t.id, data: "$ ", cols: 80, rows: 24 });
    await mine.next("screen");
    await setAccess(owner.token, "owner");
    for (const p of [theirs, watching]) expect((await p.closed).code).toBe(TERMINAL_CLOSE.forbidden);
    runnerOutputs(t.id, "still here");
    await mine.nextOutput("still here");
    mine.ws.close();
    await end(t.id);
  });

  it("when the runner reconnects, shells that are gone end and sessions of ended terminals are killed", async () => {
    const t = await json<Terminal>(openTerminal(owner.token, "reconnect"));
    const p = await attach(owner.token, t.id);
    runnerSends({ type: "term.opened", terminalId: t.id, created: true });
    runnerSends({ type: "term.screen", terminalId: t.id, data: "$ ", cols: 80, rows: 24 });
    await p.next("screen");
    await eventually(async () => {
      const list = await json<{ items: Terminal[] }>(call(`/api/boards/${boardId}/terminals`, { token: owner.token }));
      return list.items.find((x) => x.id === t.id)?.status === "open";
    });

    // The runner's link drops: the panel says so and waits.
    link.ws.close();
    await p.next("runner", (m) => !m.online);
    link = await openLink(runner.credential);
    await p.next("runner", (m) => m.online);
    // It comes back with this shell alive, and one of a terminal that has ended meanwhile.
    const from = link.messages.length;
    runnerSends({ type: "term.sessions", terminalIds: [t.id, "0190-ended-long-ago"] });
    await nextToRunner("term.kill", (m) => m.terminalId === "0190-ended-long-ago", from);
    const reopen = await nextToRunner("term.open", (m) => m.terminalId === t.id, from);
    expect(reopen.create).toBe(false);
    runnerSends({ type: "term.screen", terminalId: t.id, data: "$ back", cols: 80, rows: 24 });
    await p.next("screen", (m) => m.data === "$ back");

    // Next time the runner comes back without it (the machine restarted): it is over, and says so.
    link.ws.close();
    link = await openLink(runner.credential);
    runnerSends({ type: "term.sessions", terminalIds: [] });
    expect((await p.next("ended")).reason).toMatch(/gone/);
    expect((await p.closed).code).toBe(TERMINAL_CLOSE.ended);
  });

  it("a shell that exits ends the terminal for everyone", async () => {
    const t = await json<Terminal>(openTerminal(owner.token, "exits"));
    const p = await attach(owner.token, t.id);
    runnerSends({ type: "term.exited", terminalId: t.id, code: "exited", reason: "the shell exited" });
    expect(await p.next("ended")).toMatchObject({ by: null, reason: "the shell exited" });
    const list = await json<{ items: Terminal[] }>(call(`/api/boards/${boardId}/terminals`, { token: owner.token }));
    expect(list.items.some((x) => x.id === t.id)).toBe(false);
  });
});
