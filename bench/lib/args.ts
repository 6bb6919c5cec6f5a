import { parseArgs } from "node:util";

/** `--name value` integer options with defaults, refusing anything else with a usage message. */
export function intOptions<K extends string>(defaults: Record<K, number>, usage: string): Record<K, number> {
  const options = Object.fromEntries(Object.keys(defaults).map((k) => [k, { type: "string" as const }]));
  let values: Record<string, string | undefined>;
  try {
    values = parseArgs({ options, strict: true, allowPositionals: false }).values as Record<string, string | undefined>;
  } catch (e) {
    console.error(`${(e as Error).message}\nusage: ${usage}`);
    process.exit(2);
  }
  const out = { ...defaults };
  for (const k of Object.keys(defaults) as K[]) {
    const raw = values[k];
    if (raw === undefined) continue;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) {
      console.error(`--${k} must be a whole number ≥ 0, got "${raw}"\nusage: ${usage}`);
      process.exit(2);
    }
    out[k] = n;
  }
  return out;
}
