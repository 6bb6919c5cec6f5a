import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv-provider.js";
import type { JsonSchemaType } from "@modelcontextprotocol/sdk/validation/types.js";
import { describe, expect, it } from "vitest";
import { mcpValidator, SharedMcpValidator } from "./mcp-validator.ts";

/** The SDK's own Ajv provider, counting how often it is asked to compile. */
function countingAjv() {
  const ajv = new AjvJsonSchemaValidator();
  const counted = {
    compiles: 0,
    getValidator<T>(schema: JsonSchemaType) {
      counted.compiles++;
      return ajv.getValidator<T>(schema);
    },
  };
  return counted;
}

const listed = (): JsonSchemaType => ({
  type: "object",
  properties: { id: { type: "string" }, count: { type: "integer", minimum: 0 } },
  required: ["id"],
});

describe("the runner's shared MCP validator", () => {
  it("compiles a schema once however many clients list it, and still checks", () => {
    const inner = countingAjv();
    const v = new SharedMcpValidator(inner);
    // Every task's client parses its own copy of the same tool list.
    const checks = [listed(), listed(), listed()].map((s) => v.getValidator(s));
    expect(inner.compiles).toBe(1);
    for (const check of checks) {
      expect(check({ id: "a", count: 2 }).valid).toBe(true);
      const bad = check({ count: -1 });
      expect(bad.valid).toBe(false);
      expect(bad.errorMessage).toMatch(/id|minimum/);
    }
    v.getValidator({ type: "object", properties: { other: { type: "boolean" } } });
    expect(inner.compiles).toBe(2);
  });

  it("keeps a bounded number, letting the least recently used go", () => {
    const inner = countingAjv();
    const v = new SharedMcpValidator(inner);
    const schema = (n: number): JsonSchemaType => ({ type: "object", properties: { [`f${n}`]: { type: "string" } } });
    for (let n = 0; n < 600; n++) v.getValidator(schema(n));
    expect(v.size).toBe(500);
    v.getValidator(schema(599));
    expect(inner.compiles).toBe(600);
    v.getValidator(schema(0));
    expect(inner.compiles).toBe(601);
  });

  it("is one instance for the whole runner", async () => {
    expect(await mcpValidator()).toBe(await mcpValidator());
  });
});
