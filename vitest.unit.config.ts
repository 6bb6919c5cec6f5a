import { defineConfig } from "vitest/config";

// The unit lane: plain Node, no workerd, no network. The room and link cores, presence
// coalescing and the protocol's rules, which must not need the platform to be tested.
export default defineConfig({
  test: {
    environment: "node",
    include: ["party/**/*.unit.test.ts", "protocol/**/*.unit.test.ts", "worker/**/*.unit.test.ts"],
  },
});
