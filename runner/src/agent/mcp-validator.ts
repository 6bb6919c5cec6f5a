import type {
  JsonSchemaType,
  JsonSchemaValidator,
  jsonSchemaValidator,
} from "@modelcontextprotocol/sdk/validation/types.js";

/**
 * One JSON Schema validator for every MCP client the runner opens, compiling each distinct tool
 * output schema once. The SDK's default gives every client its own Ajv (with formats) and compiles
 * every listed tool's schema on `listTools`: with Trellis's own `/mcp` on every task, 20 tasks
 * starting at once spent seconds of the runner's CPU and ~130 MB on it, and stalled every stream
 * that was already flowing (bench:stream's first seconds, p99 200–380 ms against ~40 ms without).
 */

/** Distinct schemas kept compiled; past it the oldest goes (tools rarely change, servers do). */
const KEEP = 500;

export class SharedMcpValidator implements jsonSchemaValidator {
  private readonly inner: jsonSchemaValidator;
  private readonly compiled = new Map<string, JsonSchemaValidator<unknown>>();

  constructor(inner: jsonSchemaValidator) {
    this.inner = inner;
  }

  getValidator<T>(schema: JsonSchemaType): JsonSchemaValidator<T> {
    const key = JSON.stringify(schema);
    let check = this.compiled.get(key);
    if (check) {
      // Most recently used last, so the oldest-used goes first.
      this.compiled.delete(key);
    } else {
      // Without its `$id`: the SDK's Ajv provider looks an `$id` up first, so one server's schema
      // would check another server's results that happen to name the same one.
      const { $id: _, ...anonymous } = schema;
      check = this.inner.getValidator<unknown>(anonymous);
      if (this.compiled.size >= KEEP) this.compiled.delete(this.compiled.keys().next().value as string);
    }
    this.compiled.set(key, check);
    // The check does not depend on T: the SDK names the type it expects of valid data.
    return check as JsonSchemaValidator<T>;
  }

  get size(): number {
    return this.compiled.size;
  }
}

let shared: Promise<SharedMcpValidator> | undefined;

/** The runner's one validator, built on the SDK's own Ajv provider when the first client needs it. */
export function mcpValidator(): Promise<SharedMcpValidator> {
  shared ??= import("@modelcontextprotocol/sdk/validation/ajv-provider.js").then(
    ({ AjvJsonSchemaValidator }) => new SharedMcpValidator(new AjvJsonSchemaValidator()),
  );
  return shared;
}
