import { useEffect, useRef, useState } from "react";
import { Name } from "../../../protocol/index.ts";
import { problem } from "../lib/problems.ts";

/**
 * A text input that commits on Enter or blur and cancels on Escape; used for board and zone names.
 * A name the server would refuse (too long) is said under it and not committed: Enter keeps editing,
 * blur cancels.
 */
export function InlineEdit({
  value,
  onDone,
  onCancel,
  label,
  className = "inline-edit",
}: {
  value: string;
  onDone: (next: string) => void;
  onCancel: () => void;
  label: string;
  className?: string;
}) {
  const [draft, setDraft] = useState(value);
  const ref = useRef<HTMLInputElement>(null);
  const settled = useRef(false);

  useEffect(() => {
    ref.current?.focus();
    ref.current?.select();
  }, []);

  const wrong = draft.trim() ? problem(Name, draft, "The name") : null;

  const finish = (commit: boolean) => {
    if (settled.current) return;
    if (commit && wrong) return;
    settled.current = true;
    const next = draft.trim();
    if (commit && next) onDone(next);
    else onCancel();
  };

  return (
    <span className="inline-edit-wrap">
      <input
        ref={ref}
        className={`${className} nodrag`}
        aria-label={label}
        aria-invalid={!!wrong}
        value={draft}
        onChange={(e) => setDraft(e.target.value)}
        onBlur={() => (wrong ? finish(false) : finish(true))}
        onKeyDown={(e) => {
          e.stopPropagation();
          if (e.key === "Enter") finish(true);
          if (e.key === "Escape") finish(false);
        }}
        data-testid="inline-edit"
      />
      {wrong && (
        <small className="field-error inline-edit-error" role="alert" data-testid="problem-name">
          {wrong}
        </small>
      )}
    </span>
  );
}
