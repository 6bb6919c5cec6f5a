/**
 * For the board stores' unit tests in Node: rows, room events, and a small fake of the API's HTTP
 * answers behind a real `hc` client, so the stores make the very calls they make in the browser.
 * Not imported by the board itself.
 */
import { hc } from "hono/client";
import {
  type Board,
  EntityEvent,
  type EntityRow,
  type EntityType,
  type Member,
  ROOM_PROTOCOL,
  type Worktree,
  type Zone,
} from "../../../protocol/index.ts";
import type { AppType } from "../../../worker/app.ts";
import type { ApiClient } from "../lib/http.ts";

export const BOARD_ID = "b1";
export const ME = "u-me";
export const OTHER = "u-other";

export const boardRow = (over: Partial<Board> = {}): Board => ({
  id: BOARD_ID,
  name: "Board",
  ownerId: ME,
  role: "owner",
  createdAt: 1,
  updatedAt: 1,
  ...over,
});

export const zoneRow = (id: string, over: Partial<Zone> = {}): Zone => ({
  id,
  boardId: BOARD_ID,
  name: `Zone ${id}`,
  color: "#7c3aed",
  x: 0,
  y: 0,
  width: 592,
  height: 344,
  promptTemplate: "",
  trigger: null,
  createdAt: 1,
  updatedAt: 1,
  ...over,
});

export const cardRow = (id: string, over: Partial<Worktree> = {}): Worktree => ({
  id,
  boardId: BOARD_ID,
  repoId: "r1",
  runnerId: "run1",
  zoneId: null,
  name: `wt-${id}`,
  branch: `br-${id}`,
  baseBranch: null,
  status: "ready",
  x: 0,
  y: 0,
  git: null,
  issueUrl: null,
  notes: "",
  mode: "new",
  branchCreated: true,
  error: null,
  errorCode: null,
  path: null,
  jobId: null,
  createdBy: ME,
  createdAt: 1,
  updatedAt: 1,
  ...over,
});

export const memberRow = (userId: string, over: Partial<Member> = {}): Member => ({
  userId,
  email: `${userId}@example.com`,
  name: userId,
  color: "#123456",
  role: "member",
  createdAt: 1,
  ...over,
});

/** A room event as the board receives it, checked against the contract. */
export function entityEvent<E extends EntityType>(
  entity: E,
  op: "created" | "patched" | "removed",
  id: string,
  row: EntityRow<E> | null,
  actorId: string | null = OTHER,
): EntityEvent {
  return EntityEvent.parse({ type: "entity", v: ROOM_PROTOCOL, entity, op, id, row, actorId, at: 1 });
}

export type Handler = (req: { method: string; url: URL; body: unknown }) => { status: number; body?: unknown };

/**
 * The board's REST answers from in-memory rows: board, zones, members, the paged card list, and
 * PATCH/DELETE of zones and cards. `hold` delivers the next matching answer only on release, so a
 * test can act while a read is in flight; `fail` answers the next matching request with an error.
 */
export class FakeBoardApi {
  board = boardRow();
  zones: Zone[] = [];
  members: Member[] = [memberRow(ME, { role: "owner" })];
  /** Kept in id order, as the API pages them. */
  cards: Worktree[] = [];
  /** Every request, as `METHOD /path?query`. */
  readonly log: string[] = [];
  /** Answers for routes beyond the board's own (another domain's fake); undefined falls through. */
  more: ((req: { method: string; url: URL; body: unknown; path: string }) => ReturnType<Handler> | undefined) | null =
    null;
  private holds: { match: string; arrived: () => void; released: Promise<void> }[] = [];
  private failures: { match: string; status: number }[] = [];
  readonly client: ApiClient = hc<AppType>("http://trellis.test", {
    fetch: (i: RequestInfo | URL, init?: RequestInit) => this.fetch(i, init),
  });

  setCards(rows: Worktree[]) {
    this.cards = [...rows].sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  /** The next request whose `METHOD /path?query` starts with `match` waits until `release()`. */
  hold(match: string) {
    let release!: () => void;
    let arrived!: () => void;
    const released = new Promise<void>((r) => {
      release = r;
    });
    const arrival = new Promise<void>((r) => {
      arrived = r;
    });
    this.holds.push({ match, arrived, released });
    return { arrival, release };
  }

  fail(match: string, status: number) {
    this.failures.push({ match, status });
  }

  count(match: string): number {
    return this.log.filter((l) => l.startsWith(match)).length;
  }

  private async fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const method = (init?.method ?? "GET").toUpperCase();
    const line = `${method} ${url.pathname}${url.search}`;
    this.log.push(line);
    // The answer is what the data says when the request arrives; a held one is only delivered late.
    const failed = this.failures.findIndex((f) => line.startsWith(f.match));
    const body = typeof init?.body === "string" ? JSON.parse(init.body) : undefined;
    const res =
      failed >= 0
        ? this.refusal(this.failures.splice(failed, 1)[0]!.status)
        : structuredClone(this.answer({ method, url, body }));
    const held = this.holds.findIndex((h) => line.startsWith(h.match));
    if (held >= 0) {
      const [h] = this.holds.splice(held, 1);
      h!.arrived();
      await h!.released;
    }
    return res.status === 204 ? new Response(null, { status: 204 }) : Response.json(res.body, { status: res.status });
  }

  private refusal(status: number) {
    return { status, body: { error: { code: "test", message: `refused (${status})` } } };
  }

  private answer: Handler = ({ method, url, body }) => {
    const path = url.pathname.replace(`/api/boards/${BOARD_ID}`, "");
    const [, kind, id] = path.split("/");
    if (method === "GET" && path === "") return { status: 200, body: this.board };
    if (method === "GET" && path === "/zones") return { status: 200, body: { items: this.zones } };
    if (method === "GET" && path === "/members") return { status: 200, body: { items: this.members } };
    if (method === "GET" && path === "/worktrees") {
      const limit = Number(url.searchParams.get("limit"));
      const cursor = url.searchParams.get("cursor");
      const rest = cursor ? this.cards.filter((c) => c.id > cursor) : this.cards;
      const items = rest.slice(0, limit);
      return { status: 200, body: { items, nextCursor: rest.length > limit ? items.at(-1)!.id : null } };
    }
    if (kind === "zones") return write(this.zones, id, method, body);
    if (kind === "worktrees") return write(this.cards, id, method, body);
    const more = this.more?.({ method, url, body, path });
    if (more) return more;
    return { status: 405, body: { error: { code: "test", message: "Not in the fake." } } };
  };
}

function write<T extends { id: string; updatedAt: number }>(
  list: T[],
  id: string | undefined,
  method: string,
  body: unknown,
) {
  const row = list.find((r) => r.id === id);
  if (!row) return { status: 404, body: { error: { code: "not_found", message: "Not found." } } };
  if (method === "PATCH") {
    Object.assign(row, body as object, { updatedAt: row.updatedAt + 1 });
    return { status: 200, body: row };
  }
  if (method === "DELETE") {
    list.splice(list.indexOf(row), 1);
    return { status: 204 };
  }
  return { status: 405, body: { error: { code: "test", message: "Not in the fake." } } };
}

/** Lets pending promise callbacks (the stores' awaited calls) run. */
export const settle = () => new Promise((r) => setTimeout(r, 0));
