import { z } from "zod";

/**
 * Every string that comes in over the wire starts here. A lone UTF-16 surrogate (`"a\ud800b"` in
 * JSON) is not text: D1 would store it as U+FFFD, so what is saved would not be what was sent.
 * Refusing it in this one place means no field can forget to, and the 400 names the field.
 */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
export const Text = z
  .string()
  .refine((s) => !LONE_SURROGATE.test(s), "must be valid Unicode text (it has a lone surrogate)");

/** Time-ordered ids (UUIDv7 strings) are what every table uses as its primary key. */
export const Id = Text.min(1).max(64);

/** A trimmed display name: zones, boards, tokens, runners. */
export const Name = Text.trim().min(1, "must not be empty").max(120, "must be at most 120 characters");

/**
 * A link Trellis stores and renders (a worktree's issue): `http:` or `https:` only, so no
 * `javascript:`, `data:` or `vbscript:` URL can ever reach an `href`.
 */
export const HttpUrl = Text.trim().max(2000).refine(isHttpUrl, "must be an http:// or https:// link");

/** True for an absolute http(s) URL. The board uses it too, for rows stored before the rule existed. */
export function isHttpUrl(value: string): boolean {
  try {
    const { protocol, host } = new URL(value);
    return (protocol === "http:" || protocol === "https:") && host.length > 0;
  } catch {
    return false;
  }
}

export const Color = z.string().regex(/^#[0-9a-fA-F]{6}$/, "must be a hex color like #7c3aed");

export const Role = z.enum(["owner", "member", "viewer"]);
export type Role = z.infer<typeof Role>;

export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: Text.max(64).optional(),
});
export type PageQuery = z.infer<typeof PageQuery>;

export function page<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable() });
}
export type Page<T> = { items: T[]; nextCursor: string | null };
