import { describe, expect, it } from "vitest";
import { mentionCandidates, mentionedIn } from "./mentions.ts";

const members = [
  { userId: "ann", name: "Ann" },
  { userId: "annlee", name: "Ann Lee" },
  { userId: "zoe", name: "Zoë Ann" },
  { userId: "taro", name: "山田 太郎" },
  { userId: "bob", name: "Bob" },
];

describe("mentions", () => {
  it("finds names with spaces and non-ASCII letters, longest first", () => {
    expect(mentionedIn("@Ann Lee can you look?", members)).toEqual(["annlee"]);
    expect(mentionedIn("ping @Ann and @zoë ann", members).sort()).toEqual(["ann", "zoe"]);
    expect(mentionedIn("@山田 太郎 さん、確認お願いします", members)).toEqual(["taro"]);
  });

  it("needs a word boundary on both sides", () => {
    expect(mentionedIn("@Annabel and @Bobby", members)).toEqual([]);
    expect(mentionedIn("mail ann@Bob.com", members)).toEqual([]);
    expect(mentionedIn("(@Bob), @Bob.", members)).toEqual(["bob"]);
  });

  it("counts a person once however often named, and ignores non-members", () => {
    expect(mentionedIn("@Bob @Bob @Carol", members)).toEqual(["bob"]);
  });

  it("offers members by the start of any word of their name", () => {
    expect(mentionCandidates("an", members).map((m) => m.userId)).toEqual(["ann", "annlee", "zoe"]);
    expect(mentionCandidates("太", members).map((m) => m.userId)).toEqual(["taro"]);
  });
});
