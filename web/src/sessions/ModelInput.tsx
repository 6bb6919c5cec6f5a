import { useId } from "react";
import type { Provider, Runtime } from "../../../protocol/index.ts";
import { modelsFor } from "./readiness.ts";

/** A model name: the known models of the provider (as the runtime runs them) offered, any other name typed freely. */
export function ModelInput({
  provider,
  runtime = "builtin",
  value,
  onChange,
  testId,
}: {
  provider: Provider;
  runtime?: Runtime;
  value: string;
  onChange: (model: string) => void;
  testId: string;
}) {
  const listId = useId();
  return (
    <>
      <input
        list={listId}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        spellCheck={false}
        autoComplete="off"
        data-testid={testId}
      />
      <datalist id={listId}>
        {modelsFor(runtime, provider).map((m) => (
          <option key={m.id} value={m.id}>
            {m.label}
          </option>
        ))}
      </datalist>
    </>
  );
}
