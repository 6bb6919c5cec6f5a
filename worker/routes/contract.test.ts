import type { Outcome, ServiceAdapter, ServiceClient } from "../../test/contract.ts";
import { serviceContract } from "../../test/contract.ts";
import { call } from "../../test/helpers.ts";

/** The service contract through REST: each operation is the route the board and the CLI call. */
async function outcome<T>(res: Promise<Response>): Promise<Outcome<T>> {
  const r = await res;
  if (r.status === 204) return { ok: true, value: undefined as T };
  const body = await r.json<T & { error?: { code: string; message: string } }>();
  return r.ok ? { ok: true, value: body } : { ok: false, code: body.error!.code, message: body.error!.message };
}

const rest: ServiceAdapter = {
  name: "REST",
  full: true,
  as(user) {
    const send = <T>(method: string, path: string, json?: unknown) =>
      outcome<T>(call(`/api${path}`, { method, token: user.token, ...(json === undefined ? {} : { json }) }));
    const client: ServiceClient = {
      listBoards: () => send("GET", "/boards"),
      getBoard: (b) => send("GET", `/boards/${b}`),
      renameBoard: (b, name) => send("PATCH", `/boards/${b}`, { name }),
      listZones: (b) => send("GET", `/boards/${b}/zones`),
      createZone: (b, body) => send("POST", `/boards/${b}/zones`, body),
      patchZone: (b, z, body) => send("PATCH", `/boards/${b}/zones/${z}`, body),
      deleteZone: (b, z) => send("DELETE", `/boards/${b}/zones/${z}`),
      listMembers: (b) => send("GET", `/boards/${b}/members`),
      addMember: (b, email, role) => send("POST", `/boards/${b}/members`, { email, role }),
      createWorktree: (b, body) => send("POST", `/boards/${b}/worktrees`, body),
      // The board's own drag: the card's position on the canvas, the zone it lands in.
      moveWorktree: (b, w, zone, at) =>
        send("PATCH", `/boards/${b}/worktrees/${w}`, {
          zoneId: zone.id,
          x: typeof at.x === "number" ? zone.x + at.x : at.x,
          y: typeof at.y === "number" ? zone.y + at.y : at.y,
        }),
      createSession: (b, body) => send("POST", `/boards/${b}/sessions`, body),
      promptSession: (b, s, text) => send("POST", `/boards/${b}/sessions/${s}/prompts`, { text }),
      stopSession: (b, s) => send("POST", `/boards/${b}/sessions/${s}/stop`),
    };
    return client;
  },
};

serviceContract(rest);
