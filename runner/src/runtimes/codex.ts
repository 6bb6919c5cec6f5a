import { AgentError } from "../agent/errors.ts";
import type { RuntimeTask } from "./common.ts";

/** Codex through `@openai/codex-sdk`: not written yet. */
export async function runCodex(_input: RuntimeTask): Promise<{ finalText: string }> {
  throw new AgentError("provider", "the Codex runtime is not available on this runner yet");
}
