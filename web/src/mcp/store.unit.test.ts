import { beforeEach, describe, expect, it } from "vitest";
import type { McpServer } from "../../../protocol/index.ts";
import { BOARD_ID, entityEvent, FakeBoardApi, ME, OTHER, settle } from "../board/testkit.ts";
import { keySourceOf } from "../sessions/format.ts";
import { taskRow } from "../sessions/testkit.ts";
import { McpServers } from "./store.ts";

/**
 * The board's MCP servers over a real `hc` client on fake HTTP answers: the list read, room
 * events, our own writes, and a read in flight that must not undo what happened meanwhile.
 */

const PATH = `/mcp-servers`;
const LIST = `GET /api/boards/${BOARD_ID}${PATH}`;

const serverRow = (id: string, over: Partial<McpServer> = {}): McpServer => ({
  id,
  boardId: BOARD_ID,
  name: `srv-${id}`,
  transport: "stdio",
  command: "npx",
  args: ["-y", "server"],
  url: null,
  env: [{ name: "TOKEN", last4: "abcd" }],
  headers: [],
  createdBy: ME,
  createdByName: "Me",
  createdAt: Number(id.replace(/\D/g, "")) || 1,
  editedBy: null,
  editedByName: null,
  ...over,
});

let server: FakeBoardApi;
let rows: McpServer[];
let store: McpServers;
const names = () => store.rows.get()?.map((s) => s.id);

beforeEach(() => {
  server = new FakeBoardApi();
  rows = [];
  server.more = ({ method, path, body }) => {
    if (method === "GET" && path === PATH) return { status: 200, body: { items: rows } };
    if (method === "POST" && path === PATH) {
      const b = body as { name: string };
      if (rows.some((r) => r.name === b.name))
        return { status: 409, body: { error: { code: "mcp_server_exists", message: "Taken." } } };
      const row = serverRow(`m${rows.length + 10}`, { name: b.name });
      rows.push(row);
      return { status: 201, body: row };
    }
    if (method === "PATCH" && path.startsWith(`${PATH}/`)) {
      const i = rows.findIndex((r) => r.id === path.split("/")[2]);
      if (i < 0) return { status: 404, body: { error: { code: "not_found", message: "Not found." } } };
      rows[i] = { ...rows[i]!, ...(body as { name?: string }), editedBy: ME, editedByName: "Me" };
      return { status: 200, body: rows[i] };
    }
    if (method === "DELETE" && path.startsWith(`${PATH}/`)) {
      const id = path.split("/")[2];
      const i = rows.findIndex((r) => r.id === id);
      if (i < 0) return { status: 404, body: { error: { code: "not_found", message: "Not found." } } };
      rows.splice(i, 1);
      return { status: 204 };
    }
    return undefined;
  };
  store = new McpServers(server.client, BOARD_ID);
});

describe("the board's MCP servers", () => {
  it("are null until read, then listed oldest first", async () => {
    expect(store.rows.get()).toBeNull();
    rows = [serverRow("m2"), serverRow("m1")];
    await store.readAll();
    expect(names()).toEqual(["m1", "m2"]);
  });

  it("follow the room's events, and ignore others", async () => {
    await store.readAll();
    store.apply(entityEvent("mcp_server", "created", "m1", serverRow("m1")));
    store.apply(entityEvent("mcp_server", "created", "m2", serverRow("m2")));
    expect(names()).toEqual(["m1", "m2"]);
    store.apply(entityEvent("mcp_server", "removed", "m1", null));
    expect(names()).toEqual(["m2"]);
    const before = store.rows.get();
    store.apply(entityEvent("mcp_server", "removed", "nope", null));
    expect(store.rows.get()).toBe(before);
  });

  it("add shows the edge's answer at once; its refusal is thrown as is", async () => {
    await store.readAll();
    const row = await store.add({ transport: "stdio", name: "github", command: "npx", args: [], env: {} });
    expect(store.get(row.id)?.name).toBe("github");
    // The room's event for the same row after it changes nothing.
    store.apply(entityEvent("mcp_server", "created", row.id, row, ME));
    expect(names()).toEqual([row.id]);
    await expect(
      store.add({ transport: "http", name: "github", url: "https://x.test/mcp", headers: {} }),
    ).rejects.toThrow("Taken.");
    expect(names()).toEqual([row.id]);
  });

  it("edit shows the edge's answer in place, same id; a server gone meanwhile is the edge's 404", async () => {
    rows = [serverRow("m1"), serverRow("m2")];
    await store.readAll();
    const row = await store.edit("m1", { name: "renamed" });
    expect(row).toMatchObject({ id: "m1", name: "renamed", editedBy: ME });
    expect(names()).toEqual(["m1", "m2"]);
    expect(store.get("m1")?.name).toBe("renamed");
    await expect(store.edit("m9", { name: "x" })).rejects.toThrow("Not found.");
  });

  it("remove drops it, also when someone removed it first", async () => {
    rows = [serverRow("m1"), serverRow("m2")];
    await store.readAll();
    await store.remove("m1");
    expect(names()).toEqual(["m2"]);
    rows = [];
    await store.remove("m2");
    expect(names()).toEqual([]);
  });

  it("a read in flight keeps what was added and removed meanwhile, and drops what went while away", async () => {
    rows = [serverRow("m1"), serverRow("m2"), serverRow("m3")];
    await store.readAll();
    // While we were away: m3 went. The read answers, then m1 goes and m4 comes before it lands.
    rows = [serverRow("m1"), serverRow("m2")];
    const held = server.hold(LIST);
    const reading = store.readAll();
    await held.arrival;
    store.apply(entityEvent("mcp_server", "removed", "m1", null, OTHER));
    store.apply(entityEvent("mcp_server", "created", "m4", serverRow("m4"), OTHER));
    held.release();
    await reading;
    expect(names()).toEqual(["m2", "m4"]);
    // A late event for a removed server does not bring it back.
    store.apply(entityEvent("mcp_server", "created", "m1", serverRow("m1"), OTHER));
    await settle();
    expect(names()).toEqual(["m2", "m4"]);
  });
});

describe("whose key a task used", () => {
  it("is said for me, for another prompter, and for the runner; nothing before it starts", () => {
    expect(keySourceOf(taskRow("t1", "s1"), ME)).toBeNull();
    expect(keySourceOf(taskRow("t1", "s1", { keySource: "user" }), ME)?.label).toBe("your key");
    expect(keySourceOf(taskRow("t1", "s1", { keySource: "user", authorId: OTHER, authorName: "Ada" }), ME)?.label).toBe(
      "Ada's key",
    );
    const runner = keySourceOf(taskRow("t1", "s1", { keySource: "runner" }), ME);
    expect(runner?.label).toBe("runner's key");
    expect(runner?.title).toMatch(/runner's environment/);
  });
});
