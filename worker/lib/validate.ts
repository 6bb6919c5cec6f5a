import type { ValidationTargets } from "hono";
import { validator } from "hono/validator";
import type { z } from "zod";
import { badRequest } from "./errors.ts";

/** Turn zod issues into one sentence a person can act on: `name: must not be empty; x: …`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message))
    .join("; ");
}

/** Hono validator backed by a protocol schema; the parsed type flows into `hc<AppType>()`. */
export function valid<T extends z.ZodType, Target extends keyof ValidationTargets>(target: Target, schema: T) {
  return validator(target, (value, c): z.infer<T> => {
    // Hono hands a non-JSON body to a json validator as {}: say what is wrong instead of "field missing".
    const type = c.req.header("content-type");
    if (target === "json" && type && !/^application\/([\w.+-]*\+)?json\b/i.test(type)) {
      throw badRequest("Send the body as JSON (Content-Type: application/json).", "bad_content_type");
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success)
      throw badRequest(`Invalid ${target === "json" ? "body" : target}: ${describeIssues(parsed.error)}`);
    return parsed.data;
  });
}
