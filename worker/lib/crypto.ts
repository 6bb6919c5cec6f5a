import { scrypt as scryptCb, timingSafeEqual } from "node:crypto";

const enc = new TextEncoder();

export function toBase64Url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromBase64(s: string): Uint8Array<ArrayBuffer> {
  const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/** An opaque bearer secret with a readable prefix saying what it is (`trl_pat_…`, `trl_run_…`). */
export function randomToken(prefix: string, bytes = 32): string {
  return `${prefix}${toBase64Url(crypto.getRandomValues(new Uint8Array(bytes)))}`;
}

/** Tokens are stored only as SHA-256: a leaked table grants nothing. */
export async function sha256(s: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", enc.encode(s));
  return toBase64Url(new Uint8Array(digest));
}

// scrypt, per DESIGN: N=2^14, r=8, p=5, 16-byte salt, 32-byte key; parameters kept with the hash.
const SCRYPT = { N: 2 ** 14, r: 8, p: 5, keylen: 32 };

function scrypt(password: string, salt: Uint8Array, N: number, r: number, p: number, keylen: number) {
  return new Promise<Uint8Array>((resolve, reject) =>
    scryptCb(password.normalize("NFKC"), salt, keylen, { N, r, p, maxmem: 256 * N * r }, (err, key) =>
      err ? reject(err) : resolve(new Uint8Array(key)),
    ),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const { N, r, p, keylen } = SCRYPT;
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const key = await scrypt(password, salt, N, r, p, keylen);
  return `scrypt$${N}$${r}$${p}$${toBase64Url(salt)}$${toBase64Url(key)}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [alg, n, r, p, salt, hash] = stored.split("$");
  if (alg !== "scrypt" || !n || !r || !p || !salt || !hash) return false;
  const expected = fromBase64(hash);
  const key = await scrypt(password, fromBase64(salt), Number(n), Number(r), Number(p), expected.length);
  return timingSafeEqual(key, expected);
}

/** A hash to compare against when the email is unknown, so timing does not reveal which emails exist. */
let dummyHash: Promise<string> | undefined;
export function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword("not-a-real-password");
  return dummyHash;
}

// ---- secrets at rest ----
//
// Provider keys, env vars and MCP server secrets are sealed with AES-GCM under the Worker's
// ENCRYPTION_KEY: `v<version>.<iv>.<ciphertext>`. The key is a comma-separated list, newest first,
// each `<version>:<base64>` (a bare base64 key is version 1), so a key can be rotated: add the new
// one in front, run the rotation, then drop the old one. Each secret is bound to where it lives
// (`aad`, e.g. `user-key:<userId>:anthropic`), so a ciphertext copied to another row or another
// user does not open there.

export interface Keyring {
  current: number;
  keys: Map<number, CryptoKey>;
}

const rings = new Map<string, Promise<Keyring>>();

/** The keyring of an ENCRYPTION_KEY value (imported once per isolate). */
export function keyring(raw: string): Promise<Keyring> {
  let ring = rings.get(raw);
  if (!ring) {
    ring = importRing(raw);
    rings.set(raw, ring);
  }
  return ring;
}

async function importRing(raw: string): Promise<Keyring> {
  const keys = new Map<number, CryptoKey>();
  let current = 0;
  for (const part of raw
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = part.match(/^(\d+):(.+)$/);
    const version = m ? Number(m[1]) : 1;
    const bytes = fromBase64(m ? m[2]! : part);
    if (bytes.length !== 32) throw new Error(`ENCRYPTION_KEY version ${version} must be 32 bytes of base64`);
    if (keys.has(version)) throw new Error(`ENCRYPTION_KEY lists version ${version} twice`);
    keys.set(version, await crypto.subtle.importKey("raw", bytes, "AES-GCM", false, ["encrypt", "decrypt"]));
    if (current === 0) current = version;
  }
  if (current === 0) throw new Error("ENCRYPTION_KEY is empty: set it to 32 random bytes of base64");
  return { current, keys };
}

export async function seal(ring: Keyring, plaintext: string, aad: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: enc.encode(aad) },
    ring.keys.get(ring.current)!,
    enc.encode(plaintext),
  );
  return `v${ring.current}.${toBase64Url(iv)}.${toBase64Url(new Uint8Array(ct))}`;
}

/** Throws when the key version is gone, the ciphertext was altered, or it belongs elsewhere (`aad`). */
export async function unseal(ring: Keyring, sealed: string, aad: string): Promise<string> {
  const [v, iv, ct] = sealed.split(".");
  const key = v?.startsWith("v") ? ring.keys.get(Number(v.slice(1))) : undefined;
  if (!key || !iv || !ct)
    throw new Error(`a secret sealed with key ${v ?? "?"} cannot be opened with this ENCRYPTION_KEY`);
  const pt = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: fromBase64(iv), additionalData: enc.encode(aad) },
    key,
    fromBase64(ct),
  );
  return new TextDecoder().decode(pt);
}

/** The key version a secret was sealed with: rotation re-seals what is not the current one. */
export const sealedVersion = (sealed: string): number => Number(sealed.split(".")[0]?.slice(1) ?? 0);

/** Re-seal under the current key, or null when it already is. */
export async function reseal(ring: Keyring, sealed: string, aad: string): Promise<string | null> {
  if (sealedVersion(sealed) === ring.current) return null;
  return seal(ring, await unseal(ring, sealed, aad), aad);
}
