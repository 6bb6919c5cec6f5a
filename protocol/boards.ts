import { z } from "zod";
import { Email } from "./auth.ts";
import { Color, Name, Role, Text } from "./common.ts";

export const Board = z.object({
  id: z.string(),
  name: z.string(),
  ownerId: z.string(),
  /** The caller's role on this board. */
  role: Role,
  createdAt: z.number(),
  updatedAt: z.number(),
});
export type Board = z.infer<typeof Board>;

export const CreateBoardBody = z.object({ name: Name });
export const PatchBoardBody = z.object({ name: Name });

export const Member = z.object({
  userId: z.string(),
  email: z.string(),
  name: z.string(),
  color: z.string(),
  role: Role,
  createdAt: z.number(),
});
export type Member = z.infer<typeof Member>;

export const AddMemberBody = z.object({ email: Email, role: Role.exclude(["owner"]).default("member") });
export const PatchMemberBody = z.object({ role: Role });

/** Canvas geometry: finite, bounded, so a bad client cannot push a zone to Infinity. */
const Coord = z.number().finite().min(-1_000_000).max(1_000_000);
const Size = z.number().finite().min(40).max(100_000);

export const Zone = z.object({
  id: z.string(),
  boardId: z.string(),
  name: z.string(),
  color: z.string(),
  x: z.number(),
  y: z.number(),
  width: z.number(),
  height: z.number(),
  /** Prompt fired when a worktree is dropped in; `{{worktree.name}}`-style placeholders. */
  promptTemplate: z.string(),
  createdAt: z.number(),
  updatedAt: z.number(),
});
export type Zone = z.infer<typeof Zone>;

export const CreateZoneBody = z.object({
  name: Name,
  color: Color.default("#7c3aed"),
  x: Coord.default(0),
  y: Coord.default(0),
  width: Size.default(480),
  height: Size.default(320),
  promptTemplate: Text.max(20_000).default(""),
});
export const PatchZoneBody = z
  .object({
    name: Name,
    color: Color,
    x: Coord,
    y: Coord,
    width: Size,
    height: Size,
    promptTemplate: Text.max(20_000),
  })
  .partial()
  .refine((b) => Object.keys(b).length > 0, "nothing to change");

export const Ticket = z.object({ ticket: z.string(), expiresIn: z.number() });
