import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  chartObjectKey,
  FolderObjectStore,
  ObjectStoreError,
  openObjectStore,
  S3ObjectStore,
  s3OptionsFromEnv,
} from '../src/index.js';
import { makePng, startS3rver } from '../src/testing.js';

const readAll = async (body: Readable) => {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
};

let s3: Awaited<ReturnType<typeof startS3rver>>;
let store: S3ObjectStore;
const bucket = `cw-test-${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  s3 = await startS3rver();
  const opened = openObjectStore(s3.env(bucket));
  expect(opened).toBeInstanceOf(S3ObjectStore);
  store = opened as S3ObjectStore;
});
afterAll(async () => {
  await store?.close();
  await s3?.close();
});

describe('S3ObjectStore against s3rver', () => {
  it('creates its bucket on first use and answers ping', async () => {
    await store.ping();
  });

  it('round-trips PNG bytes exactly, with content type and size, then deletes', async () => {
    const png = makePng(64, 48);
    const key = chartObjectKey(
      '0190a0a0-0000-7000-8000-000000000001',
      '0190a0a0-0000-7000-8000-0000000000c1',
      'png',
    );
    expect(await store.put(key, png, 'image/png')).toEqual({
      key,
      size: png.length,
      contentType: 'image/png',
    });
    const got = await store.get(key);
    expect(got).toMatchObject({ key, size: png.length, contentType: 'image/png' });
    const bytes = await readAll(got!.body);
    expect(bytes.equals(png)).toBe(true);
    expect(bytes.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');

    await store.delete(key);
    expect(await store.get(key)).toBeNull();
  });

  it('answers null for a missing key, and deleting a missing key is not an error', async () => {
    expect(await store.get('users/nobody/charts/missing.png')).toBeNull();
    await expect(store.delete('users/nobody/charts/missing.png')).resolves.toBeUndefined();
  });

  it('streams a 5 MB object back byte for byte', async () => {
    const big = randomBytes(5 * 1024 * 1024);
    await store.put('big/object.bin', big, 'application/octet-stream');
    const got = await store.get('big/object.bin');
    expect(got!.size).toBe(big.length);
    let chunks = 0;
    const parts: Buffer[] = [];
    for await (const c of got!.body) {
      chunks++;
      parts.push(Buffer.from(c));
    }
    expect(chunks).toBeGreaterThan(1); // streamed, not one buffer
    expect(Buffer.concat(parts).equals(big)).toBe(true);
    await store.delete('big/object.bin');
  });

  it('overwrites an existing key', async () => {
    await store.put('over/write.png', makePng(4, 4, 1), 'image/png');
    const second = makePng(8, 8, 2);
    await store.put('over/write.png', second, 'image/png');
    expect((await readAll((await store.get('over/write.png'))!.body)).equals(second)).toBe(true);
  });

  it('refuses keys that could escape a folder', async () => {
    await expect(store.put('../etc/passwd', Buffer.from('x'), 'text/plain')).rejects.toBeInstanceOf(
      ObjectStoreError,
    );
    await expect(store.get('/absolute')).rejects.toThrow(/invalid object key/);
  });

  it('fails ping for a bucket that does not exist when it may not create it', async () => {
    const other = new S3ObjectStore({
      ...s3OptionsFromEnv({ ...s3.env('cw-missing-bucket'), S3_CREATE_BUCKET: 'false' }),
    });
    await expect(other.ping()).rejects.toThrow();
    await other.close();
  });
});

describe('openObjectStore', () => {
  it('is a folder under DATA_DIR without S3_BUCKET', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'cw-folder-'));
    try {
      const folder = openObjectStore({ DATA_DIR: dir, S3_BUCKET: '' });
      expect(folder).toBeInstanceOf(FolderObjectStore);
      await folder.put('a/b.png', Buffer.from('png'), 'image/png');
      expect((await readAll((await folder.get('a/b.png'))!.body)).toString()).toBe('png');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads S3 settings with their defaults', () => {
    expect(s3OptionsFromEnv({ S3_BUCKET: 'charts' })).toEqual({
      bucket: 'charts',
      region: 'us-east-1',
      endpoint: undefined,
      forcePathStyle: false,
      credentials: undefined,
      createBucket: false,
    });
    expect(
      s3OptionsFromEnv({
        S3_BUCKET: 'charts',
        S3_ENDPOINT: 'https://minio.internal:9000',
        S3_REGION: 'eu-west-1',
        S3_ACCESS_KEY_ID: 'id',
        S3_SECRET_ACCESS_KEY: 'secret',
      }),
    ).toMatchObject({
      region: 'eu-west-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'id', secretAccessKey: 'secret' },
    });
    expect(
      s3OptionsFromEnv({ S3_BUCKET: 'charts', S3_ENDPOINT: 'https://x.test', S3_FORCE_PATH_STYLE: 'false' })
        .forcePathStyle,
    ).toBe(false);
  });

  it.each([
    [{ S3_BUCKET: 'A_Bad_Bucket' }, /^S3_BUCKET: /],
    [{ S3_BUCKET: 'charts', S3_ENDPOINT: 'not a url' }, /^S3_ENDPOINT: /],
    [{ S3_BUCKET: 'charts', S3_ENDPOINT: 'ftp://x.test' }, /^S3_ENDPOINT: /],
    [{ S3_BUCKET: 'charts', S3_ACCESS_KEY_ID: 'id' }, /^S3_SECRET_ACCESS_KEY: required/],
    [{ S3_BUCKET: 'charts', S3_SECRET_ACCESS_KEY: 's' }, /^S3_ACCESS_KEY_ID: required/],
    [{ S3_BUCKET: 'charts', S3_FORCE_PATH_STYLE: 'maybe' }, /^S3_FORCE_PATH_STYLE: /],
    [{ S3_BUCKET: 'charts', S3_CREATE_BUCKET: 'sure' }, /^S3_CREATE_BUCKET: /],
    [{ S3_BUCKET: 'charts', S3_REGION: 'Mars One' }, /^S3_REGION: /],
  ])('names the variable in config errors: %j', (env, message) => {
    expect(() => openObjectStore(env)).toThrow(message);
  });
});
