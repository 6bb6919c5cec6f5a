/**
 * `@name` mentions. Names are people's display names, so they may hold spaces and any script
 * ("@Zoë Ann", "@山田 太郎"): rather than guess where a name ends, the text is matched against the
 * board's members, longest name first, so "@Ann Lee" is Ann Lee and not Ann. A name must end at a
 * word boundary: "@Annabel" does not mention Ann. Case is ignored, as people type it.
 */

export interface Mentionable {
  userId: string;
  name: string;
}

const WORD_CHAR = /[\p{L}\p{N}\p{M}_]/u;

export function mentionedIn(body: string, members: readonly Mentionable[]): string[] {
  const text = body.toLocaleLowerCase();
  const byLength = [...members].filter((m) => m.name.trim() !== "").sort((a, b) => b.name.length - a.name.length);
  const found = new Set<string>();
  let at = text.indexOf("@");
  while (at !== -1) {
    // An "@" inside a word is an email address, not a mention.
    const before = at > 0 ? text[at - 1]! : "";
    if (!before || !WORD_CHAR.test(before)) {
      for (const m of byLength) {
        const name = m.name.toLocaleLowerCase();
        if (!text.startsWith(name, at + 1)) continue;
        const next = text.slice(at + 1 + name.length).match(/^./su)?.[0] ?? "";
        if (next && WORD_CHAR.test(next)) continue;
        found.add(m.userId);
        break;
      }
    }
    at = text.indexOf("@", at + 1);
  }
  return [...found];
}

/** The members whose name starts with what follows the `@` being typed: the autocomplete's list. */
export function mentionCandidates<M extends Mentionable>(query: string, members: readonly M[], limit = 8): M[] {
  const q = query.toLocaleLowerCase();
  return members
    .filter((m) => m.name.toLocaleLowerCase().startsWith(q) || m.name.toLocaleLowerCase().includes(` ${q}`))
    .slice(0, limit);
}
