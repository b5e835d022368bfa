/**
 * Secrets at rest: AES-256-GCM with a fresh 96-bit IV per value. The stored form names the
 * key that sealed it, `v1:<key id>:<base64(iv | ciphertext | tag)>`, so the master key can be
 * rotated: old keys stay in the keyring for decryption and values are re-sealed with the
 * current one.
 */
import { decodeBase64, encodeBase64 } from "./base64.ts";

export class SecretDecryptionError extends Error {
  override name = "SecretDecryptionError";
}

export class MasterKeyError extends Error {
  override name = "MasterKeyError";
}

interface KeyEntry {
  id: string;
  key: CryptoKey;
}

export class Keyring {
  private constructor(
    private readonly current: KeyEntry,
    private readonly all: Map<string, KeyEntry>,
  ) {}

  /** `current` and `previous` are raw 32-byte keys. */
  static async create(current: Uint8Array, previous: Uint8Array[] = []): Promise<Keyring> {
    const entries = await Promise.all([current, ...previous].map(importKey));
    return new Keyring(entries[0], new Map(entries.map((e) => [e.id, e])));
  }

  get currentKeyId(): string {
    return this.current.id;
  }

  async encrypt(plaintext: string): Promise<string> {
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const sealed = new Uint8Array(
      await crypto.subtle.encrypt(
        { name: "AES-GCM", iv, additionalData: AAD },
        this.current.key,
        new TextEncoder().encode(plaintext),
      ),
    );
    const packed = new Uint8Array(iv.length + sealed.length);
    packed.set(iv);
    packed.set(sealed, iv.length);
    return `v1:${this.current.id}:${encodeBase64(packed)}`;
  }

  async decrypt(stored: string): Promise<string> {
    const [version, keyId, body] = stored.split(":");
    if (version !== "v1" || !keyId || !body) {
      throw new SecretDecryptionError("stored secret has an unknown format");
    }
    const entry = this.all.get(keyId);
    if (!entry) {
      throw new SecretDecryptionError(
        `stored secret was sealed with key ${keyId}, which is not in the keyring`,
      );
    }
    const packed = decodeBase64(body);
    try {
      const plain = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: packed.subarray(0, 12), additionalData: AAD },
        entry.key,
        packed.subarray(12),
      );
      return new TextDecoder().decode(plain);
    } catch {
      throw new SecretDecryptionError(`stored secret failed authentication under key ${keyId}`);
    }
  }

  /** True when `stored` was sealed with a key other than the current one. */
  isStale(stored: string): boolean {
    return stored.split(":")[1] !== this.current.id;
  }
}

const AAD = new TextEncoder().encode("nmslite-secret-v1");

async function importKey(raw: Uint8Array): Promise<KeyEntry> {
  if (raw.length !== 32) throw new MasterKeyError("a master key must be 32 bytes");
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", raw as BufferSource));
  const id = Array.from(digest.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join("");
  const key = await crypto.subtle.importKey("raw", raw as BufferSource, "AES-GCM", false, [
    "encrypt",
    "decrypt",
  ]);
  return { id, key };
}

/** Parses a master key given as 64 hex characters or base64 of 32 bytes. */
export function parseMasterKey(text: string): Uint8Array {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) {
    return Uint8Array.from(t.match(/../g)!, (h) => parseInt(h, 16));
  }
  let bytes: Uint8Array;
  try {
    bytes = decodeBase64(t);
  } catch {
    throw new MasterKeyError("a master key must be 64 hex characters or base64 of 32 bytes");
  }
  if (bytes.length !== 32) {
    throw new MasterKeyError("a master key must be 64 hex characters or base64 of 32 bytes");
  }
  return bytes;
}
