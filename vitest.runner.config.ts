import { defineConfig } from "vitest/config";

// The runner lane: plain Node, real git in temp folders, and a real Worker (`wrangler dev`) for the
// integration tests. Every test makes its own folders and ports, so files run in parallel.
export default defineConfig({
  test: {
    environment: "node",
    include: ["runner/**/*.test.ts"],
    testTimeout: 30_000,
    // The integration files mostly wait on wrangler, git and leases, not the CPU: run them side by side
    // even on two cores (the default would run one file at a time there).
    maxWorkers: 4,
    hookTimeout: 90_000,
  },
});
