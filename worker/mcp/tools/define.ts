import { z } from "zod";
import { Id, Text } from "../../../protocol/index.ts";
import type { Ctx } from "../../services/context.ts";

/** What the MCP spec calls tool annotations: hints a client shows or uses to ask before running. */
export interface ToolHints {
  readOnlyHint: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
}

/**
 * One MCP tool: a thin adapter over one service function. The input is a zod object whose
 * argument names are camelCase and match REST's (`boardId`, `sessionId`…); the output is the
 * same protocol schema the REST route answers with, so MCP and REST never differ in shape.
 */
export interface Tool<I extends z.ZodObject = z.ZodObject, O extends z.ZodObject = z.ZodObject> {
  name: `trellis_${string}`;
  title: string;
  description: string;
  input: I;
  output: O;
  annotations: ToolHints;
  run(ctx: Ctx, args: z.infer<I>): Promise<z.infer<O>>;
}

export const tool = <I extends z.ZodObject, O extends z.ZodObject>(t: Tool<I, O>): Tool<I, O> => t;

/** Read tools change nothing and may be repeated; every list takes a cursor. */
export const READ: ToolHints = { readOnlyHint: true, idempotentHint: true, openWorldHint: false };
export const WRITE: ToolHints = {
  readOnlyHint: false,
  destructiveHint: false,
  idempotentHint: false,
  openWorldHint: false,
};

// Shared argument shapes, described for the model that reads them.
export const boardId = Id.describe("The board's id (from trellis_boards_list).");
export const sessionId = Id.describe("The session's id (from trellis_sessions_list).");
export const worktreeId = Id.describe("The worktree's id (from trellis_worktrees_list).");
export const cursor = Text.max(64)
  .optional()
  .describe("Where to continue: the nextCursor of the previous page. Leave out for the first page.");
export const limit = (max: number, dflt: number) =>
  z.number().int().min(1).max(max).default(dflt).describe(`Page size, 1 to ${max} (default ${dflt}).`);

/** `{ items, nextCursor }`: every list tool's output. */
export const pageOf = <T extends z.ZodType>(item: T) =>
  z.object({
    items: z.array(item),
    nextCursor: z.string().nullable().describe("Pass as cursor for the next page; null when this is the last page."),
  });

/**
 * A protocol body schema, with a description on each field for the model that reads it. The
 * fields keep their own validation, so MCP refuses exactly what REST refuses.
 */
export function documented<T extends z.ZodObject>(schema: T, docs: { [K in keyof T["shape"]]?: string }): T {
  const shape = schema.shape as Record<string, z.ZodType>;
  const described = Object.fromEntries(Object.entries(docs).map(([k, d]) => [k, shape[k]!.describe(d as string)]));
  return schema.extend(described) as unknown as T;
}

/**
 * A page of a short list the service returns whole (zones, runners): the adapter pages it, so
 * every list tool takes a cursor the same way.
 */
export function pageArray<T extends { id: string }>(all: T[], cursor: string | undefined, limit: number) {
  const start = cursor === undefined ? 0 : all.findIndex((x) => x.id === cursor) + 1;
  const items = all.slice(start, start + limit);
  return { items, nextCursor: start + limit < all.length ? (items.at(-1)?.id ?? null) : null };
}
