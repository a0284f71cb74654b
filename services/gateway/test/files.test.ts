import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type TestBus, type TestDatabase, testEngines } from '@chartwright/kit/testing';
import { chartObjectKey, type ObjectStore, openObjectStore, signObjectUrl } from '@chartwright/object-store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from './harness.js';

const { pairs } = await testEngines(afterAll);

const SIGNING_SECRET = 'files-test-signing-secret-of-at-least-32-bytes';
const PUBLIC_URL = 'https://api.chartwright.test';
const USER = '0190a0a0-0000-7000-8000-0000000000a1';
const OTHER = '0190a0a0-0000-7000-8000-0000000000b2';
const CHART = '0190a0a0-0000-7000-8000-0000000000c3';
const PNG = Buffer.concat([
  Buffer.from('89504e470d0a1a0a', 'hex'),
  Buffer.from(Array.from({ length: 2048 }, (_, i) => (i * 31) & 0xff)),
]);

/** The path and query of a signed link, as a client would request it. */
const pathOf = (link: string) => {
  const u = new URL(link);
  expect(u.origin).toBe(PUBLIC_URL);
  return u.pathname + u.search;
};
const sign = (key: string, ttlSeconds = 3600, opts: { secret?: string; now?: Date } = {}) =>
  pathOf(
    signObjectUrl({
      publicUrl: PUBLIC_URL,
      key,
      ttlSeconds,
      secret: opts.secret ?? SIGNING_SECRET,
      now: opts.now,
    }),
  );

describe.each(pairs)('signed file links [%s]', (_name, db: TestDatabase, tb: TestBus) => {
  let h: Harness;
  let dataDir: string;
  let objects: ObjectStore;
  const key = chartObjectKey(USER, CHART, 'png');
  const otherKey = chartObjectKey(OTHER, CHART, 'png');

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'cw-files-'));
    h = await startHarness(tb.bus, db, { DATA_DIR: dataDir, SIGNING_SECRET, PUBLIC_URL });
    objects = openObjectStore({ DATA_DIR: dataDir });
    await objects.put(key, PNG, 'image/png');
    await objects.put(otherKey, Buffer.from('someone else'), 'image/png');
  });
  afterAll(async () => {
    await h?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('serves the object without a token, with its type and a cache lifetime bounded by the link', async () => {
    const res = await h.app.inject({ method: 'GET', url: sign(key, 600) });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('image/png');
    expect(Number(res.headers['content-length'])).toBe(PNG.length);
    expect(res.rawPayload.equals(PNG)).toBe(true);
    const maxAge = Number(/^private, max-age=(\d+)$/.exec(String(res.headers['cache-control']))?.[1]);
    expect(maxAge).toBeGreaterThan(590);
    expect(maxAge).toBeLessThanOrEqual(600);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });

  it('answers 403 FORBIDDEN for an expired link', async () => {
    const res = await h.app.inject({
      method: 'GET',
      url: sign(key, 60, { now: new Date(Date.now() - 61_000) }),
    });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toEqual({
      success: false,
      error: { code: 'FORBIDDEN', message: 'this link has expired' },
    });
  });

  it('answers 403 FORBIDDEN for a tampered, foreign or missing signature', async () => {
    const good = new URL(sign(key), PUBLIC_URL);
    const variants: string[] = [];
    // Another user's key with this link's signature and expiry.
    variants.push(good.pathname.replace(USER, OTHER) + good.search);
    // A later expiry.
    const later = new URL(good);
    later.searchParams.set('expires', String(Number(good.searchParams.get('expires')) + 86_400));
    variants.push(later.pathname + later.search);
    // A changed signature.
    const sig = good.searchParams.get('signature')!;
    const flipped = new URL(good);
    flipped.searchParams.set('signature', (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1));
    variants.push(flipped.pathname + flipped.search);
    // Signed with another secret, or not signed at all.
    variants.push(sign(key, 3600, { secret: 'another-secret-that-is-also-32-bytes-long' }));
    variants.push(good.pathname);
    variants.push(`${good.pathname}?expires=${good.searchParams.get('expires')}`);
    for (const url of variants) {
      const res = await h.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(403);
      expect(res.json().error.code).toBe('FORBIDDEN');
      expect(res.body).not.toContain('someone else');
    }
  });

  it('answers 404 NOT_FOUND for a validly signed link to a missing object', async () => {
    const gone = chartObjectKey(USER, '0190a0a0-0000-7000-8000-0000000000d4', 'png');
    const res = await h.app.inject({ method: 'GET', url: sign(gone) });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('NOT_FOUND');

    // Deleting the object turns a link that worked into a 404.
    const url = sign(otherKey);
    expect((await h.app.inject({ method: 'GET', url })).statusCode).toBe(200);
    await objects.delete(otherKey);
    expect((await h.app.inject({ method: 'GET', url })).statusCode).toBe(404);
  });
});
