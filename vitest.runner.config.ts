import { defineConfig } from "vitest/config";

// The runner lane: plain Node, real git in temp folders, and a real Worker (`wrangler dev`) for the
// integration tests. Every test makes its own folders and ports, so files run in parallel.
export default defineConfig({
  test: {
    environment: "node",
    include: ["runner/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 90_000,
  },
});
