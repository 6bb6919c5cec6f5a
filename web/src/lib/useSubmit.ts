import { useCallback, useState } from "react";
import { messageOf } from "./api.ts";

/**
 * A form's submit: `busy` while the action runs, and the edge's message in `error` if it fails,
 * until the next try.
 */
export function useSubmit() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = useCallback(async (action: () => Promise<unknown>): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, setError, run };
}
