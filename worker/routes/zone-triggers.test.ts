import { beforeAll, describe, expect, it } from "vitest";
import type { Page, Session, SessionDetail, Worktree, Zone } from "../../protocol/index.ts";
import { call, createZone, expectError, joinRoom, json, registerUsers, type TestUser } from "../../test/helpers.ts";
import { boardWithRepo, eventually, GIT, openLink, runNext } from "./runner-testkit.ts";

/**
 * Zone triggers: a template checked when saved, and a drop that fires once, decided on the edge,
 * however many people watch and whoever else drops the same card at the same moment.
 */

let owner: TestUser;
let member: TestUser;
let runner: { id: string; credential: string };
let boardId: string;
let repoId: string;
/** Made ready before any test queues a session task, so the runner's next job is always the worktree's. */
const ready: Worktree[] = [];

const REVIEW =
  "{{user.name}} asks for a review of {{worktree.name}} ({{ worktree.branch }}) in {{zone.name}} on {{board.name}}";
const anthropic = { provider: "anthropic", model: "claude-sonnet-4-5", permissionMode: "ask" } as const;

const readyWorktree = () => ready.shift()!;
const createZoneRes = (body: Record<string, unknown>) =>
  call(`/api/boards/${boardId}/zones`, { method: "POST", token: member.token, json: body });

async function makeWorktree(name: string): Promise<Worktree> {
  const made = await json<Worktree>(
    call(`/api/boards/${boardId}/worktrees`, {
      method: "POST",
      token: member.token,
      json: { repoId, name, branch: name, mode: "new", notes: "check the email field" },
    }),
  );
  await runNext(runner.credential, {
    status: "succeeded",
    result: { path: `/home/ann/wt/${name}`, git: GIT, createdBranch: true },
  });
  return made;
}

const move = (worktreeId: string, zoneId: string | null, token = member.token, x = 40) =>
  call(`/api/boards/${boardId}/worktrees/${worktreeId}`, { method: "PATCH", token, json: { zoneId, x, y: 40 } });

async function sessionsOf(worktreeId: string): Promise<Session[]> {
  const page = await json<Page<Session>>(call(`/api/boards/${boardId}/sessions`, { token: member.token }));
  return page.items.filter((s) => s.worktreeId === worktreeId);
}

const promptsOf = async (sessionId: string) =>
  (await json<SessionDetail>(call(`/api/boards/${boardId}/sessions/${sessionId}`, { token: member.token }))).tasks.map(
    (t) => t.prompt,
  );

beforeAll(async () => {
  const stage = await boardWithRepo({ path: "/home/ann/code/app", branches: ["main"] });
  ({ owner, member, runner, boardId } = stage);
  repoId = stage.repo.id;
  await openLink(runner.credential, {
    version: "0.1.0",
    os: "linux",
    gitVersion: "2.45",
    providers: ["anthropic"],
    agents: [
      { provider: "anthropic", ready: true },
      {
        provider: "openai",
        ready: false,
        reason: "has no OPENAI_API_KEY or OPENAI_BASE_URL: set one and restart the runner",
      },
    ],
    runtimes: [{ runtime: "claude-code", version: "0.3.335" }],
  });
  for (const name of ["login-fix", "wt-2", "ask-me", "wt-4", "wt-5", "wt-6", "wt-7"])
    ready.push(await makeWorktree(name));
});

describe("zone templates", () => {
  it("refuses an unknown variable when the template is saved, naming the field and the variables there are", async () => {
    const res = await call(`/api/boards/${boardId}/zones`, {
      method: "POST",
      token: member.token,
      json: { name: "Bad", promptTemplate: "Fix {{worktree.title}}" },
    });
    const { message } = await expectError(res, 400);
    expect(message).toContain("promptTemplate");
    expect(message).toContain("unknown variable {{worktree.title}}");
    expect(message).toContain("{{worktree.issueUrl}}");

    const zone = await createZone(member.token, boardId, { name: "Fine", promptTemplate: "Look at {{worktree.name}}" });
    await expectError(
      call(`/api/boards/${boardId}/zones/${zone.id}`, {
        method: "PATCH",
        token: member.token,
        json: { promptTemplate: "Look at {{worktree.name}" },
      }),
      400,
    );
  });

  it("needs a template before it takes a trigger, and keeps the trigger it was given", async () => {
    const empty = await call(`/api/boards/${boardId}/zones`, {
      method: "POST",
      token: member.token,
      json: { name: "Empty", trigger: { behaviour: "new_session", ...anthropic } },
    });
    expect((await expectError(empty, 400)).message).toContain("promptTemplate");

    const zone = await createZone(member.token, boardId, { name: "Later", promptTemplate: "" });
    expect(zone.trigger).toBeNull();
    const refused = await call(`/api/boards/${boardId}/zones/${zone.id}`, {
      method: "PATCH",
      token: member.token,
      json: { trigger: { behaviour: "ask", ...anthropic } },
    });
    expect((await expectError(refused, 400)).message).toContain("needs a prompt template");

    const patched = await json<Zone>(
      call(`/api/boards/${boardId}/zones/${zone.id}`, {
        method: "PATCH",
        token: member.token,
        json: { promptTemplate: "Plan {{worktree.name}}", trigger: { behaviour: "ask", ...anthropic } },
      }),
    );
    // A trigger that names no runtime runs on Trellis's loop.
    expect(patched.trigger).toEqual({ behaviour: "ask", ...anthropic, runtime: "builtin" });
    const listed = await json<Page<Zone>>(call(`/api/boards/${boardId}/zones`, { token: owner.token }));
    expect(listed.items.find((z) => z.id === zone.id)?.trigger?.behaviour).toBe("ask");
  });
});

describe("dropping a worktree into a zone", () => {
  it("starts exactly one session with the rendered prompt, however many watch and drop at once", async () => {
    const zone = await createZone(member.token, boardId, {
      name: "Review",
      promptTemplate: REVIEW,
      trigger: { behaviour: "new_session", ...anthropic },
    });
    const wt = await readyWorktree();
    const watchers = await Promise.all([owner, member, owner].map((u) => joinRoom(boardId, { token: u.token })));

    // Two people drop the card at the same moment, and one nudges it inside the zone afterwards.
    const drops = await Promise.all([move(wt.id, zone.id), move(wt.id, zone.id, owner.token, 60)]);
    expect(drops.map((r) => r.status)).toEqual([200, 200]);
    expect((await move(wt.id, zone.id, member.token, 80)).status).toBe(200);

    const started = await eventually(async () => {
      const list = await sessionsOf(wt.id);
      return list.length > 0 && list;
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(await sessionsOf(wt.id)).toHaveLength(1);
    const session = started[0]!;
    expect(session.zoneId).toBe(zone.id);
    expect(session.model).toBe("claude-sonnet-4-5");
    expect(await promptsOf(session.id)).toEqual([
      `Member asks for a review of login-fix (login-fix) in Review on Board`,
    ]);
    for (const w of watchers) {
      await w.inbox.next("entity", (m) => m.entity === "session" && m.op === "created" && m.id === session.id);
      const created = w.inbox.all("entity").filter((m) => m.entity === "session" && m.op === "created");
      expect(created.filter((m) => m.row && (m.row as Session).worktreeId === wt.id)).toHaveLength(1);
    }

    // Out and back in is a new drop, so it fires again.
    expect((await move(wt.id, null)).status).toBe(200);
    expect((await move(wt.id, zone.id)).status).toBe(200);
    await eventually(async () => (await sessionsOf(wt.id)).length === 2);
    for (const w of watchers) w.ws.close();
  });

  it("sends the prompt to the worktree's latest session", async () => {
    const wt = await readyWorktree();
    const first = await json<Session>(
      call(`/api/boards/${boardId}/sessions`, {
        method: "POST",
        token: member.token,
        json: { worktreeId: wt.id, ...anthropic, title: "older" },
      }),
    );
    const latest = await json<Session>(
      call(`/api/boards/${boardId}/sessions`, {
        method: "POST",
        token: member.token,
        json: { worktreeId: wt.id, ...anthropic, title: "newer" },
      }),
    );
    const zone = await createZone(member.token, boardId, {
      name: "Tests",
      promptTemplate: "Now write tests for {{worktree.notes}}",
      trigger: { behaviour: "latest_session", ...anthropic },
    });
    expect((await move(wt.id, zone.id)).status).toBe(200);
    expect(await promptsOf(latest.id)).toEqual(["Now write tests for check the email field"]);
    expect(await promptsOf(first.id)).toEqual([]);
    expect(await sessionsOf(wt.id)).toHaveLength(2);
  });

  it("shows an `ask` prompt to the person who dropped the card, and to nobody else", async () => {
    const wt = await readyWorktree();
    const zone = await createZone(member.token, boardId, {
      name: "Triage",
      promptTemplate: "Triage {{worktree.name}} for {{user.name}}",
      trigger: { behaviour: "ask", ...anthropic },
    });
    const [mine, theirs] = await Promise.all([
      joinRoom(boardId, { token: member.token }),
      joinRoom(boardId, { token: owner.token }),
    ]);
    expect((await move(wt.id, zone.id)).status).toBe(200);
    const notice = await mine.inbox.next("notice", (m) => m.notice.kind === "zone.ask");
    expect(notice.notice.ask).toEqual({
      zoneId: zone.id,
      worktreeId: wt.id,
      prompt: "Triage ask-me for Member",
      trigger: { behaviour: "ask", ...anthropic, runtime: "builtin" },
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(theirs.inbox.all("notice")).toEqual([]);
    expect(await sessionsOf(wt.id)).toEqual([]);

    // Sending it starts a session that says which zone it came from.
    const sent = await json<Session>(
      call(`/api/boards/${boardId}/sessions`, {
        method: "POST",
        token: member.token,
        json: { worktreeId: wt.id, ...anthropic, prompt: notice.notice.ask!.prompt, zoneId: zone.id },
      }),
    );
    expect(sent.zoneId).toBe(zone.id);
    mine.ws.close();
    theirs.ws.close();
  });

  it("keeps the move and tells the dropper in words when the trigger cannot run", async () => {
    const wt = await readyWorktree();
    const zone = await createZone(member.token, boardId, {
      name: "Codex",
      promptTemplate: "Go {{worktree.name}}",
      trigger: { behaviour: "new_session", provider: "openai", model: "gpt-5", permissionMode: "ask" },
    });
    const mine = await joinRoom(boardId, { token: member.token });
    const res = await move(wt.id, zone.id);
    expect(res.status).toBe(200);
    expect((await res.json<Worktree>()).zoneId).toBe(zone.id);
    const notice = await mine.inbox.next("notice", (m) => m.notice.kind === "zone.trigger_failed");
    expect(notice.notice.title).toContain('Zone "Codex"');
    expect(notice.notice.body).toContain("has no OPENAI_API_KEY");
    expect(await sessionsOf(wt.id)).toEqual([]);
    mine.ws.close();
  });

  it("starts its sessions on the runtime it names; one the runner lacks is told to the dropper; a pairing that cannot run is refused when saved", async () => {
    await expectError(
      createZoneRes({
        name: "Bad",
        promptTemplate: "Go",
        trigger: { behaviour: "new_session", ...anthropic, runtime: "codex" },
      }),
      400,
      "bad_request",
    );
    const cc = await createZone(member.token, boardId, {
      name: "Claude",
      promptTemplate: "Go {{worktree.name}}",
      trigger: { behaviour: "new_session", ...anthropic, runtime: "claude-code" },
    });
    expect(cc.trigger?.runtime).toBe("claude-code");
    const wt = await readyWorktree();
    expect((await move(wt.id, cc.id)).status).toBe(200);
    const [s] = await eventually(async () => {
      const list = await sessionsOf(wt.id);
      return list.length > 0 && list;
    });
    expect(s!.runtime).toBe("claude-code");

    const codex = await createZone(member.token, boardId, {
      name: "Codex zone",
      promptTemplate: "Go {{worktree.name}}",
      trigger: {
        behaviour: "new_session",
        provider: "openai",
        model: "gpt-5",
        permissionMode: "ask",
        runtime: "codex",
      },
    });
    const other = await readyWorktree();
    const mine = await joinRoom(boardId, { token: member.token });
    expect((await move(other.id, codex.id)).status).toBe(200);
    const notice = await mine.inbox.next("notice", (m) => m.notice.kind === "zone.trigger_failed");
    expect(notice.notice.body).toContain("does not have @openai/codex-sdk");
    expect(await sessionsOf(other.id)).toEqual([]);
    mine.ws.close();
  });

  it("refuses a zone from another board for a session, and a viewer's drop moves nothing", async () => {
    const [viewer] = await registerUsers("Viewer");
    await call(`/api/boards/${boardId}/members`, {
      method: "POST",
      token: owner.token,
      json: { email: viewer.email, role: "viewer" },
    });
    const wt = await readyWorktree();
    const zone = await createZone(member.token, boardId, {
      name: "Guarded",
      promptTemplate: "Go {{worktree.name}}",
      trigger: { behaviour: "new_session", ...anthropic },
    });
    await expectError(move(wt.id, zone.id, viewer.token), 403);
    expect(await sessionsOf(wt.id)).toEqual([]);
    await expectError(
      call(`/api/boards/${boardId}/sessions`, {
        method: "POST",
        token: member.token,
        json: { worktreeId: wt.id, ...anthropic, zoneId: "not-a-zone" },
      }),
      400,
    );
  });
});
