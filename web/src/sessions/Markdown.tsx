import { type ReactNode, useMemo } from "react";
import type { ParsedDiff } from "./diff.ts";
import { type Block, type Inline, parseMarkdown } from "./markdown.ts";

/** An agent's markdown as React elements: text is only ever text (see markdown.ts). */
export function Markdown({ text, streaming = false }: { text: string; streaming?: boolean }) {
  const blocks = useMemo(() => parseMarkdown(text), [text]);
  return (
    <div className={`md${streaming ? " md-streaming" : ""}`}>
      {blocks.map((b, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: blocks have no identity beyond their place
        <BlockView key={i} b={b} />
      ))}
    </div>
  );
}

function BlockView({ b }: { b: Block }): ReactNode {
  switch (b.t) {
    case "p":
      return <p>{inlines(b.c)}</p>;
    case "h": {
      const H = `h${Math.min(6, b.level + 2)}` as "h3";
      return <H>{inlines(b.c)}</H>;
    }
    case "code":
      return (
        <pre className="md-code" data-lang={b.lang || undefined}>
          {b.lang && <span className="md-lang">{b.lang}</span>}
          <code>{b.s}</code>
        </pre>
      );
    case "list": {
      const items = b.items.map((it, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: list items have no identity beyond their place
        <li key={i}>{inlines(it)}</li>
      ));
      return b.ordered ? <ol start={b.start}>{items}</ol> : <ul>{items}</ul>;
    }
    case "quote":
      return (
        <blockquote>
          {b.c.map((c, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: blocks have no identity beyond their place
            <BlockView key={i} b={c} />
          ))}
        </blockquote>
      );
    case "hr":
      return <hr />;
  }
}

function inlines(list: Inline[]): ReactNode[] {
  return list.map((n, i): ReactNode => {
    switch (n.t) {
      case "text":
        return n.s;
      case "code":
        // biome-ignore lint/suspicious/noArrayIndexKey: inline runs have no identity beyond their place
        return <code key={i}>{n.s}</code>;
      case "strong":
        // biome-ignore lint/suspicious/noArrayIndexKey: as above
        return <strong key={i}>{inlines(n.c)}</strong>;
      case "em":
        // biome-ignore lint/suspicious/noArrayIndexKey: as above
        return <em key={i}>{inlines(n.c)}</em>;
      case "link":
        return (
          // biome-ignore lint/suspicious/noArrayIndexKey: as above
          <a key={i} href={n.href} target="_blank" rel="noreferrer noopener">
            {inlines(n.c)}
          </a>
        );
      default:
        return null;
    }
  });
}

/** A unified diff, numbered and coloured. */
export function DiffView({ diff }: { diff: ParsedDiff }) {
  return (
    <div className="diff" data-testid="diff">
      {diff.lines.map((l, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: diff lines have no identity beyond their place
        <div key={i} className={`diff-line diff-${l.kind}`}>
          <span className="diff-no">{l.old ?? ""}</span>
          <span className="diff-no">{l.new ?? ""}</span>
          <span className="diff-sign">{l.kind === "add" ? "+" : l.kind === "del" ? "−" : " "}</span>
          <span className="diff-text">{l.text}</span>
        </div>
      ))}
    </div>
  );
}
