import { defineConfig } from "vitest/config";

// The unit lane: plain Node, no workerd, no network. The room and link cores, presence
// coalescing, the protocol's rules and the board's stores, which must not need the platform (or a
// browser) to be tested.
export default defineConfig({
  test: {
    environment: "node",
    include: [
      "party/**/*.unit.test.ts",
      "protocol/**/*.unit.test.ts",
      "worker/**/*.unit.test.ts",
      "web/**/*.unit.test.ts",
    ],
  },
});
