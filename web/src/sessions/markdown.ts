import { isHttpUrl } from "../../../protocol/index.ts";

/**
 * The little markdown an agent writes (paragraphs, headings, lists, quotes, fenced code, inline
 * code, bold, italics, links), parsed into plain data that React renders as elements. Nothing is
 * ever given to the DOM as HTML, so a model's text cannot inject markup; only http(s) links become
 * links. It parses text that is still being written: a fence not yet closed is code to the end.
 */

export type Inline =
  | { t: "text"; s: string }
  | { t: "code"; s: string }
  | { t: "strong"; c: Inline[] }
  | { t: "em"; c: Inline[] }
  | { t: "link"; href: string; c: Inline[] };

export type Block =
  | { t: "p"; c: Inline[] }
  | { t: "h"; level: number; c: Inline[] }
  | { t: "code"; lang: string; s: string; open: boolean }
  | { t: "list"; ordered: boolean; start: number; items: Inline[][] }
  | { t: "quote"; c: Block[] }
  | { t: "hr" };

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w+#.-]*)/;
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const HR = /^ {0,3}([-*_])(\s*\1){2,}\s*$/;
const ITEM = /^(\s*)([-*+]|(\d{1,9})[.)])\s+(.*)$/;
const QUOTE = /^ {0,3}>\s?(.*)$/;

export function parseMarkdown(text: string): Block[] {
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  const out: Block[] = [];
  let para: string[] = [];
  const flush = () => {
    if (para.length) out.push({ t: "p", c: parseInline(para.join("\n")) });
    para = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const fence = FENCE.exec(line);
    if (fence) {
      flush();
      const mark = fence[1]!;
      const body: string[] = [];
      let open = true;
      for (i++; i < lines.length; i++) {
        const l = lines[i]!;
        if (l.trimStart().startsWith(mark[0]!.repeat(mark.length)) && l.trim().replace(/[`~]/g, "") === "") {
          open = false;
          break;
        }
        body.push(l);
      }
      out.push({ t: "code", lang: fence[2] ?? "", s: body.join("\n"), open });
      continue;
    }
    if (!line.trim()) {
      flush();
      continue;
    }
    const h = HEADING.exec(line);
    if (h) {
      flush();
      out.push({ t: "h", level: h[1]!.length, c: parseInline(h[2]!) });
      continue;
    }
    if (HR.test(line)) {
      flush();
      out.push({ t: "hr" });
      continue;
    }
    if (QUOTE.test(line)) {
      flush();
      const body: string[] = [];
      for (; i < lines.length; i++) {
        const q = QUOTE.exec(lines[i]!);
        if (!q) break;
        body.push(q[1]!);
      }
      i--;
      out.push({ t: "quote", c: parseMarkdown(body.join("\n")) });
      continue;
    }
    const item = ITEM.exec(line);
    if (item) {
      flush();
      const ordered = item[3] !== undefined;
      const items: string[][] = [];
      for (; i < lines.length; i++) {
        const l = lines[i]!;
        const m = ITEM.exec(l);
        if (m && (m[3] !== undefined) === ordered) items.push([m[4]!]);
        else if (l.trim() && /^\s+/.test(l) && items.length) items.at(-1)!.push(l.trim());
        else break;
      }
      i--;
      out.push({
        t: "list",
        ordered,
        start: ordered ? Number(item[3]) : 1,
        items: items.map((parts) => parseInline(parts.join("\n"))),
      });
      continue;
    }
    para.push(line);
  }
  flush();
  return out;
}

// Code spans first (nothing inside them is markup), then bold, italics, links and bare URLs.
const INLINE =
  /(`+)([^`][\s\S]*?)\1(?!`)|\*\*(?=\S)([\s\S]*?\S)\*\*|__(?=\S)([\s\S]*?\S)__|\*(?=[^\s*])([\s\S]*?[^\s*])\*|(?<![\w])_(?=\S)([^_]*?\S)_(?![\w])|\[([^\]\n]+)\]\(([^)\s]+)\)|(https?:\/\/[^\s<>()]*[^\s<>().,;:!?'"*_`])/;

export function parseInline(text: string): Inline[] {
  const out: Inline[] = [];
  let rest = text;
  const pushText = (s: string) => {
    if (!s) return;
    const last = out.at(-1);
    if (last?.t === "text") last.s += s;
    else out.push({ t: "text", s });
  };
  while (rest) {
    const m = INLINE.exec(rest);
    if (!m) {
      pushText(rest);
      break;
    }
    pushText(rest.slice(0, m.index));
    if (m[1]) out.push({ t: "code", s: m[2]!.replace(/^ (.*) $/s, "$1") });
    else if (m[3] !== undefined || m[4] !== undefined) out.push({ t: "strong", c: parseInline(m[3] ?? m[4]!) });
    else if (m[5] !== undefined || m[6] !== undefined) out.push({ t: "em", c: parseInline(m[5] ?? m[6]!) });
    else if (m[7] !== undefined) {
      if (isHttpUrl(m[8]!)) out.push({ t: "link", href: m[8]!, c: parseInline(m[7]) });
      else pushText(m[0]);
    } else out.push({ t: "link", href: m[9]!, c: [{ t: "text", s: m[9]! }] });
    rest = rest.slice(m.index + m[0].length);
  }
  return out;
}
