import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { ChartDeleted, ChartGenerated, EventEnvelope, StorageChartObjects } from '@chartwright/contracts';
import {
  type ConfigError,
  callRpc,
  createLogger,
  type Database,
  encodeEvent,
  type MessageBus,
  makeEvent,
  newId,
  openDatabase,
  PermanentError,
  publishEvent,
  type RunningService,
  type Subscription,
} from '@chartwright/kit';
import { eventually, testEngines, uniqueName } from '@chartwright/kit/testing';
import { chartObjectKey, type ObjectStore, openObjectStore } from '@chartwright/object-store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import type { StorageDb } from '../src/db/schema.js';
import { fetchChartImage, loadStorageConfig, startStorageService } from '../src/index.js';
import { makePng, startImageServer, startS3rver } from './support.js';

const MAX_BYTES = 64 * 1024;
const logger = createLogger('test', 'silent');
const { pairs } = await testEngines(afterAll);
const s3 = await startS3rver();
const images = await startImageServer(MAX_BYTES);

afterAll(async () => {
  await images.close();
  await s3.close();
});

// One pairing per engine: JetStream with PostgreSQL, the in-process bus with PGlite.

const readAll = async (body: Readable) => {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
};
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

type GeneratedData = z.input<(typeof ChartGenerated)['data']>;
function chartGenerated(over: Partial<GeneratedData> & Pick<GeneratedData, 'chartId' | 'userId'>) {
  return makeEvent(
    ChartGenerated,
    {
      reservationId: null,
      symbol: 'BINANCE:BTCUSDT',
      interval: '1h',
      config: { symbol: 'BINANCE:BTCUSDT', interval: '1h' },
      renderer: 'chart-img',
      objectKey: null,
      size: null,
      sha256: null,
      contentType: 'image/png',
      externalUrl: null,
      format: 'png',
      width: 800,
      height: 600,
      synthetic: false,
      generatedAt: new Date().toISOString(),
      expiresAt: null,
      ...over,
    },
    { source: 'test', subject: over.chartId },
  );
}

interface Received {
  event: EventEnvelope;
  headers: Record<string, string>;
}

/** Everything published on `filterSubject` from now on (and before: consumers deliver all). */
async function collect(bus: MessageBus, stream: 'CHARTS' | 'DLQ', filterSubject: string) {
  const items: Received[] = [];
  const sub = await bus.consume(
    { stream, durable: uniqueName('test'), filterSubject, ackWaitMs: 5_000 },
    async (d) => {
      items.push({
        event: EventEnvelope.parse(JSON.parse(Buffer.from(d.data).toString())),
        headers: d.headers,
      });
      d.ack();
    },
  );
  return { items, sub };
}

describe.each(pairs)('storage-service [%s]', (_name, tdb, tb) => {
  const bucket = `cw-storage-${randomBytes(4).toString('hex')}`;
  let service: RunningService;
  let objects: ObjectStore;
  let database: Database<StorageDb>;
  let stored: Received[];
  let dead: Received[];
  const subs: Subscription[] = [];

  beforeAll(async () => {
    service = await startStorageService({
      bus: tb.bus,
      database: tdb.target,
      logger,
      env: {
        ...s3.env(bucket),
        NODE_ENV: 'test',
        STORAGE_DOWNLOAD_ALLOWED_HOSTS: '127.0.0.1',
        STORAGE_DOWNLOAD_ALLOW_PRIVATE: 'true',
        STORAGE_DOWNLOAD_ALLOW_HTTP: 'true',
        STORAGE_MAX_DOWNLOAD_BYTES: String(MAX_BYTES),
        STORAGE_DOWNLOAD_TIMEOUT_MS: '5000',
      },
    });
    objects = openObjectStore(s3.env(bucket));
    database = openDatabase<StorageDb>(tdb.target, 'storage');
    const s = await collect(tb.bus, 'CHARTS', 'chart.stored');
    const d = await collect(tb.bus, 'DLQ', 'dlq.CHARTS.storage-charts');
    stored = s.items;
    dead = d.items;
    subs.push(s.sub, d.sub);
  });
  afterAll(async () => {
    for (const s of subs) await s.stop();
    await service?.stop();
    await database?.destroy();
    await objects?.close?.();
  });

  const records = (chartId: string, userId: string) =>
    callRpc(tb.bus, StorageChartObjects, { chartId, userId }).then((r) => r.objects);
  const applied = async (eventId: string) =>
    (await database.db
      .selectFrom('inbox')
      .select('event_id')
      .where('consumer', '=', 'storage-charts')
      .where('event_id', '=', eventId)
      .executeTakeFirst()) !== undefined;
  /** Announces a chart's deletion as chart-service does, and waits until storage-service applied it. */
  const deleteChart = async (chartId: string, userId: string, objectKeys: string[] = []) => {
    await publishEvent(
      tb.bus,
      makeEvent(ChartDeleted, { chartId, userId, objectKeys }, { source: 'test', subject: chartId }),
    );
    await eventually(
      async () =>
        (await database.db
          .selectFrom('deleted_charts')
          .select('chart_id')
          .where('chart_id', '=', chartId)
          .where('owner_id', '=', userId)
          .executeTakeFirst()) !== undefined,
    );
  };
  const storedFor = (chartId: string) =>
    stored.filter((s) => (s.event.data as { chartId: string }).chartId === chartId);

  it('is ready, object store included', async () => {
    expect(Object.keys(service.checks).sort()).toEqual(['database', 'objectStore']);
    for (const check of Object.values(service.checks)) await check();
  });

  it('records an image chart-service stored, once, on chart.generated with objectKey', async () => {
    const userId = newId();
    const chartId = newId();
    const key = chartObjectKey(userId, chartId, 'png');
    const png = makePng(40, 30);
    await objects.put(key, png, 'image/png');
    const event = chartGenerated({
      chartId,
      userId,
      renderer: 'builtin',
      objectKey: key,
      size: png.length,
      sha256: sha256(png),
    });
    await publishEvent(tb.bus, event);
    const [record] = await eventually(async () => {
      const r = await records(chartId, userId);
      return r.length ? r : null;
    });
    expect(record).toMatchObject({
      key,
      chartId,
      size: png.length,
      sha256: sha256(png),
      contentType: 'image/png',
    });
    const row = await database.db
      .selectFrom('objects')
      .selectAll()
      .where('key', '=', key)
      .executeTakeFirstOrThrow();
    expect(row.owner_id).toBe(userId);

    // The same event again (a redelivery under another message id) changes nothing.
    await tb.bus.publish('chart.generated', encodeEvent(event), { msgId: newId() });
    await new Promise((r) => setTimeout(r, 300));
    expect(await records(chartId, userId)).toEqual([record]);
    // Nothing was downloaded, so nothing is announced.
    expect(storedFor(chartId)).toHaveLength(0);
  });

  it('computes size and sha256 from the store when the event leaves them out', async () => {
    const userId = newId();
    const chartId = newId();
    const key = chartObjectKey(userId, chartId, 'svg');
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>');
    await objects.put(key, svg, 'image/svg+xml');
    await publishEvent(
      tb.bus,
      chartGenerated({
        chartId,
        userId,
        renderer: 'builtin',
        objectKey: key,
        format: 'svg',
        contentType: 'image/svg+xml',
      }),
    );
    const record = await eventually(async () => (await records(chartId, userId)).at(0));
    expect(record).toMatchObject({
      key,
      size: svg.length,
      sha256: sha256(svg),
      contentType: 'image/svg+xml',
    });
  });

  it('copies an external image to users/{userId}/charts/{chartId}.png, records it and emits chart.stored once', async () => {
    const userId = newId();
    const chartId = newId();
    const png = makePng(120, 80, 7);
    images.add(`${chartId}.png`, png);
    const event = chartGenerated({ chartId, userId, externalUrl: `${images.base}/img/${chartId}.png` });
    await publishEvent(tb.bus, event);

    const [announced] = await eventually(() => (storedFor(chartId).length ? storedFor(chartId) : null));
    const key = `users/${userId}/charts/${chartId}.png`;
    expect(announced!.event).toMatchObject({
      type: 'chart.stored',
      source: 'storage-service',
      subject: chartId,
      data: {
        chartId,
        userId,
        objectKey: key,
        size: png.length,
        sha256: sha256(png),
        contentType: 'image/png',
      },
    });
    const obj = await objects.get(key);
    expect(obj).toMatchObject({ size: png.length, contentType: 'image/png' });
    expect((await readAll(obj!.body)).equals(png)).toBe(true);
    expect(await records(chartId, userId)).toMatchObject([{ key, size: png.length, sha256: sha256(png) }]);

    // A redelivery neither downloads again nor announces again.
    const hitsBefore = images.hits.length;
    await tb.bus.publish('chart.generated', encodeEvent(event), { msgId: newId() });
    await new Promise((r) => setTimeout(r, 500));
    expect(storedFor(chartId)).toHaveLength(1);
    expect(images.hits.length).toBe(hitsBefore);
  });

  it('retries a download that failed for a transient reason', async () => {
    const userId = newId();
    const chartId = newId();
    const png = makePng(16, 16, 3);
    images.add(`${chartId}.png`, png);
    await publishEvent(
      tb.bus,
      chartGenerated({ chartId, userId, externalUrl: `${images.base}/flaky/${chartId}.png` }),
    );
    await eventually(() => storedFor(chartId).length === 1, 15_000);
    expect(images.hits.filter((h) => h === `/flaky/${chartId}.png`)).toHaveLength(2);
    const obj = await objects.get(chartObjectKey(userId, chartId, 'png'));
    expect((await readAll(obj!.body)).equals(png)).toBe(true);
  });

  it.each([
    [
      'the cloud metadata address',
      () => 'http://169.254.169.254/latest/meta-data/iam/chart.png',
      'HOST_NOT_ALLOWED',
    ],
    ['localhost', () => `http://localhost:${images.port}/img/any.png`, 'HOST_NOT_ALLOWED'],
    [
      'a redirect to another host',
      () => `${images.base}/redirect?to=${encodeURIComponent(`http://localhost:${images.port}/img/any.png`)}`,
      'HOST_NOT_ALLOWED',
    ],
    ['a body over the size cap', () => `${images.base}/big.png`, 'TOO_LARGE'],
    ['a declared size over the cap', () => `${images.base}/big-declared.png`, 'TOO_LARGE'],
    ['something that is not a PNG', () => `${images.base}/html.png`, 'NOT_PNG'],
    ['a missing image', () => `${images.base}/img/missing.png`, 'BAD_STATUS'],
  ])('refuses to copy from %s: nothing stored, message dead-lettered', async (_what, url, code) => {
    const userId = newId();
    const chartId = newId();
    images.add('any.png', makePng(8, 8));
    const event = chartGenerated({ chartId, userId, externalUrl: url() });
    await publishEvent(tb.bus, event);
    const letter = await eventually(() => dead.find((d) => d.event.id === event.id));
    expect(letter.headers['Dlq-Reason']).toContain(`download refused (${code})`);
    expect(letter.headers['Dlq-Consumer']).toBe('storage-charts');
    expect(await objects.get(chartObjectKey(userId, chartId, 'png'))).toBeNull();
    expect(await records(chartId, userId)).toEqual([]);
    expect(await applied(event.id)).toBe(false);
    expect(storedFor(chartId)).toHaveLength(0);
  });

  it('deletes objects and records on chart.deleted', async () => {
    const userId = newId();
    const chartId = newId();
    const builtinKey = chartObjectKey(userId, chartId, 'svg');
    await objects.put(builtinKey, Buffer.from('<svg/>'), 'image/svg+xml');
    await publishEvent(
      tb.bus,
      chartGenerated({ chartId, userId, renderer: 'builtin', objectKey: builtinKey }),
    );
    const png = makePng(10, 10, 9);
    images.add(`${chartId}.png`, png);
    await publishEvent(
      tb.bus,
      chartGenerated({ chartId, userId, externalUrl: `${images.base}/img/${chartId}.png` }),
    );
    await eventually(async () => (await records(chartId, userId)).length === 2);

    // A key of another user in the event is ignored.
    const otherKey = chartObjectKey(newId(), newId(), 'png');
    await objects.put(otherKey, Buffer.from('theirs'), 'image/png');
    await publishEvent(
      tb.bus,
      makeEvent(
        ChartDeleted,
        { chartId, userId, objectKeys: [builtinKey, otherKey] },
        { source: 'test', subject: chartId },
      ),
    );
    await eventually(async () => (await records(chartId, userId)).length === 0);
    expect(await objects.get(builtinKey)).toBeNull();
    expect(await objects.get(chartObjectKey(userId, chartId, 'png'))).toBeNull();
    expect(await objects.get(otherKey)).not.toBeNull();
  });

  it('deletes on chart.deleted for the owner only, idempotently', async () => {
    const owner = newId();
    const intruder = newId();
    const chartId = newId();
    const key = chartObjectKey(owner, chartId, 'png');
    const png = makePng(12, 12, 5);
    await objects.put(key, png, 'image/png');
    await publishEvent(
      tb.bus,
      chartGenerated({
        chartId,
        userId: owner,
        renderer: 'builtin',
        objectKey: key,
        size: png.length,
        sha256: sha256(png),
      }),
    );
    await eventually(async () => (await records(chartId, owner)).length === 1);

    // Another user's request for this chart deletes nothing and learns nothing.
    await deleteChart(chartId, intruder);
    expect(await callRpc(tb.bus, StorageChartObjects, { chartId, userId: intruder })).toEqual({
      objects: [],
    });
    expect(await records(chartId, owner)).toHaveLength(1);
    expect((await readAll((await objects.get(key))!.body)).equals(png)).toBe(true);

    await deleteChart(chartId, owner);
    await eventually(async () => (await objects.get(key)) === null);
    await eventually(async () => (await records(chartId, owner)).length === 0);
    await deleteChart(chartId, owner);
    expect(await records(chartId, owner)).toEqual([]);
  });

  it('drops a copy of a chart deleted before its image arrived', async () => {
    const userId = newId();
    const chartId = newId();
    images.add(`${chartId}.png`, makePng(9, 9));
    await deleteChart(chartId, userId);
    const event = chartGenerated({ chartId, userId, externalUrl: `${images.base}/img/${chartId}.png` });
    await publishEvent(tb.bus, event);
    await eventually(() => applied(event.id));
    expect(await objects.get(chartObjectKey(userId, chartId, 'png'))).toBeNull();
    expect(await records(chartId, userId)).toEqual([]);
    expect(storedFor(chartId)).toHaveLength(0);

    // The same for an image chart-service stored: not recorded, and removed.
    const svgKey = chartObjectKey(userId, chartId, 'svg');
    await objects.put(svgKey, Buffer.from('<svg/>'), 'image/svg+xml');
    const late = chartGenerated({ chartId, userId, renderer: 'builtin', objectKey: svgKey });
    await publishEvent(tb.bus, late);
    await eventually(() => applied(late.id));
    expect(await records(chartId, userId)).toEqual([]);
    expect(await objects.get(svgKey)).toBeNull();
  });
});

describe('download safety with production settings', () => {
  const strict = loadStorageConfig({
    NODE_ENV: 'production',
    STORAGE_DOWNLOAD_ALLOWED_HOSTS: 'r2.chart-img.com,169.254.169.254,localhost',
  }).download;

  it.each([
    ['https://169.254.169.254/latest/meta-data/', 'PRIVATE_ADDRESS'],
    ['https://localhost/chart.png', 'PRIVATE_ADDRESS'],
    ['http://r2.chart-img.com/chart.png', 'SCHEME_NOT_ALLOWED'],
    ['https://evil.example/chart.png', 'HOST_NOT_ALLOWED'],
    ['https://r2.chart-img.com.evil.example/chart.png', 'HOST_NOT_ALLOWED'],
    ['https://user:pw@r2.chart-img.com/chart.png', 'INVALID_URL'],
  ])('refuses %s (%s) as a permanent error, before connecting', async (url, code) => {
    const err = await fetchChartImage(url, strict).catch((e) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toContain(`(${code})`);
  });

  it('keeps the defaults strict and refuses loosening outside loopback or in production', () => {
    expect(loadStorageConfig({}).download).toEqual({
      allowedHosts: ['r2.chart-img.com'],
      maxBytes: 10 * 1024 * 1024,
      timeoutMs: 15_000,
      allowPrivateAddresses: false,
      allowHttp: false,
    });
    const bad = (env: Record<string, string>) => {
      try {
        loadStorageConfig(env);
      } catch (err) {
        return (err as ConfigError).issues.map((i) => i.variable);
      }
      return [];
    };
    expect(bad({ STORAGE_DOWNLOAD_ALLOW_PRIVATE: 'true' })).toEqual(['STORAGE_DOWNLOAD_ALLOWED_HOSTS']);
    expect(
      bad({
        STORAGE_DOWNLOAD_ALLOW_PRIVATE: 'true',
        STORAGE_DOWNLOAD_ALLOWED_HOSTS: '127.0.0.1,169.254.169.254',
      }),
    ).toEqual(['STORAGE_DOWNLOAD_ALLOWED_HOSTS']);
    expect(
      bad({ STORAGE_DOWNLOAD_ALLOW_PRIVATE: 'true', STORAGE_DOWNLOAD_ALLOWED_HOSTS: '127.0.0.1' }),
    ).toEqual([]);
    expect(
      bad({
        NODE_ENV: 'production',
        STORAGE_DOWNLOAD_ALLOW_HTTP: 'true',
        STORAGE_DOWNLOAD_ALLOW_PRIVATE: 'true',
        STORAGE_DOWNLOAD_ALLOWED_HOSTS: '127.0.0.1',
      }),
    ).toEqual(['STORAGE_DOWNLOAD_ALLOW_PRIVATE', 'STORAGE_DOWNLOAD_ALLOW_HTTP']);
    expect(bad({ STORAGE_MAX_DOWNLOAD_BYTES: 'lots' })).toEqual(['STORAGE_MAX_DOWNLOAD_BYTES']);
  });
});
