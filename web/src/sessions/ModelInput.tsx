import { useId } from "react";
import type { Provider } from "../../../protocol/index.ts";
import { modelsOf } from "./readiness.ts";

/** A model name: the provider's known models offered, any other name typed freely. */
export function ModelInput({
  provider,
  value,
  onChange,
  testId,
}: {
  provider: Provider;
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
        {modelsOf(provider).map((m) => (
          <option key={m.id} value={m.id}>
            {m.label}
          </option>
        ))}
      </datalist>
    </>
  );
}
