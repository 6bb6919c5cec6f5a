import { beforeAll, describe, expect, it } from "vitest";
import type { Comment, NotificationPage, Page } from "../../protocol/index.ts";
import {
  addMember,
  call,
  createBoard,
  createZone,
  expectError,
  joinInbox,
  joinRoom,
  json,
  registerUsers,
  type TestUser,
} from "../../test/helpers.ts";

/**
 * Comments and the bell at the edge: who may write, edit, delete, resolve and react; mentions by
 * display name; a mention's notification stored for its person and sent to their sockets only.
 */

let owner: TestUser;
let member: TestUser;
let viewer: TestUser;
let stranger: TestUser;
let boardId: string;
let zoneId: string;

const base = () => `/api/boards/${boardId}/comments`;
const post = (body: Record<string, unknown>, token = member.token) =>
  call(base(), { method: "POST", token, json: body });
const thread = async (body: Record<string, unknown>, token = member.token) => json<Comment>(post(body, token));
const bell = (token: string, q = "") => json<NotificationPage>(call(`/api/me/notifications${q}`, { token }));

beforeAll(async () => {
  // Display names with a space and non-ASCII letters: mentions are matched against them whole.
  [owner, member, viewer, stranger] = await registerUsers("Owner", "Zoë Ann", "Viewer Vee", "Stranger");
  boardId = (await createBoard(owner.token, "Comments")).id;
  await addMember(owner.token, boardId, member, "member");
  await addMember(owner.token, boardId, viewer, "viewer");
  zoneId = (await createZone(owner.token, boardId, { name: "Review" })).id;
});

describe("threads", () => {
  it("start on the board (pinned at a point) or on a zone, take replies, and reach every socket", async () => {
    const watcher = await joinRoom(boardId, { token: owner.token });
    const pinned = await thread({ body: "Layout idea here", target: "board", x: 120, y: -40 });
    expect(pinned).toMatchObject({
      target: "board",
      targetId: null,
      x: 120,
      y: -40,
      threadId: null,
      authorName: "Zoë Ann",
    });
    const onZone = await thread({ body: "Is this zone still used?", target: "zone", targetId: zoneId });
    const reply = await thread({ body: "Yes, for reviews", threadId: onZone.id }, viewer.token);
    expect(reply).toMatchObject({ threadId: onZone.id, target: "zone", targetId: zoneId, authorId: viewer.id });
    await watcher.inbox.next("entity", (m) => m.entity === "comment" && m.op === "created" && m.id === reply.id);

    const listed = await json<Page<Comment>>(call(base(), { token: viewer.token }));
    expect(listed.items.map((c) => c.id)).toEqual(expect.arrayContaining([pinned.id, onZone.id, reply.id]));
    watcher.ws.close();
  });

  it("refuse a place that is not on this board, a reply to a reply, and a half-given pin, naming the field", async () => {
    const other = await createBoard(owner.token, "Other");
    const foreignZone = await createZone(owner.token, other.id, { name: "Elsewhere" });
    const cases: [Record<string, unknown>, string][] = [
      [{ body: "x", target: "zone", targetId: foreignZone.id }, "targetId"],
      [{ body: "x", target: "worktree" }, "targetId"],
      [{ body: "x" }, "target"],
      [{ body: "x", target: "board", x: 3 }, "x"],
      [{ body: "x", target: "zone", targetId: zoneId, messageId: "m1" }, "messageId"],
      [{ body: "   ", target: "board" }, "body"],
    ];
    for (const [body, field] of cases) {
      const { message } = await expectError(post(body), 400);
      expect(message).toContain(field);
    }
    const t = await thread({ body: "root", target: "board" });
    const r = await thread({ body: "reply", threadId: t.id });
    expect((await expectError(post({ body: "deeper", threadId: r.id }), 400)).message).toContain("threadId");
  });

  it("let viewers comment and react, and nobody edit another's comment", async () => {
    const mine = await thread({ body: "viewer's note", target: "board" }, viewer.token);
    const edited = await json<Comment>(
      call(`${base()}/${mine.id}`, { method: "PATCH", token: viewer.token, json: { body: "viewer's better note" } }),
    );
    expect(edited.body).toBe("viewer's better note");
    expect(edited.editedAt).not.toBeNull();
    await expectError(
      call(`${base()}/${mine.id}`, { method: "PATCH", token: owner.token, json: { body: "owner rewrites" } }),
      403,
      "not_author",
    );
    await expectError(call(`${base()}/${mine.id}`, { method: "DELETE", token: member.token }), 403, "not_author");

    const liked = await json<Comment>(
      call(`${base()}/${mine.id}/reactions/${encodeURIComponent("👍")}`, { method: "PUT", token: member.token }),
    );
    await call(`${base()}/${mine.id}/reactions/${encodeURIComponent("👍")}`, { method: "PUT", token: viewer.token });
    const both = await json<Comment>(
      call(`${base()}/${mine.id}/reactions/${encodeURIComponent("👍🏽")}`, { method: "PUT", token: member.token }),
    );
    expect(liked.reactions).toEqual([{ emoji: "👍", userIds: [member.id] }]);
    expect(both.reactions).toEqual([
      { emoji: "👍", userIds: [member.id, viewer.id] },
      { emoji: "👍🏽", userIds: [member.id] },
    ]);
    // The same reaction twice is one; taking it back takes only one's own.
    await call(`${base()}/${mine.id}/reactions/${encodeURIComponent("👍")}`, { method: "PUT", token: member.token });
    const back = await json<Comment>(
      call(`${base()}/${mine.id}/reactions/${encodeURIComponent("👍")}`, { method: "DELETE", token: member.token }),
    );
    expect(back.reactions[0]).toEqual({ emoji: "👍", userIds: [viewer.id] });
    expect(
      (await expectError(call(`${base()}/${mine.id}/reactions/nope`, { method: "PUT", token: member.token }), 400))
        .message,
    ).toContain("emoji");
  });

  it("are resolved by their author or a member, reopened, and deleted with their replies", async () => {
    const byViewer = await thread({ body: "viewer's thread", target: "zone", targetId: zoneId }, viewer.token);
    const byMember = await thread({ body: "member's thread", target: "zone", targetId: zoneId });
    await expectError(call(`${base()}/${byMember.id}/resolve`, { method: "POST", token: viewer.token }), 403);
    const resolved = await json<Comment>(
      call(`${base()}/${byViewer.id}/resolve`, { method: "POST", token: viewer.token }),
    );
    expect(resolved.resolvedBy).toBe(viewer.id);
    const byOwner = await json<Comment>(
      call(`${base()}/${byMember.id}/resolve`, { method: "POST", token: owner.token }),
    );
    expect(byOwner.resolvedAt).not.toBeNull();
    const reopened = await json<Comment>(
      call(`${base()}/${byMember.id}/reopen`, { method: "POST", token: member.token }),
    );
    expect(reopened).toMatchObject({ resolvedAt: null, resolvedBy: null });

    const reply = await thread({ body: "a reply", threadId: byMember.id }, viewer.token);
    await expectError(call(`${base()}/${reply.id}/resolve`, { method: "POST", token: member.token }), 400);
    const watcher = await joinRoom(boardId, { token: viewer.token });
    // The owner keeps the board clean: they may delete anyone's thread, and its replies go with it.
    const gone = await call(`${base()}/${byMember.id}`, { method: "DELETE", token: owner.token });
    expect(gone.status).toBe(204);
    await watcher.inbox.next("entity", (m) => m.entity === "comment" && m.op === "removed" && m.id === reply.id);
    const listed = await json<Page<Comment>>(call(base(), { token: member.token }));
    expect(listed.items.some((c) => c.id === byMember.id || c.id === reply.id)).toBe(false);
    watcher.ws.close();
  });

  it("show a non-member nothing and let them write nothing", async () => {
    const t = await thread({ body: "private", target: "board" });
    await expectError(call(base(), { token: stranger.token }), 404);
    await expectError(post({ body: "let me in", target: "board" }, stranger.token), 404);
    await expectError(post({ body: "hi", threadId: t.id }, stranger.token), 404);
    await expectError(
      call(`${base()}/${t.id}/reactions/${encodeURIComponent("👍")}`, { method: "PUT", token: stranger.token }),
      404,
    );
    await expectError(call(`${base()}/${t.id}/resolve`, { method: "POST", token: stranger.token }), 404);
    await expectError(call(`${base()}/${t.id}`, { method: "PATCH", token: stranger.token, json: { body: "x" } }), 404);
    await expectError(call(`${base()}/${t.id}`, { method: "DELETE", token: stranger.token }), 404);
  });
});

describe("mentions and the bell", () => {
  it("notify the people named (names with spaces and accents), live to their sockets only", async () => {
    // Zoë has two tabs open (neither on this board: the bell is heard on any page); the owner one.
    const [zoeTab, zoeOtherTab, ownerTab] = await Promise.all([
      joinInbox(member.id, { token: member.token }),
      joinInbox(member.id, { token: member.token }),
      joinInbox(owner.id, { token: owner.token }),
    ]);
    const before = (await bell(member.token)).unread;
    const c = await thread(
      { body: "@zoë ann and @Viewer Vee: please look. @Stranger too", target: "board" },
      owner.token,
    );
    expect(c.mentions.sort()).toEqual([member.id, viewer.id].sort());

    for (const tab of [zoeTab, zoeOtherTab]) {
      const n = await tab.inbox.next("notification");
      expect(n.notification).toMatchObject({ kind: "mention", commentId: c.id, actorName: "Owner" });
      expect(n.notification.href).toBe(`/b/${boardId}?comment=${c.id}`);
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(ownerTab.inbox.all("notification")).toEqual([]);

    const zoe = await bell(member.token);
    expect(zoe.unread).toBe(before + 1);
    expect(zoe.items[0]).toMatchObject({ kind: "mention", title: "Owner mentioned you", readAt: null });
    expect((await bell(stranger.token)).items).toEqual([]);
    expect((await bell(owner.token)).items.filter((n) => n.commentId === c.id)).toEqual([]);

    // Editing notifies only the people it newly names; writing one's own name notifies nobody.
    await call(`${base()}/${c.id}`, {
      method: "PATCH",
      token: owner.token,
      json: { body: "@zoë ann and @Viewer Vee and @Owner: please look" },
    });
    expect((await bell(member.token)).unread).toBe(before + 1);
    expect((await bell(owner.token)).items.filter((n) => n.commentId === c.id)).toEqual([]);
    for (const t of [zoeTab, zoeOtherTab, ownerTab]) t.ws.close();
  });

  it("marks one or all read, only one's own, and hides a board one has left", async () => {
    const c = await thread({ body: "@Viewer Vee one", target: "board" });
    await thread({ body: "@Viewer Vee two", target: "board" });
    const page = await bell(viewer.token, "?unread=true");
    const first = page.items.find((n) => n.commentId === c.id)!;
    await expectError(call(`/api/me/notifications/${first.id}/read`, { method: "POST", token: member.token }), 404);
    const read = await json(call(`/api/me/notifications/${first.id}/read`, { method: "POST", token: viewer.token }));
    expect(read.readAt).not.toBeNull();
    expect((await bell(viewer.token)).unread).toBe(page.unread - 1);
    const all = await json<{ read: number }>(
      call("/api/me/notifications/read", { method: "POST", token: viewer.token }),
    );
    expect(all.read).toBe(page.unread - 1);
    expect((await bell(viewer.token, "?unread=true")).items).toEqual([]);
    expect((await bell(viewer.token)).items.length).toBeGreaterThan(1);

    await call(`/api/boards/${boardId}/members/${viewer.id}`, { method: "DELETE", token: owner.token });
    expect((await bell(viewer.token)).items).toEqual([]);
  });
});
