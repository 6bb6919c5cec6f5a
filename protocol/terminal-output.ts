/**
 * A terminal's output on the wire: one binary WebSocket frame per batch of PTY bytes, the same
 * frame on both hops. The runner sends it up its link socket; the edge reads the header (which
 * terminal), never the bytes, and forwards the very frame it got to each viewer of that terminal;
 * the viewer hands the bytes to its xterm as they are. So no hop decodes, escapes or re-encodes a
 * flood (as JSON text frames did: UTF-8 to a string, JSON escapes, zod, and back, at every hop).
 *
 * Every other terminal frame (screen, size, viewers, acks, input, …) is JSON text
 * (protocol/terminals.ts); a binary frame is always this one.
 *
 * Layout:
 *
 * | bytes     | what                                                                  |
 * | --------- | --------------------------------------------------------------------- |
 * | 0         | `TERMINAL_OUTPUT_KIND` (1)                                            |
 * | 1         | n, the terminal id's length (1–64)                                    |
 * | 2 … 2+n-1 | the terminal id, ASCII (letters, digits and `-`)                      |
 * | 2+n …     | the PTY's bytes, as tmux wrote them (0 – `MAX_OUTPUT_BYTES`)          |
 *
 * The bytes are UTF-8 that may be cut inside a character at a frame's end: a terminal's UTF-8
 * decoder (xterm's `write(Uint8Array)`) carries the rest over to the next frame.
 */

export const TERMINAL_OUTPUT_KIND = 1;
/** The most PTY bytes one output frame carries: the runner's batch size. */
export const MAX_OUTPUT_BYTES = 64 * 1024;
const MAX_ID = 64;
const ID = /^[A-Za-z0-9-]{1,64}$/;

export interface TerminalOutput {
  terminalId: string;
  /** The PTY's bytes: a view into the frame, not a copy. */
  data: Uint8Array;
}

/** How many bytes of a frame for `terminalId` come before the PTY's bytes. */
export const outputHeaderBytes = (terminalId: string) => 2 + terminalId.length;

/**
 * One frame for `terminalId` holding `chunks` one after another (at most `MAX_OUTPUT_BYTES` in
 * all): the header and the bytes in one allocation, one copy of each chunk.
 */
export function encodeTerminalOutput(terminalId: string, chunks: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  if (!ID.test(terminalId)) throw new Error(`not a terminal id: ${JSON.stringify(terminalId)}`);
  let size = 0;
  for (const c of chunks) size += c.byteLength;
  if (size > MAX_OUTPUT_BYTES) throw new Error(`output frame of ${size} bytes is over ${MAX_OUTPUT_BYTES}`);
  const head = outputHeaderBytes(terminalId);
  const frame = new Uint8Array(head + size);
  frame[0] = TERMINAL_OUTPUT_KIND;
  frame[1] = terminalId.length;
  for (let i = 0; i < terminalId.length; i++) frame[2 + i] = terminalId.charCodeAt(i);
  let at = head;
  for (const c of chunks) {
    frame.set(c, at);
    at += c.byteLength;
  }
  return frame;
}

/** Which terminal and which bytes a binary frame holds, or why it is not an output frame. */
export function decodeTerminalOutput(frame: ArrayBuffer | Uint8Array): TerminalOutput | string {
  const bytes = frame instanceof Uint8Array ? frame : new Uint8Array(frame);
  if (bytes.byteLength < 3 || bytes[0] !== TERMINAL_OUTPUT_KIND) return "Binary frames must be terminal output.";
  const n = bytes[1]!;
  if (n < 1 || n > MAX_ID || bytes.byteLength < 2 + n) return "Terminal output frame with a bad terminal id.";
  const terminalId = String.fromCharCode(...bytes.subarray(2, 2 + n));
  if (!ID.test(terminalId)) return "Terminal output frame with a bad terminal id.";
  const data = bytes.subarray(2 + n);
  if (data.byteLength > MAX_OUTPUT_BYTES) return `Terminal output frame over ${MAX_OUTPUT_BYTES} bytes.`;
  return { terminalId, data };
}
