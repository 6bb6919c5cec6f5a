import WebSocket from "ws";
import type { ServerMessage } from "../../protocol/index.ts";
import type { ClientHooks, Connect, PresenceClient } from "./load.ts";

/**
 * A bench client on a Trellis board room, as the runner and CLI connect: a bearer token on the
 * upgrade (Node's global WebSocket cannot set headers, hence `ws`).
 */
/**
 * One coalesced flush reaches all N sockets of this process at once. Parsing each frame as it comes
 * would make the last socket's receive time wait for the other sockets' parsing (a cost the load
 * generator adds, not the room: real receivers are separate machines), so a frame is only stamped
 * on arrival and parsed after every ready socket has been read.
 */
const arrived: { data: Buffer; at: number; hooks: ClientHooks }[] = [];

function receive(data: Buffer, hooks: ClientHooks): void {
  if (arrived.length === 0) setImmediate(parseArrived);
  arrived.push({ data, at: performance.now(), hooks });
}

function parseArrived(): void {
  for (const { data, at, hooks } of arrived.splice(0)) {
    const msg = JSON.parse(data.toString()) as ServerMessage;
    if (msg.type === "presence") {
      hooks.onFrame();
      for (const u of msg.updates) if (u.cursor) hooks.onUpdate(u.connectionId, u.cursor.x, at);
    } else if (msg.type === "error") {
      hooks.onFail(`room error ${msg.code}: ${msg.message}`);
    }
  }
}

export function trellisConnector(base: string, boardId: string, token: string): Connect {
  const url = `${base.replace(/^http/, "ws")}/parties/board-room/${boardId}`;
  return (index, hooks) =>
    new Promise<PresenceClient>((resolve, reject) => {
      // No compression: cursor frames are small, and deflate would only add CPU on both ends.
      const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false });
      let id: string | null = null;
      let closed = false;
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`client ${index}: no welcome within 10 s`));
      }, 10_000);
      ws.on("unexpected-response", (_req, res) => {
        clearTimeout(timer);
        reject(new Error(`client ${index}: upgrade refused with ${res.statusCode}`));
      });
      ws.on("message", (data: Buffer) => {
        if (id) return receive(data, hooks);
        const msg = JSON.parse(data.toString()) as ServerMessage;
        if (msg.type === "welcome") {
          id = msg.connectionId;
          clearTimeout(timer);
          resolve({
            id,
            sendCursor: (seq, y) => ws.send(JSON.stringify({ type: "presence", cursor: { x: seq, y } })),
            close: () =>
              new Promise<void>((done) => {
                if (closed) return done();
                // A close handshake the server never answers must not hang the bench.
                const kill = setTimeout(() => ws.terminate(), 2000);
                ws.once("close", () => {
                  clearTimeout(kill);
                  done();
                });
                ws.close(1000, "bench done");
              }),
          });
        }
      });
      ws.on("error", (e) => {
        hooks.onFail(e.message);
        if (!id) {
          clearTimeout(timer);
          reject(e);
        }
      });
      ws.on("close", (code, reason) => {
        closed = true;
        hooks.onFail(`closed ${code} ${reason.toString()}`);
      });
    });
}
