import { type KeyboardEvent, useLayoutEffect, useMemo, useRef, useState } from "react";
import { type Member, mentionCandidates } from "../../../protocol/index.ts";
import { Avatar } from "../ui/Avatar.tsx";
import { insertMention, type MentionQuery, mentionQueryAt } from "./mentionInput.ts";

/**
 * A comment box with `@` autocomplete of the board's members: typing `@an` lists Ann Lee and
 * Andrew; Enter, Tab or a click puts `@Ann Lee ` in. ⌘/Ctrl+Enter sends, Esc cancels.
 */
export function CommentComposer({
  members,
  initial = "",
  placeholder,
  submitLabel,
  busy,
  autoFocus,
  onSubmit,
  onCancel,
  testId = "comment-input",
}: {
  members: readonly Member[];
  initial?: string;
  placeholder: string;
  submitLabel: string;
  busy?: boolean;
  autoFocus?: boolean;
  onSubmit: (body: string) => Promise<unknown> | undefined;
  onCancel?: () => void;
  testId?: string;
}) {
  const [text, setText] = useState(initial);
  const [caret, setCaret] = useState(initial.length);
  const [picked, setPicked] = useState(0);
  const [dismissed, setDismissed] = useState<number | null>(null);
  const ref = useRef<HTMLTextAreaElement>(null);
  const pendingCaret = useRef<number | null>(null);
  const query: MentionQuery | null = useMemo(() => mentionQueryAt(text, caret), [text, caret]);
  const candidates = query && dismissed !== query.start ? mentionCandidates(query.query, members, 6) : [];
  const showList = candidates.length > 0;

  const choose = (m: Member) => {
    if (!query) return;
    const next = insertMention(text, query, caret, m.name);
    setText(next.text);
    setCaret(next.caret);
    setPicked(0);
    pendingCaret.current = next.caret;
  };
  // The caret goes after the inserted name in the same commit as the text, before the browser takes
  // the next key: set a frame later, a key typed meanwhile landed after the name and the rest of the
  // word before it ("@Bea Lee lease?p").
  useLayoutEffect(() => {
    const at = pendingCaret.current;
    const el = ref.current;
    if (at === null || !el) return;
    pendingCaret.current = null;
    el.focus();
    el.setSelectionRange(at, at);
  });

  const submit = async () => {
    const body = text.trim();
    if (!body || busy) return;
    try {
      await onSubmit(body);
      setText("");
      setCaret(0);
    } catch {
      // The caller said why; the text stays for another try.
    }
  };

  const onKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (showList) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        const d = e.key === "ArrowDown" ? 1 : -1;
        setPicked((p) => (p + d + candidates.length) % candidates.length);
        return;
      }
      if (e.key === "Enter" || e.key === "Tab") {
        e.preventDefault();
        choose(candidates[Math.min(picked, candidates.length - 1)]!);
        return;
      }
      if (e.key === "Escape") {
        e.preventDefault();
        e.stopPropagation();
        setDismissed(query!.start);
        return;
      }
    }
    if (e.key === "Enter" && (e.metaKey || e.ctrlKey)) {
      e.preventDefault();
      void submit();
    } else if (e.key === "Escape" && onCancel) {
      e.stopPropagation();
      onCancel();
    }
  };

  return (
    <div className="c-composer">
      <textarea
        ref={ref}
        // biome-ignore lint/a11y/noAutofocus: the box is what the person opened to type in
        autoFocus={autoFocus}
        value={text}
        rows={2}
        placeholder={placeholder}
        onChange={(e) => {
          setText(e.target.value);
          setCaret(e.target.selectionStart);
          setPicked(0);
        }}
        onSelect={(e) => setCaret(e.currentTarget.selectionStart)}
        onKeyDown={onKey}
        data-testid={testId}
      />
      {showList && (
        <ul className="mention-list" data-testid="mention-list">
          {candidates.map((m, i) => (
            <li key={m.userId}>
              <button
                type="button"
                className={i === picked ? "picked" : ""}
                onMouseDown={(e) => e.preventDefault()}
                onClick={() => choose(m)}
                data-testid="mention-option"
                data-name={m.name}
              >
                <Avatar name={m.name} color={m.color} size={20} />
                <span>{m.name}</span>
                <span className="muted small">{m.email}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
      <div className="c-composer-foot">
        <span className="muted small">@ to mention · ⌘↵ to send</span>
        {onCancel && (
          <button type="button" className="btn btn-small btn-ghost" onClick={onCancel}>
            Cancel
          </button>
        )}
        <button
          type="button"
          className="btn btn-small btn-primary"
          disabled={!text.trim() || busy}
          onClick={() => void submit()}
          data-testid={`${testId}-send`}
        >
          {submitLabel}
        </button>
      </div>
    </div>
  );
}
