export * from "./auth.ts";
export * from "./boards.ts";
export * from "./common.ts";
export * from "./errors.ts";
export * from "./link.ts";
export * from "./room.ts";
export * from "./runner.ts";
