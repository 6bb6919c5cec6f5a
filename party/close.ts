import type { Connection } from "partyserver";

/** A close without a status code (`ws.close()` in Node, most non-browser clients). */
const NO_STATUS = 1005;

/**
 * Answer a peer's close frame at once. partyserver answers it only after `onClose` (which may wait
 * on D1), and never when it came without a status code, since 1005 may not be sent back: such a
 * socket stayed `CLOSING` on the peer's side until the platform timed it out (seconds).
 */
export function answerClose(conn: Connection, code: number): void {
  try {
    conn.close(code === NO_STATUS ? 1000 : code, "closed");
  } catch {
    // Closed already, or the code is one we may not send (1006: there was no close frame to answer).
  }
}
