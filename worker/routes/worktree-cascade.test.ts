import { beforeAll, describe, expect, it } from "vitest";
import type { Comment, Session, Worktree, Zone } from "../../protocol/index.ts";
import { call, createZone, joinRoom, json, ticketFor } from "../../test/helpers.ts";
import { boardWithRepo, GIT, openLink, runNext, takeSessionTask } from "./runner-testkit.ts";

/**
 * What goes with a card: deleting a worktree stops its running agents before its folder goes,
 * and the board hears that its sessions and the threads pinned to it or to them are gone, as it
 * does for a zone's threads and a session's. The foreign keys delete them; these are the events.
 */

let stage: Awaited<ReturnType<typeof boardWithRepo>>;
let link: Awaited<ReturnType<typeof openLink>>;

beforeAll(async () => {
  stage = await boardWithRepo({ path: "/home/ann/code/app", branches: ["main"] });
  link = await openLink(stage.runner.credential, {
    version: "0.1.0",
    os: "linux",
    gitVersion: "2.45",
    providers: ["anthropic"],
    agents: [{ provider: "anthropic", ready: true }],
  });
});

async function readyCard(name: string): Promise<Worktree> {
  const made = await json<Worktree>(
    call(`/api/boards/${stage.boardId}/worktrees`, {
      method: "POST",
      token: stage.member.token,
      json: { repoId: stage.repo.id, name, branch: name, mode: "new" },
    }),
  );
  await runNext(stage.runner.credential, {
    status: "succeeded",
    result: { path: `/home/ann/wt/${name}`, git: GIT, createdBranch: true },
  });
  return made;
}

const startSession = (worktreeId: string, prompt?: string) =>
  json<Session>(
    call(`/api/boards/${stage.boardId}/sessions`, {
      method: "POST",
      token: stage.member.token,
      json: { worktreeId, provider: "anthropic", model: "claude-sonnet-4-5", ...(prompt ? { prompt } : {}) },
    }),
  );
const comment = (body: Record<string, unknown>) =>
  json<Comment>(
    call(`/api/boards/${stage.boardId}/comments`, { method: "POST", token: stage.member.token, json: body }),
  );
const watch = async () => joinRoom(stage.boardId, { ticket: await ticketFor(stage.owner.token, stage.boardId) });
const removedIds = (room: Awaited<ReturnType<typeof watch>>, entity: string) =>
  room.inbox
    .all("entity")
    .filter((e) => e.entity === entity && e.op === "removed")
    .map((e) => e.id);

describe("what goes with a card", () => {
  it("deleting a worktree stops its running agent first; when the card goes, its sessions and threads go for everyone", async () => {
    const wt = await readyCard("cascade");
    const busy = await startSession(wt.id, "Work on it");
    const idle = await startSession(wt.id);
    const task = await takeSessionTask(stage.runner.credential);
    const onCard = await comment({ body: "about the card", target: "worktree", targetId: wt.id });
    const onSession = await comment({ body: "about the agent", target: "session", targetId: idle.id });
    const onBoard = await comment({ body: "stays", target: "board", x: 1, y: 2 });
    const room = await watch();

    const from = link.messages.length;
    const del = await call(`/api/boards/${stage.boardId}/worktrees/${wt.id}?force=true`, {
      method: "DELETE",
      token: stage.member.token,
    });
    expect(del.status).toBe(202);
    // The agent is told to stop before the runner is asked to remove its folder.
    const cancel = await link.next((m) => m.type === "cancel" && m.jobId === task.claim.job.id, from);
    expect(cancel).toBeTruthy();
    await task.complete({ status: "cancelled", error: { code: "cancelled", message: "stopped" } });
    await runNext(stage.runner.credential, { status: "succeeded", result: {} });

    await room.inbox.next("entity", (e) => e.entity === "worktree" && e.op === "removed" && e.id === wt.id);
    await room.inbox.next("entity", (e) => e.entity === "comment" && e.op === "removed" && e.id === onSession.id);
    expect(removedIds(room, "session").sort()).toEqual([busy.id, idle.id].sort());
    expect(removedIds(room, "comment").sort()).toEqual([onCard.id, onSession.id].sort());
    const left = await json<{ items: Comment[] }>(
      call(`/api/boards/${stage.boardId}/comments`, { token: stage.member.token }),
    );
    expect(left.items.map((c) => c.id)).toEqual([onBoard.id]);
    room.ws.close();
  });

  it("a zone's threads and a session's threads go with them", async () => {
    const wt = await readyCard("threads");
    const zone: Zone = await createZone(stage.member.token, stage.boardId);
    const s = await startSession(wt.id);
    const onZone = await comment({ body: "zone note", target: "zone", targetId: zone.id });
    const onSession = await comment({ body: "session note", target: "session", targetId: s.id });
    const room = await watch();

    await call(`/api/boards/${stage.boardId}/zones/${zone.id}`, { method: "DELETE", token: stage.member.token });
    await call(`/api/boards/${stage.boardId}/sessions/${s.id}`, { method: "DELETE", token: stage.member.token });
    await room.inbox.next("entity", (e) => e.entity === "comment" && e.op === "removed" && e.id === onSession.id);
    expect(removedIds(room, "comment").sort()).toEqual([onZone.id, onSession.id].sort());
    room.ws.close();
  });
});
