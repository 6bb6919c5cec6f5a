import { z } from "zod";
import { Email } from "./auth.ts";
import { Color, HttpUrl, Name, Role, Text } from "./common.ts";
import { Provider } from "./models.ts";
import { PermissionMode, Runtime } from "./sessions.ts";
import { templateProblem } from "./templates.ts";

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

/**
 * What dropping a worktree into a zone does with the zone's rendered prompt: start a new session
 * with these settings, send it to the worktree's latest session, or show it to the person who
 * dropped it to edit and send. One drop fires once, decided on the edge.
 */
export const ZONE_TRIGGER_BEHAVIOURS = ["new_session", "latest_session", "ask"] as const;
export const ZoneTriggerBehaviour = z.enum(ZONE_TRIGGER_BEHAVIOURS);
export const ZoneTrigger = z.object({
  behaviour: ZoneTriggerBehaviour,
  provider: Provider,
  model: Text.trim().min(1, "must not be empty").max(200),
  permissionMode: PermissionMode.default("ask"),
  baseUrl: HttpUrl.optional(),
  /** What runs the sessions it starts (a trigger saved before runtimes has none: Trellis's loop). */
  runtime: Runtime.default("builtin"),
});
export type ZoneTrigger = z.infer<typeof ZoneTrigger>;

/** A trigger as stored: one saved before runtimes has none, and runs on Trellis's loop. */
export const storedTrigger = (
  t: Omit<ZoneTrigger, "runtime"> & Partial<Pick<ZoneTrigger, "runtime">>,
): ZoneTrigger => ({
  ...t,
  runtime: t.runtime ?? "builtin",
});

/** A template is checked when it is saved, so a drop never fires a prompt nobody could have meant. */
const PromptTemplate = Text.max(20_000).superRefine((t, ctx) => {
  const problem = templateProblem(t);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

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
  /** Null: dropping a worktree here only moves it. */
  trigger: ZoneTrigger.nullable(),
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
  promptTemplate: PromptTemplate.default(""),
  /** Needs a non-empty template (checked by the zone service, for REST and MCP alike). */
  trigger: ZoneTrigger.nullable().default(null),
});
export const PatchZoneBody = z
  .object({
    name: Name,
    color: Color,
    x: Coord,
    y: Coord,
    width: Size,
    height: Size,
    promptTemplate: PromptTemplate,
    trigger: ZoneTrigger.nullable(),
  })
  .partial()
  .refine((b) => Object.keys(b).length > 0, "nothing to change");

export const Ticket = z.object({ ticket: z.string(), expiresIn: z.number() });
