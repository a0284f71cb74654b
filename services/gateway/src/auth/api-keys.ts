import { createHash, randomBytes } from 'node:crypto';

export const API_KEY_PREFIX = 'cw_live_';

/** A new key: the secret shown once, its hash to store, and a prefix to recognise it by. */
export function generateApiKey(): { key: string; hash: string; prefix: string } {
  const key = API_KEY_PREFIX + randomBytes(24).toString('base64url');
  return { key, hash: hashApiKey(key), prefix: key.slice(0, API_KEY_PREFIX.length + 6) };
}

export const hashApiKey = (key: string): string => createHash('sha256').update(key).digest('hex');

export const looksLikeApiKey = (key: string): boolean =>
  key.startsWith(API_KEY_PREFIX) && key.length <= 100 && /^[A-Za-z0-9_-]+$/.test(key);
