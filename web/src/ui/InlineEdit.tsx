import { useEffect, useRef, useState } from "react";

/** A text input that commits on Enter or blur and cancels on Escape; used for board and zone names. */
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

  const finish = (commit: boolean) => {
    if (settled.current) return;
    settled.current = true;
    const next = draft.trim();
    if (commit && next) onDone(next);
    else onCancel();
  };

  return (
    <input
      ref={ref}
      className={`${className} nodrag`}
      aria-label={label}
      value={draft}
      maxLength={120}
      onChange={(e) => setDraft(e.target.value)}
      onBlur={() => finish(true)}
      onKeyDown={(e) => {
        e.stopPropagation();
        if (e.key === "Enter") finish(true);
        if (e.key === "Escape") finish(false);
      }}
      data-testid="inline-edit"
    />
  );
}
