import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SIGNED_URL_TTL_SECONDS,
  DEVELOPMENT_SIGNING_SECRET,
  signingConfigFromEnv,
  signObjectUrl,
  verifyObjectSignature,
} from '../src/index.js';

const SECRET = 'a-signing-secret-that-is-32-bytes-or-more!';
const KEY = 'users/0190a0a0-0000-7000-8000-000000000001/charts/0190a0a0-0000-7000-8000-0000000000c1.png';
const NOW = new Date('2026-11-27T12:00:00Z');

/** The parts of a signed link the gateway reads. */
function parse(link: string) {
  const url = new URL(link);
  return {
    url,
    key: decodeURIComponent(url.pathname.replace(/^\/v1\/files\//, '')),
    expires: url.searchParams.get('expires') ?? undefined,
    signature: url.searchParams.get('signature') ?? undefined,
  };
}

describe('signed object links', () => {
  const link = signObjectUrl({
    publicUrl: 'https://api.example.com/',
    key: KEY,
    ttlSeconds: 600,
    secret: SECRET,
    now: NOW,
  });

  it('have the documented shape and verify until they expire', () => {
    const p = parse(link);
    expect(p.url.origin + p.url.pathname).toBe(`https://api.example.com/v1/files/${KEY}`);
    expect(p.expires).toBe(String(NOW.getTime() / 1000 + 600));
    expect(p.signature).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(verifyObjectSignature({ ...p, secret: SECRET, now: NOW })).toEqual({
      ok: true,
      expires: NOW.getTime() / 1000 + 600,
      remainingSeconds: 600,
    });
    const later = new Date(NOW.getTime() + 599_000);
    expect(verifyObjectSignature({ ...p, secret: SECRET, now: later })).toMatchObject({
      ok: true,
      remainingSeconds: 1,
    });
  });

  it('refuse an expired link', () => {
    const p = parse(link);
    for (const ms of [600_000, 3_600_000]) {
      const now = new Date(NOW.getTime() + ms);
      expect(verifyObjectSignature({ ...p, secret: SECRET, now })).toEqual({ ok: false, reason: 'expired' });
    }
  });

  it('refuse a tampered key, expiry or signature, and another secret', () => {
    const p = parse(link);
    const otherKey = KEY.replace('0000000000c1', '0000000000c2');
    expect(verifyObjectSignature({ ...p, key: otherKey, secret: SECRET, now: NOW })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    // Extending the expiry invalidates the signature.
    const extended = String(Number(p.expires) + 86_400);
    expect(verifyObjectSignature({ ...p, expires: extended, secret: SECRET, now: NOW })).toMatchObject({
      ok: false,
      reason: 'bad_signature',
    });
    // Every single-character change of the signature is refused (including the last one).
    const sig = p.signature!;
    for (let i = 0; i < sig.length; i++) {
      const swapped = sig[i] === 'A' ? 'B' : 'A';
      const tampered = sig.slice(0, i) + swapped + sig.slice(i + 1);
      expect(verifyObjectSignature({ ...p, signature: tampered, secret: SECRET, now: NOW }).ok).toBe(false);
    }
    expect(verifyObjectSignature({ ...p, secret: `${SECRET}-rotated`, now: NOW })).toMatchObject({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it('refuse missing or malformed parameters', () => {
    const p = parse(link);
    for (const bad of [
      { expires: undefined },
      { expires: '-5' },
      { expires: '1e12' },
      { signature: undefined },
      { signature: 'short' },
      { signature: `${p.signature}=` },
    ]) {
      expect(verifyObjectSignature({ ...p, ...bad, secret: SECRET, now: NOW })).toEqual({
        ok: false,
        reason: 'malformed',
      });
    }
  });
});

describe('signingConfigFromEnv', () => {
  it('has development defaults with a clearly named development secret', () => {
    expect(signingConfigFromEnv({})).toEqual({
      secret: DEVELOPMENT_SIGNING_SECRET,
      secretIsDefault: true,
      publicUrl: 'http://127.0.0.1:3000',
      ttlSeconds: DEFAULT_SIGNED_URL_TTL_SECONDS,
    });
    expect(DEFAULT_SIGNED_URL_TTL_SECONDS).toBe(7 * 86_400);
  });

  it('reads the secret, public URL and lifetime', () => {
    expect(
      signingConfigFromEnv({
        NODE_ENV: 'production',
        SIGNING_SECRET: SECRET,
        PUBLIC_URL: 'https://api.example.com/base/',
        SIGNED_URL_TTL_SECONDS: '3600',
      }),
    ).toEqual({
      secret: SECRET,
      secretIsDefault: false,
      publicUrl: 'https://api.example.com/base',
      ttlSeconds: 3600,
    });
  });

  it.each([
    [{ NODE_ENV: 'production' }, /^SIGNING_SECRET: required in production/],
    [{ SIGNING_SECRET: 'too short' }, /^SIGNING_SECRET: must be at least 32 bytes/],
    [{ PUBLIC_URL: 'nope' }, /^PUBLIC_URL: /],
    [{ PUBLIC_URL: 'https://x.test/?a=1' }, /^PUBLIC_URL: /],
    [{ SIGNED_URL_TTL_SECONDS: '0' }, /^SIGNED_URL_TTL_SECONDS: /],
    [{ SIGNED_URL_TTL_SECONDS: '1.5' }, /^SIGNED_URL_TTL_SECONDS: /],
  ])('names the variable in errors: %j', (env, message) => {
    expect(() => signingConfigFromEnv(env)).toThrow(message);
  });
});
