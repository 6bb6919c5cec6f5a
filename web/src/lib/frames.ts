import type { z } from "zod";

/**
 * A text frame from one of our sockets, checked against its protocol: the message; `"outdated"`
 * when it is of another protocol version (the edge was updated under this tab, and guessing at its
 * meaning would show wrong state); null for a pong, a frame that is not JSON, or one of our version
 * that does not fit (said on the console).
 */
export function readFrame<S extends z.ZodType>(
  e: MessageEvent,
  schema: S,
  version: number,
  socket: string,
): z.infer<S> | "outdated" | null {
  if (typeof e.data !== "string" || e.data === "pong") return null;
  let data: unknown;
  try {
    data = JSON.parse(e.data);
  } catch {
    return null;
  }
  const parsed = schema.safeParse(data);
  if (parsed.success) return parsed.data;
  if ((data as { v?: unknown } | null)?.v !== version) return "outdated";
  console.warn(`${socket}: a frame did not match the protocol`, parsed.error.issues.slice(0, 3));
  return null;
}
