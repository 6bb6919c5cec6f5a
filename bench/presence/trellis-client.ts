import WebSocket from "ws";
import type { ServerMessage } from "../../protocol/index.ts";
import type { Connect, PresenceClient } from "./load.ts";

/**
 * A bench client on a Trellis board room, as the runner and CLI connect: a bearer token on the
 * upgrade (Node's global WebSocket cannot set headers, hence `ws`).
 */
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
        const at = performance.now();
        const msg = JSON.parse(data.toString()) as ServerMessage;
        if (msg.type === "presence") {
          hooks.onFrame();
          for (const u of msg.updates) if (u.cursor) hooks.onUpdate(u.connectionId, u.cursor.x, at);
        } else if (msg.type === "welcome") {
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
        } else if (msg.type === "error") {
          hooks.onFail(`room error ${msg.code}: ${msg.message}`);
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
