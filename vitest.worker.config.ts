import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// Worker and Durable Object tests run inside workerd: real D1 with the real migrations, real DOs.
export default defineConfig(async () => ({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
          TEST_MIGRATIONS: await readD1Migrations("./migrations"),
          JWT_SECRET: "dGVzdC1zZWNyZXQtdGVzdC1zZWNyZXQtdGVzdC1zZWNyZXQtMTIzNDU2Nzg=",
          ENCRYPTION_KEY: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
          SINGLE_USER: "0",
        },
      },
    }),
  ],
  test: {
    include: ["worker/**/*.test.ts", "party/**/*.test.ts", "protocol/**/*.test.ts"],
    // *.unit.test.ts run in plain Node (vitest.unit.config.ts): they must not need workerd.
    exclude: ["**/*.unit.test.ts", "**/node_modules/**"],
    setupFiles: ["./test/apply-migrations.ts"],
  },
}));
