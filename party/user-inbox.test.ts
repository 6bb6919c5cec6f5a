import { runDurableObjectAlarm } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { INBOX_CLOSE, type NotificationPage, type UserSettings } from "../protocol/index.ts";
import {
  addMember,
  BASE,
  call,
  createBoard,
  expectError,
  inboxTicketFor,
  insertSession,
  joinInbox,
  json,
  openInbox,
  PASSWORD,
  registerUsers,
  type TestUser,
  testEnv,
  ticketFor,
} from "../test/helpers.ts";
import { sha256 } from "../worker/lib/crypto.ts";
import { getUserInbox } from "./stubs.ts";

/**
 * Each person's inbox: their own live channel, held by every tab of theirs whatever page it shows.
 * Their notifications reach it from any board and reach nobody else's; only they may open it,
 * exactly as they open a board socket; it ends with the credential it was opened with.
 */

let ada: TestUser;
let bea: TestUser;
let cal: TestUser;
let boardA: string;

beforeAll(async () => {
  [ada, bea, cal] = await registerUsers("Ada", "Bea Lee", "Cal");
  boardA = (await createBoard(ada.token, "Board A")).id;
  await addMember(ada.token, boardA, bea, "member");
  await addMember(ada.token, boardA, cal, "member");
});

const mention = (body: string) =>
  json<{ id: string }>(
    call(`/api/boards/${boardA}/comments`, { method: "POST", token: ada.token, json: { body, target: "board" } }),
  );
const bell = (token: string) => json<NotificationPage>(call("/api/me/notifications", { token }));
const login = async (email: string) =>
  json<{ accessToken: string; refreshToken: string }>(
    call("/api/auth/login", { method: "POST", json: { email, password: PASSWORD } }),
  );
const closedWithin = async (sock: { closed: Promise<CloseEvent> }, ms = 3000) => {
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error("socket stayed open")), ms));
  return Promise.race([sock.closed, timeout]);
};

describe("an inbox", () => {
  it("hears its person's mention on board A with no board socket open; another person's hears nothing", async () => {
    // Bea's tab is on the boards list (a browser, by ticket), her other one a script (bearer).
    const beaTab = await joinInbox(bea.id, { ticket: await inboxTicketFor(bea.token), origin: BASE });
    const beaScript = await joinInbox(bea.id, { token: bea.token });
    const calTab = await joinInbox(cal.id, { token: cal.token });

    const c = await mention("@Bea Lee have a look");
    for (const tab of [beaTab, beaScript]) {
      const { notification } = await tab.inbox.next("notification", (m) => m.notification.commentId === c.id);
      expect(notification).toMatchObject({ kind: "mention", boardId: boardA, readAt: null, actorName: "Ada" });
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(calTab.inbox.all("notification")).toEqual([]);

    // Marking read in one tab moves the count in the others.
    const id = (await bell(bea.token)).items.find((n) => n.commentId === c.id)!.id;
    await call(`/api/me/notifications/${id}/read`, { method: "POST", token: bea.token });
    await beaTab.inbox.next("read");
    await call("/api/me/notifications/read", { method: "POST", token: bea.token });
    expect(calTab.inbox.all("read")).toEqual([]);
    for (const t of [beaTab, beaScript, calTab]) t.ws.close();
  });

  it("opens for its person only, as a board socket does", async () => {
    await expectError(openInbox(bea.id, {}), 401);
    // Another person's bearer token, or their own ticket brought to someone else's inbox.
    await expectError(openInbox(bea.id, { token: cal.token }), 403, "forbidden");
    await expectError(
      openInbox(bea.id, { ticket: await inboxTicketFor(cal.token), origin: BASE }),
      401,
      "invalid_ticket",
    );
    // A board's ticket is no inbox's, and an inbox ticket opens no board.
    await expectError(openInbox(bea.id, { ticket: await ticketFor(bea.token, boardA), origin: BASE }), 401);
    const ticket = await inboxTicketFor(bea.token);
    const board = await call(`/parties/board-room/${boardA}?ticket=${ticket}`, {
      headers: { upgrade: "websocket", origin: BASE },
    });
    expect(board.status).toBe(401);
    // A browser's ticket from another origin, and a ticket used twice.
    await expectError(openInbox(bea.id, { ticket, origin: "https://evil.example" }), 403, "bad_origin");
    const once = await inboxTicketFor(bea.token);
    (await joinInbox(bea.id, { ticket: once, origin: BASE })).ws.close();
    await expectError(openInbox(bea.id, { ticket: once, origin: BASE }), 401, "invalid_ticket");
    // An agent's session token does not hear its person's bell, by ticket or on the upgrade.
    const agent = `trl_ses_${crypto.randomUUID()}`;
    const { sessionId } = await insertSession(bea.id);
    await testEnv.DB.prepare(
      "INSERT INTO api_tokens (id, user_id, name, scope, session_id, token_hash, expires_at) VALUES (?, ?, 'agent', 'session', ?, ?, ?)",
    )
      .bind(crypto.randomUUID(), bea.id, sessionId, await sha256(agent), Date.now() + 60_000)
      .run();
    await expectError(call("/api/me/inbox/ticket", { method: "POST", token: agent }), 403, "wrong_credential");
    await expectError(openInbox(bea.id, { token: agent }), 403, "wrong_credential");
    // Nor read her notifications from every board over REST, mark them read, or touch her settings.
    await expectError(call("/api/me/notifications", { token: agent }), 403, "wrong_credential");
    await expectError(call("/api/me/notifications/read", { method: "POST", token: agent }), 403, "wrong_credential");
    await expectError(call("/api/me/settings", { token: agent }), 403, "wrong_credential");
    await expectError(
      call("/api/me/settings", { method: "PATCH", token: agent, json: { chime: true } }),
      403,
      "wrong_credential",
    );
  });

  it("closes when its credential ends: a revoked token, a sign-out; the sweep finds an expired one", async () => {
    const pat = await json<{ id: string; token: string }>(
      call("/api/tokens", { method: "POST", token: bea.token, json: { name: "cli" } }),
    );
    const script = await joinInbox(bea.id, { token: pat.token });
    const signIn = await login(bea.email);
    const tab = await joinInbox(bea.id, { ticket: await inboxTicketFor(signIn.accessToken), origin: BASE });
    const other = await joinInbox(bea.id, { token: bea.token });

    expect((await call(`/api/tokens/${pat.id}`, { method: "DELETE", token: bea.token })).status).toBe(204);
    expect((await closedWithin(script)).code).toBe(INBOX_CLOSE.signedOut);
    await expectError(openInbox(bea.id, { token: pat.token }), 401);

    expect(
      (await call("/api/auth/logout", { method: "POST", json: { refreshToken: signIn.refreshToken } })).status,
    ).toBe(204);
    expect((await closedWithin(tab)).code).toBe(INBOX_CLOSE.signedOut);

    // Bea's other sign-in still hears her bell.
    const c = await mention("@Bea Lee still there?");
    await other.inbox.next("notification", (m) => m.notification.commentId === c.id);

    const expiring = await json<{ id: string; token: string }>(
      call("/api/tokens", { method: "POST", token: bea.token, json: { name: "short" } }),
    );
    const lapsing = await joinInbox(bea.id, { token: expiring.token });
    await testEnv.DB.prepare("update api_tokens set expires_at = ? where id = ?")
      .bind(Date.now() - 1, expiring.id)
      .run();
    await runDurableObjectAlarm(getUserInbox(testEnv, bea.id));
    expect((await closedWithin(lapsing)).code).toBe(INBOX_CLOSE.signedOut);
    other.ws.close();
  });
});

describe("settings", () => {
  const settings = (token: string) => json<UserSettings>(call("/api/me/settings", { token }));
  const change = (token: string, body: unknown) => call("/api/me/settings", { method: "PATCH", token, json: body });

  it("are each person's own: the chime is off until they turn it on, and their tabs follow", async () => {
    expect(await settings(cal.token)).toEqual({ chime: false });
    const tab = await joinInbox(cal.id, { token: cal.token });
    const beaTab = await joinInbox(bea.id, { token: bea.token });
    expect(await json(change(cal.token, { chime: true }))).toEqual({ chime: true });
    expect((await tab.inbox.next("settings")).settings).toEqual({ chime: true });
    // Kept on the edge: another sign-in of Cal's sees it; nobody else's setting moved.
    expect(await settings((await login(cal.email)).accessToken)).toEqual({ chime: true });
    expect(await settings(bea.token)).toEqual({ chime: false });
    expect(beaTab.inbox.all("settings")).toEqual([]);
    // An empty change changes nothing.
    expect(await json(change(cal.token, {}))).toEqual({ chime: true });

    const bad = await expectError(change(cal.token, { chime: "loud" }), 400);
    expect(bad.message).toMatch(/chime/);
    expect((await expectError(change(cal.token, { volume: 3 }), 400)).message).toMatch(/volume/);
    await expectError(call("/api/me/settings"), 401);
    expect(await settings(cal.token)).toEqual({ chime: true });
    tab.ws.close();
    beaTab.ws.close();
  });
});
