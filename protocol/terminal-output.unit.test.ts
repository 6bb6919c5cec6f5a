import { describe, expect, it } from "vitest";
import {
  decodeTerminalOutput,
  encodeTerminalOutput,
  MAX_OUTPUT_BYTES,
  outputHeaderBytes,
  TERMINAL_OUTPUT_KIND,
} from "./terminal-output.ts";

const id = "0191c5e2-7f3a-7c4d-9b2e-1a2b3c4d5e6f";
const utf8 = (s: string) => new TextEncoder().encode(s);

describe("terminal output frames", () => {
  it("carry the terminal id and the bytes as they are, in the documented layout", () => {
    const frame = encodeTerminalOutput(id, [utf8("ls\r\n"), utf8("\x1b[31mréd\x1b[0m")]);
    expect(frame[0]).toBe(TERMINAL_OUTPUT_KIND);
    expect(frame[1]).toBe(id.length);
    expect(new TextDecoder().decode(frame.subarray(2, 2 + id.length))).toBe(id);
    expect(frame.byteLength).toBe(outputHeaderBytes(id) + utf8("ls\r\n\x1b[31mréd\x1b[0m").byteLength);

    // Decoded from the ArrayBuffer a socket hands over, and from a view into a bigger buffer.
    for (const input of [frame.buffer, new Uint8Array([9, 9, ...frame]).subarray(2)]) {
      const out = decodeTerminalOutput(input);
      if (typeof out === "string") throw new Error(out);
      expect(out.terminalId).toBe(id);
      expect(new TextDecoder().decode(out.data)).toBe("ls\r\n\x1b[31mréd\x1b[0m");
    }
  });

  it("may cut a character: the bytes go on as they are, for the viewer's terminal to join", () => {
    const smile = utf8("😀");
    const a = decodeTerminalOutput(encodeTerminalOutput("t", [smile.subarray(0, 1)]));
    const b = decodeTerminalOutput(encodeTerminalOutput("t", [smile.subarray(1)]));
    if (typeof a === "string" || typeof b === "string") throw new Error("not decoded");
    const decoder = new TextDecoder();
    expect(decoder.decode(a.data, { stream: true }) + decoder.decode(b.data)).toBe("😀");
  });

  it("hold an empty batch or a full one, and refuse to make a bigger one or one for a bad id", () => {
    const empty = decodeTerminalOutput(encodeTerminalOutput(id, []));
    expect(typeof empty !== "string" && empty.data.byteLength).toBe(0);
    const full = decodeTerminalOutput(encodeTerminalOutput(id, [new Uint8Array(MAX_OUTPUT_BYTES)]));
    expect(typeof full !== "string" && full.data.byteLength).toBe(MAX_OUTPUT_BYTES);
    expect(() => encodeTerminalOutput(id, [new Uint8Array(MAX_OUTPUT_BYTES + 1)])).toThrow(/over/);
    for (const bad of ["", "a b", "x".repeat(65), "é"]) expect(() => encodeTerminalOutput(bad, [])).toThrow(/id/);
  });

  it("say why a binary frame is not output", () => {
    const frame = encodeTerminalOutput(id, [utf8("x")]);
    expect(decodeTerminalOutput(new Uint8Array())).toMatch(/must be terminal output/);
    expect(decodeTerminalOutput(new Uint8Array([2, ...frame.subarray(1)]))).toMatch(/must be terminal output/);
    expect(decodeTerminalOutput(new Uint8Array([1, 0, 65]))).toMatch(/bad terminal id/);
    expect(decodeTerminalOutput(new Uint8Array([1, 40, 65, 66]))).toMatch(/bad terminal id/);
    expect(decodeTerminalOutput(new Uint8Array([1, 2, 65, 0x20, 66]))).toMatch(/bad terminal id/);
    const big = new Uint8Array(2 + 1 + MAX_OUTPUT_BYTES + 1);
    big.set([1, 1, 65]);
    expect(decodeTerminalOutput(big)).toMatch(/over/);
  });
});
