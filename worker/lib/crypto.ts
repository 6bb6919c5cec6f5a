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

// AES-GCM for secrets users store (provider keys, env vars): `v1.<iv>.<ciphertext>`.
async function aesKey(base64Key: string) {
  return crypto.subtle.importKey("raw", fromBase64(base64Key), "AES-GCM", false, ["encrypt", "decrypt"]);
}

export async function encryptSecret(base64Key: string, plaintext: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = await crypto.subtle.encrypt({ name: "AES-GCM", iv }, await aesKey(base64Key), enc.encode(plaintext));
  return `v1.${toBase64Url(iv)}.${toBase64Url(new Uint8Array(ct))}`;
}

export async function decryptSecret(base64Key: string, sealed: string): Promise<string> {
  const [v, iv, ct] = sealed.split(".");
  if (v !== "v1" || !iv || !ct) throw new Error("unknown secret format");
  const pt = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: fromBase64(iv) },
    await aesKey(base64Key),
    fromBase64(ct),
  );
  return new TextDecoder().decode(pt);
}
