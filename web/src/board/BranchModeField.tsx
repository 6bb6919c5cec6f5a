type Mode = "new" | "existing";

/** The "new branch / existing branch" choice, shared by the create and the retry dialogs. */
export function BranchModeField({
  mode,
  onChange,
  testIdPrefix,
  className = "",
  disabled,
}: {
  mode: Mode;
  onChange: (mode: Mode) => void;
  /** `wt` gives `wt-mode-new` and `wt-mode-existing`. */
  testIdPrefix: string;
  className?: string;
  disabled?: boolean;
}) {
  const option = (value: Mode, label: string) => (
    <label className="radio">
      <input
        type="radio"
        name={`${testIdPrefix}-mode`}
        checked={mode === value}
        onChange={() => onChange(value)}
        data-testid={`${testIdPrefix}-mode-${value}`}
      />
      {label}
    </label>
  );
  return (
    <fieldset className={`field mode ${className}`.trim()} disabled={disabled}>
      <legend>Branch</legend>
      {option("new", "New branch")}
      {option("existing", "Existing branch")}
    </fieldset>
  );
}
