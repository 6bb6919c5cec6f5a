import type { z } from "zod";

/**
 * What the server would refuse, said by the form first: the value is checked against the very zod
 * schema in protocol/ that the server validates with, so the two never disagree. The schemas word
 * their messages as the end of a sentence ("must be at most 120 characters"), so a field label in
 * front makes one. Null when the value is fine.
 */
export function problem(schema: z.ZodType, value: unknown, label: string): string | null {
  const r = schema.safeParse(value);
  if (r.success) return null;
  const message = r.error.issues[0]?.message ?? "is not valid";
  // zod's own defaults ("Invalid URL") are whole phrases, not sentence ends.
  return /^[a-z]/.test(message) ? `${label} ${message}.` : `${label}: ${message}.`;
}
