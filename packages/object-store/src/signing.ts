import { createHmac, timingSafeEqual } from 'node:crypto';
import { assertKey, ObjectStoreError } from './types.js';

/**
 * The development signing secret, used when `SIGNING_SECRET` is unset outside production.
 * Anyone can read it here, so links signed with it protect nothing.
 */
export const DEVELOPMENT_SIGNING_SECRET = 'chartwright-development-signing-secret-not-for-production';

export const DEFAULT_PUBLIC_URL = 'http://127.0.0.1:3000';
export const DEFAULT_SIGNED_URL_TTL_SECONDS = 7 * 24 * 60 * 60;
const MAX_TTL_SECONDS = 365 * 24 * 60 * 60;
const MIN_SECRET_BYTES = 32;

export interface SigningConfig {
  secret: string;
  /** The gateway's public base URL, without a trailing slash. */
  publicUrl: string;
  ttlSeconds: number;
  /** True when the development secret is in use. */
  secretIsDefault: boolean;
}

const configError = (variable: string, problem: string) =>
  new ObjectStoreError('INVALID_CONFIG', `${variable}: ${problem}`);

/**
 * `SIGNING_SECRET` (at least 32 bytes; required when NODE_ENV=production), `PUBLIC_URL` (default
 * http://127.0.0.1:3000) and `SIGNED_URL_TTL_SECONDS` (default 7 days).
 */
export function signingConfigFromEnv(env: Record<string, string | undefined>): SigningConfig {
  const production = env.NODE_ENV === 'production';
  let secret = env.SIGNING_SECRET || undefined;
  if (secret !== undefined && Buffer.byteLength(secret) < MIN_SECRET_BYTES)
    throw configError('SIGNING_SECRET', `must be at least ${MIN_SECRET_BYTES} bytes`);
  if (!secret) {
    if (production) throw configError('SIGNING_SECRET', `required in production (at least 32 bytes)`);
    secret = DEVELOPMENT_SIGNING_SECRET;
  }

  const rawUrl = env.PUBLIC_URL || DEFAULT_PUBLIC_URL;
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw configError('PUBLIC_URL', 'must be a URL, e.g. https://api.example.com');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw configError('PUBLIC_URL', 'must be an http or https URL');
  if (url.search || url.hash) throw configError('PUBLIC_URL', 'must not have a query or fragment');

  let ttlSeconds = DEFAULT_SIGNED_URL_TTL_SECONDS;
  if (env.SIGNED_URL_TTL_SECONDS) {
    ttlSeconds = Number(env.SIGNED_URL_TTL_SECONDS);
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_TTL_SECONDS)
      throw configError('SIGNED_URL_TTL_SECONDS', `must be a whole number from 1 to ${MAX_TTL_SECONDS}`);
  }

  return {
    secret,
    publicUrl: url.href.replace(/\/+$/, ''),
    ttlSeconds,
    secretIsDefault: secret === DEVELOPMENT_SIGNING_SECRET,
  };
}

// The newline keeps (key, expires) pairs unambiguous; keys cannot contain one.
const mac = (secret: string, key: string, expires: number) =>
  createHmac('sha256', secret).update(`${key}\n${expires}`).digest();

const encodeKey = (key: string) => key.split('/').map(encodeURIComponent).join('/');

/**
 * `${publicUrl}/v1/files/${key}?expires=<unix seconds>&signature=<HMAC-SHA256, base64url>`: a link
 * to an object that works without a token until it expires.
 */
export function signObjectUrl(opts: {
  publicUrl: string;
  key: string;
  ttlSeconds: number;
  secret: string;
  now?: Date;
}): string {
  assertKey(opts.key);
  const expires = Math.floor((opts.now ?? new Date()).getTime() / 1000) + opts.ttlSeconds;
  const signature = mac(opts.secret, opts.key, expires).toString('base64url');
  const base = opts.publicUrl.replace(/\/+$/, '');
  return `${base}/v1/files/${encodeKey(opts.key)}?expires=${expires}&signature=${signature}`;
}

export type SignatureCheck =
  | { ok: true; expires: number; remainingSeconds: number }
  | { ok: false; reason: 'malformed' | 'bad_signature' | 'expired' };

/**
 * Checks a signed link's `expires` and `signature` for `key` (the decoded path after
 * `/v1/files/`). The signature comparison takes the same time wherever the bytes differ.
 */
export function verifyObjectSignature(opts: {
  key: string;
  expires: string | undefined;
  signature: string | undefined;
  secret: string;
  now?: Date;
}): SignatureCheck {
  if (!opts.expires || !/^\d{1,12}$/.test(opts.expires)) return { ok: false, reason: 'malformed' };
  if (!opts.signature || !/^[A-Za-z0-9_-]{43}$/.test(opts.signature))
    return { ok: false, reason: 'malformed' };
  const expires = Number(opts.expires);
  // Compare the text, not decoded bytes: base64url has several spellings of the same last byte.
  const expected = Buffer.from(mac(opts.secret, opts.key, expires).toString('base64url'));
  const given = Buffer.from(opts.signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, reason: 'bad_signature' };
  const remainingSeconds = expires - Math.floor((opts.now ?? new Date()).getTime() / 1000);
  if (remainingSeconds <= 0) return { ok: false, reason: 'expired' };
  return { ok: true, expires, remainingSeconds };
}
