import { io } from "socket.io-client";
import type { Connect, PresenceClient } from "./load.ts";

/** A bench client on the comparison server: WebSocket transport only (no long-polling start). */
export function socketioConnector(base: string, board: string): Connect {
  return (index, hooks) =>
    new Promise<PresenceClient>((resolve, reject) => {
      const socket = io(base, {
        transports: ["websocket"],
        forceNew: true,
        reconnection: false,
        query: { board },
        timeout: 10_000,
      });
      socket.on("cursor", (m: { connectionId: string; cursor: { x: number; y: number } }) => {
        const at = performance.now();
        hooks.onFrame();
        hooks.onUpdate(m.connectionId, m.cursor.x, at);
      });
      socket.once("connect", () =>
        resolve({
          id: socket.id!,
          sendCursor: (seq, y) => socket.emit("cursor", { x: seq, y }),
          close: async () => {
            socket.disconnect();
          },
        }),
      );
      socket.once("connect_error", (e) => reject(new Error(`client ${index}: ${e.message}`)));
      socket.on("disconnect", (reason) => hooks.onFail(`disconnected: ${reason}`));
    });
}
