import { describe, expect, it } from "vitest";
import { keyring, reseal, seal, sealedVersion, unseal } from "./crypto.ts";

const K1 = btoa("a".repeat(32));
const K2 = btoa("b".repeat(32));

describe("secrets at rest", () => {
  it("seal and unseal under the current key, bound to where the secret lives", async () => {
    const ring = await keyring(K1);
    const sealed = await seal(ring, "sk-ant-secret", "user-key:u1:anthropic");
    expect(sealed).toMatch(/^v1\./);
    expect(sealed).not.toContain("sk-ant");
    expect(await unseal(ring, sealed, "user-key:u1:anthropic")).toBe("sk-ant-secret");
    // Copied to another user's row, it does not open.
    await expect(unseal(ring, sealed, "user-key:u2:anthropic")).rejects.toThrow();
    const [v, iv, ct] = sealed.split(".");
    const flipped = `${v}.${iv}.${ct!.slice(0, -2)}${ct!.endsWith("A") ? "B" : "A"}${ct!.slice(-1)}`;
    await expect(unseal(ring, flipped, "user-key:u1:anthropic")).rejects.toThrow();
  });

  it("rotates: a new key in front seals new secrets, opens old ones, and re-seals them", async () => {
    const old = await keyring(K1);
    const sealed = await seal(old, "token", "aad");
    const ring = await keyring(`2:${K2},1:${K1}`);
    expect(ring.current).toBe(2);
    expect(await unseal(ring, sealed, "aad")).toBe("token");
    const fresh = await reseal(ring, sealed, "aad");
    expect(sealedVersion(fresh!)).toBe(2);
    expect(await reseal(ring, fresh!, "aad")).toBeNull();
    // Once the old key is dropped, only re-sealed secrets open.
    const only2 = await keyring(`2:${K2}`);
    expect(await unseal(only2, fresh!, "aad")).toBe("token");
    await expect(unseal(only2, sealed, "aad")).rejects.toThrow(/key v1/);
  });

  it("refuses a key of the wrong size or an empty one, saying what to set", async () => {
    await expect(keyring(btoa("short"))).rejects.toThrow(/32 bytes/);
    await expect(keyring(" ")).rejects.toThrow(/empty/);
  });
});
