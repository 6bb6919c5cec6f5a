import { z } from "zod";

/** Time-ordered ids (UUIDv7 strings) are what every table uses as its primary key. */
export const Id = z.string().min(1).max(64);

/** A trimmed display name: zones, boards, tokens, runners. */
export const Name = z
  .string()
  .trim()
  .min(1, "must not be empty")
  .max(120, "must be at most 120 characters")
  // A lone UTF-16 surrogate is not text: D1 would store it as U+FFFD garbage.
  .refine((s) => !/[\uD800-\uDFFF]/u.test(s), "must be valid Unicode text");

export const Color = z.string().regex(/^#[0-9a-fA-F]{6}$/, "must be a hex color like #7c3aed");

export const Role = z.enum(["owner", "member", "viewer"]);
export type Role = z.infer<typeof Role>;

/** Every error body the API returns: a code a program can branch on, a message a person can act on. */
export const ErrorBody = z.object({
  error: z.object({ code: z.string(), message: z.string() }),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(64).optional(),
});
export type PageQuery = z.infer<typeof PageQuery>;

export function page<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable() });
}
export type Page<T> = { items: T[]; nextCursor: string | null };
