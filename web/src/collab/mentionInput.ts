/**
 * The `@` being typed in a comment box: where it starts and what follows it, so the autocomplete
 * can list members and replace it with `@Full Name `. Names hold spaces ("@Ann Lee"), so the
 * query may too, but not a line break, and at most a few words: past that it is prose.
 */
const MAX_QUERY = 40;

export interface MentionQuery {
  /** Index of the `@`. */
  start: number;
  query: string;
}

export function mentionQueryAt(text: string, caret: number): MentionQuery | null {
  const before = text.slice(0, caret);
  const at = before.lastIndexOf("@");
  if (at === -1) return null;
  // An "@" inside a word is an email address.
  if (at > 0 && /[\p{L}\p{N}\p{M}_]/u.test(before[at - 1]!)) return null;
  const query = before.slice(at + 1);
  if (query.length > MAX_QUERY || /[\n@]/.test(query) || query.split(" ").length > 3) return null;
  if (query.startsWith(" ")) return null;
  return { start: at, query };
}

/** Put `@Name ` in place of the `@query` before the caret; the caret lands after the space. */
export function insertMention(text: string, q: MentionQuery, caret: number, name: string) {
  const after = text.slice(caret).replace(/^ /, "");
  const inserted = `@${name} `;
  return { text: text.slice(0, q.start) + inserted + after, caret: q.start + inserted.length };
}

/** The body split into plain text and mentions of the named people, for highlighting. */
export function mentionParts(body: string, names: readonly string[]): { text: string; mention: boolean }[] {
  const sorted = [...new Set(names)].filter(Boolean).sort((a, b) => b.length - a.length);
  const parts: { text: string; mention: boolean }[] = [];
  let plain = "";
  let i = 0;
  const lower = body.toLocaleLowerCase();
  while (i < body.length) {
    if (body[i] === "@" && (i === 0 || !/[\p{L}\p{N}\p{M}_]/u.test(body[i - 1]!))) {
      const hit = sorted.find((n) => lower.startsWith(n.toLocaleLowerCase(), i + 1));
      if (hit) {
        if (plain) parts.push({ text: plain, mention: false });
        plain = "";
        parts.push({ text: body.slice(i, i + 1 + hit.length), mention: true });
        i += 1 + hit.length;
        continue;
      }
    }
    plain += body[i];
    i++;
  }
  if (plain) parts.push({ text: plain, mention: false });
  return parts;
}
