/**
 * The service contract: what every entry point (REST, MCP) must do the same, written once
 * against a small adapter. Each case checks one thing an adapter could get wrong on
 * its own: validation, who may do what, and the event a change publishes to the board's room.
 *
 * An adapter turns an operation into a call on its entry point and the answer into `Outcome`;
 * errors are compared by their code (`not_found`, `insufficient_role`, `bad_request`), which
 * every entry point carries, not by HTTP status.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { Board, EntityEvent, Member, Repo, Session, Task, Worktree, Zone } from "../protocol/index.ts";
import { GIT, registerRunner, runNext } from "../worker/routes/runner-testkit.ts";
import { addMember, call, createBoard, joinRoom, json, registerUsers, type TestUser } from "./helpers.ts";

export type Outcome<T> = { ok: true; value: T } | { ok: false; code: string; message: string };

/**
 * The operations the contract covers, as one person would call them. The optional ones are those
 * an entry point may not offer (MCP has no tools for renaming boards, changing zones or managing
 * members): a case runs every step its adapter offers, and each adapter still meets the rest.
 */
export interface ServiceClient {
  listBoards(): Promise<Outcome<{ items: Board[] }>>;
  getBoard(boardId: string): Promise<Outcome<Board>>;
  renameBoard?(boardId: string, name: unknown): Promise<Outcome<Board>>;
  listZones(boardId: string): Promise<Outcome<{ items: Zone[] }>>;
  createZone(boardId: string, body: unknown): Promise<Outcome<Zone>>;
  patchZone?(boardId: string, zoneId: string, body: unknown): Promise<Outcome<Zone>>;
  deleteZone?(boardId: string, zoneId: string): Promise<Outcome<unknown>>;
  listMembers?(boardId: string): Promise<Outcome<{ items: Member[] }>>;
  addMember?(boardId: string, email: unknown, role: unknown): Promise<Outcome<Member>>;
  createWorktree(boardId: string, body: unknown): Promise<Outcome<Worktree>>;
  /** Into `zone` at `at`, measured from the zone's top-left corner (the adapter converts as its entry point needs). */
  moveWorktree(
    boardId: string,
    worktreeId: string,
    zone: Zone,
    at: { x: unknown; y: unknown },
  ): Promise<Outcome<Worktree>>;
  createSession(boardId: string, body: unknown): Promise<Outcome<Session>>;
  promptSession(boardId: string, sessionId: string, text: unknown): Promise<Outcome<Task>>;
  stopSession(boardId: string, sessionId: string): Promise<Outcome<Session>>;
}

export interface ServiceAdapter {
  name: string;
  /** It offers every optional operation of `ServiceClient`. */
  full: boolean;
  /** A client acting as this user (with whatever credential the entry point takes). */
  as(user: TestUser): ServiceClient;
}

/** Register the contract's cases for one adapter. */
export function serviceContract(adapter: ServiceAdapter) {
  /** Does this entry point offer every operation (REST), or only the core (MCP)? */
  const full = adapter.full;
  describe(`service contract through ${adapter.name}`, () => {
    let owner: TestUser;
    let member: TestUser;
    let viewer: TestUser;
    let outsider: TestUser;
    let board: { id: string };

    beforeAll(async () => {
      [owner, member, viewer, outsider] = await registerUsers("Owner", "Member", "Viewer", "Outsider");
      board = await createBoard(owner.token, "Contract");
      await addMember(owner.token, board.id, member, "member");
      await addMember(owner.token, board.id, viewer, "viewer");
    });

    const fails = async (p: Promise<Outcome<unknown>>, code: string) => {
      const o = await p;
      expect(o.ok, JSON.stringify(o)).toBe(false);
      if (!o.ok) {
        expect(o.code).toBe(code);
        expect(o.message.length).toBeGreaterThan(3);
      }
      return o;
    };
    const value = async <T>(p: Promise<Outcome<T>>): Promise<T> => {
      const o = await p;
      if (!o.ok) throw new Error(`expected success, got ${o.code}: ${o.message}`);
      return o.value;
    };

    describe("who may see a board", () => {
      it("members see it with their own role; a non-member is told it does not exist", async () => {
        expect((await value(adapter.as(viewer).getBoard(board.id))).role).toBe("viewer");
        await fails(adapter.as(outsider).getBoard(board.id), "not_found");
        await fails(adapter.as(outsider).listZones(board.id), "not_found");
        if (full) await fails(adapter.as(outsider).listMembers!(board.id), "not_found");
        const listed = await value(adapter.as(outsider).listBoards());
        expect(listed.items.map((b) => b.id)).not.toContain(board.id);
      });

      it("an unknown board is the same not_found as someone else's", async () => {
        await fails(adapter.as(owner).getBoard("no-such-board"), "not_found");
      });
    });

    describe("who may change a board", () => {
      it("viewers cannot change anything; members can; only owners manage members", async () => {
        await fails(adapter.as(viewer).createZone(board.id, { name: "Nope" }), "insufficient_role");
        const zone = await value(adapter.as(member).createZone(board.id, { name: "Member's" }));
        await fails(adapter.as(outsider).createZone(board.id, { name: "Outside" }), "not_found");
        if (!full) return;
        await fails(adapter.as(viewer).renameBoard!(board.id, "Nope"), "insufficient_role");
        await fails(adapter.as(viewer).patchZone!(board.id, zone.id, { x: 10 }), "insufficient_role");
        await fails(adapter.as(viewer).deleteZone!(board.id, zone.id), "insufficient_role");
        await fails(adapter.as(member).addMember!(board.id, outsider.email, "viewer"), "insufficient_role");
      });

      it("a zone of another board cannot be reached through this one", async () => {
        const other = await createBoard(owner.token, "Other");
        const foreign = await value(adapter.as(owner).createZone(other.id, { name: "Foreign" }));
        await fails(adapter.as(member).createZone(other.id, { name: "Through" }), "not_found");
        if (!full) return;
        await fails(adapter.as(member).patchZone!(board.id, foreign.id, { x: 1 }), "not_found");
        await fails(adapter.as(member).deleteZone!(board.id, foreign.id), "not_found");
      });
    });

    describe("validation", () => {
      it("refuses bad input with bad_request and changes nothing", async () => {
        const before = (await value(adapter.as(owner).listZones(board.id))).items.length;
        await fails(adapter.as(owner).createZone(board.id, { name: "" }), "bad_request");
        await fails(adapter.as(owner).createZone(board.id, { name: "x", x: Number.MAX_VALUE }), "bad_request");
        await fails(adapter.as(owner).createZone(board.id, { name: "x", color: "red" }), "bad_request");
        await fails(adapter.as(owner).createZone(board.id, { name: "a\ud800b" }), "bad_request");
        await fails(adapter.as(owner).createZone(board.id, { name: 42 }), "bad_request");
        if (full) {
          await fails(adapter.as(owner).renameBoard!(board.id, 42), "bad_request");
          await fails(adapter.as(owner).addMember!(board.id, "not an email", "member"), "bad_request");
          await fails(adapter.as(owner).addMember!(board.id, outsider.email, "emperor"), "bad_request");
        }
        expect((await value(adapter.as(owner).listZones(board.id))).items.length).toBe(before);
      });

      it.runIf(full)("a patch with nothing in it is refused", async () => {
        const zone = await value(adapter.as(owner).createZone(board.id, { name: "Still" }));
        await fails(adapter.as(owner).patchZone!(board.id, zone.id, {}), "bad_request");
      });
    });

    describe("events", () => {
      it("a created zone is announced to the board's room, once, typed, with who made it", async () => {
        const room = await joinRoom(board.id, { token: viewer.token });
        const zone = await value(adapter.as(member).createZone(board.id, { name: "Announced once" }));
        const event = await room.inbox.next("entity", (e) => e.entity === "zone" && e.id === zone.id);
        expect(event).toMatchObject({ op: "created", actorId: member.id, row: { name: "Announced once" } });
        expect(room.inbox.all("entity").filter((e) => e.id === zone.id)).toHaveLength(1);
        room.ws.close();
      });

      it.runIf(full)("every change is announced to the board's room, once, typed, with who made it", async () => {
        const room = await joinRoom(board.id, { token: viewer.token });
        const zone = await value(adapter.as(member).createZone(board.id, { name: "Announced" }));
        await value(adapter.as(member).patchZone!(board.id, zone.id, { name: "Renamed" }));
        await value(adapter.as(member).deleteZone!(board.id, zone.id));
        const renamed = await value(adapter.as(owner).renameBoard!(board.id, "Contract, renamed"));
        const events: EntityEvent[] = [];
        for (const [entity, op, id] of [
          ["zone", "created", zone.id],
          ["zone", "patched", zone.id],
          ["zone", "removed", zone.id],
          ["board", "patched", board.id],
        ] as const) {
          events.push(await room.inbox.next("entity", (e) => e.entity === entity && e.op === op && e.id === id));
        }
        expect(events[0]).toMatchObject({ actorId: member.id, row: { name: "Announced" } });
        expect(events[1]).toMatchObject({ row: { name: "Renamed" } });
        expect(events[2]?.row).toBeNull();
        // The board's event carries what everyone shares, not the caller's own role.
        expect(events[3]?.row).toMatchObject({ name: renamed.name });
        expect(events[3]?.row).not.toHaveProperty("role");
        const zoneEvents = room.inbox.all("entity").filter((e) => e.id === zone.id);
        expect(zoneEvents).toHaveLength(3);
        room.ws.close();
      });

      it("a refused change announces nothing", async () => {
        const room = await joinRoom(board.id, { token: viewer.token });
        await fails(adapter.as(viewer).createZone(board.id, { name: "Refused" }), "insufficient_role");
        await fails(adapter.as(owner).createZone(board.id, { name: "" }), "bad_request");
        // A change after the refusals arrives first: nothing was queued before it.
        const marker = await value(adapter.as(owner).createZone(board.id, { name: "Marker" }));
        const first = await room.inbox.next("entity");
        expect(first.id).toBe(marker.id);
        room.ws.close();
      });
    });

    /**
     * Work on the board: a runner (played by this test) shared with it, holding one repo. Cards are
     * made before any session queues a task, so the runner's next job is always the card's.
     */
    describe("worktrees and sessions", () => {
      let repo: Repo;
      let runner: { id: string; credential: string };
      let card: Worktree;

      beforeAll(async () => {
        runner = await registerRunner(owner.token);
        await call(`/api/runners/${runner.id}/boards`, {
          method: "POST",
          token: owner.token,
          json: { boardId: board.id },
        });
        repo = await json<Repo>(
          call(`/api/runners/${runner.id}/repos`, {
            method: "POST",
            token: owner.token,
            json: { source: { kind: "path", path: "/home/ann/code/contract" } },
          }),
        );
        await runNext(runner.credential, {
          status: "succeeded",
          result: { path: "/home/ann/code/contract", defaultBranch: "main", branches: ["main"] },
        });
      });

      it("a member creates a worktree, announced once; a viewer cannot; bad input changes nothing", async () => {
        const body = { repoId: repo.id, name: "contract", branch: "contract" };
        await fails(adapter.as(viewer).createWorktree(board.id, body), "insufficient_role");
        await fails(adapter.as(outsider).createWorktree(board.id, body), "not_found");
        await fails(adapter.as(member).createWorktree(board.id, { ...body, name: "has space" }), "bad_request");
        await fails(adapter.as(member).createWorktree(board.id, { ...body, repoId: 42 }), "bad_request");
        const room = await joinRoom(board.id, { token: viewer.token });
        card = await value(adapter.as(member).createWorktree(board.id, body));
        expect(card).toMatchObject({ name: "contract", branch: "contract", status: "creating", createdBy: member.id });
        const event = await room.inbox.next("entity", (e) => e.entity === "worktree" && e.id === card.id);
        expect(event).toMatchObject({ op: "created", actorId: member.id });
        expect(room.inbox.all("entity").filter((e) => e.entity === "worktree")).toHaveLength(1);
        room.ws.close();
        await runNext(runner.credential, {
          status: "succeeded",
          result: { path: "/home/ann/wt/contract", git: GIT, createdBranch: true },
        });
      });

      it("a member moves a card into a zone at a position; a viewer cannot; another board's zone is bad_zone", async () => {
        const zone = await value(adapter.as(member).createZone(board.id, { name: "Moves", x: 100, y: 200 }));
        const other = await createBoard(owner.token, "Elsewhere");
        const foreign = await value(adapter.as(owner).createZone(other.id, { name: "Foreign" }));
        await fails(adapter.as(viewer).moveWorktree(board.id, card.id, zone, { x: 10, y: 20 }), "insufficient_role");
        await fails(adapter.as(outsider).moveWorktree(board.id, card.id, zone, { x: 10, y: 20 }), "not_found");
        await fails(adapter.as(member).moveWorktree(board.id, card.id, zone, { x: "left", y: 20 }), "bad_request");
        await fails(adapter.as(member).moveWorktree(board.id, card.id, foreign, { x: 1, y: 1 }), "bad_zone");
        await fails(adapter.as(member).moveWorktree(board.id, "no-such-card", zone, { x: 1, y: 1 }), "not_found");
        const room = await joinRoom(board.id, { token: viewer.token });
        const moved = await value(adapter.as(member).moveWorktree(board.id, card.id, zone, { x: 10, y: 20 }));
        expect(moved).toMatchObject({ id: card.id, zoneId: zone.id, x: 110, y: 220 });
        const event = await room.inbox.next("entity", (e) => e.entity === "worktree" && e.id === card.id);
        expect(event).toMatchObject({ op: "patched", actorId: member.id, row: { zoneId: zone.id, x: 110, y: 220 } });
        room.ws.close();
      });

      it("a member starts a session, prompts it and stops it, each announced; a viewer can do none of it", async () => {
        const start = { worktreeId: card.id, provider: "anthropic", model: "claude-sonnet-4-5" };
        await fails(adapter.as(viewer).createSession(board.id, { ...start, prompt: "Nope" }), "insufficient_role");
        await fails(adapter.as(outsider).createSession(board.id, start), "not_found");
        await fails(adapter.as(member).createSession(board.id, { ...start, permissionMode: "yolo" }), "bad_request");
        await fails(adapter.as(member).createSession(board.id, { ...start, worktreeId: "no-such-card" }), "not_found");
        const room = await joinRoom(board.id, { token: viewer.token });
        const s = await value(
          adapter.as(member).createSession(board.id, { ...start, title: "Contract", prompt: "Start" }),
        );
        expect(s).toMatchObject({ worktreeId: card.id, title: "Contract", status: "queued", createdBy: member.id });
        const created = await room.inbox.next("entity", (e) => e.entity === "session" && e.id === s.id);
        expect(created).toMatchObject({ op: "created", actorId: member.id });

        await fails(adapter.as(viewer).promptSession(board.id, s.id, "More"), "insufficient_role");
        await fails(adapter.as(member).promptSession(board.id, s.id, "   "), "bad_request");
        await fails(adapter.as(member).promptSession(board.id, "no-such-session", "More"), "not_found");
        const task = await value(adapter.as(member).promptSession(board.id, s.id, "More"));
        expect(task).toMatchObject({ sessionId: s.id, prompt: "More", status: "queued", authorId: member.id });

        await fails(adapter.as(viewer).stopSession(board.id, s.id), "insufficient_role");
        await fails(adapter.as(outsider).stopSession(board.id, s.id), "not_found");
        const stopped = await value(adapter.as(member).stopSession(board.id, s.id));
        expect(stopped.id).toBe(s.id);
        room.ws.close();
      });
    });
  });
}
