import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  AnalysisCompleted,
  ChartBulkGenerate,
  ChartConfig,
  ChartDelete,
  ChartDeleted,
  ChartGenerate,
  ChartGenerated,
  ChartGenerateSet,
  ChartGet,
  ChartList,
  ChartRenderBars,
  ChartStored,
  type EventEnvelope,
  QuotaGet,
  QuotaSetPlan,
  TemplateCreate,
  TemplateDelete,
  TemplateGet,
  TemplateList,
} from '@chartwright/contracts';
import {
  callRpc,
  consumeEvents,
  createLogger,
  encodeEvent,
  type MessageBus,
  makeEvent,
  newId,
  on,
  publishEvent,
  type RunningService,
  ServiceError,
  type Subscription,
} from '@chartwright/kit';
import { eventually, testEngines } from '@chartwright/kit/testing';
import { DRAWING_NAMES, STUDY_NAMES } from '@chartwright/market';
import { FolderObjectStore, verifyObjectSignature } from '@chartwright/object-store';
import { startQuotaService } from '@chartwright/quota-service';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUOTA_EXCEEDED_MESSAGE, startChartService } from '../src/index.js';
import { type FakeChartImg, startFakeChartImg } from './support/fake-chart-img.js';

const { pairs } = await testEngines(afterAll);
const logger = createLogger('test', 'silent');

const SECRET = 'a-signing-secret-for-tests-that-is-32-bytes+';
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const failure = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ServiceError);
    return err as ServiceError;
  }
  throw new Error('expected a failure');
};

const sample = {
  symbol: 'BINANCE:BTCUSDT',
  interval: '4h',
  range: '1M',
  theme: 'dark',
  studies: [
    { name: 'Relative Strength Index', input: { period: 14 } },
    { name: 'Bollinger Bands', input: { period: 20, stddev: 2 } },
  ],
  drawings: [
    {
      name: 'Horizontal Line',
      input: { price: 500_000 },
      override: { linecolor: '#f23645', text: 'Resistance' },
    },
  ],
};

describe.each(pairs)('chart-service [%s]', (_name, tdb, tb) => {
  const bus: MessageBus = tb.bus;
  let dataDir: string;
  let env: Record<string, string>;
  let quota: RunningService;
  let charts: RunningService;
  let objects: FolderObjectStore;
  const events: EventEnvelope[] = [];
  let eventSub: Subscription;

  const pro = async () => {
    const userId = newId();
    await callRpc(bus, QuotaSetPlan, { userId, plan: 'pro' });
    return userId;
  };
  const generate = (userId: string, request: Record<string, unknown> = sample) =>
    callRpc(bus, ChartGenerate, { userId, request }, { timeoutMs: 30_000 });

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'cw-charts-'));
    env = {
      DATA_DIR: dataDir,
      SIGNING_SECRET: SECRET,
      PUBLIC_URL: 'https://api.example.test',
      NODE_ENV: 'test',
      MARKET_DATA: 'synthetic',
    };
    quota = await startQuotaService({ bus, database: tdb.target, logger, env });
    charts = await startChartService({ bus, database: tdb.target, logger, env });
    objects = new FolderObjectStore(path.join(dataDir, 'objects'));
    eventSub = await consumeEvents(
      bus,
      { stream: 'CHARTS', durable: `test-charts-${newId().slice(-8)}`, filterSubject: 'chart.>' },
      [on(ChartGenerated, (e) => void events.push(e)), on(ChartDeleted, (e) => void events.push(e))],
      logger,
    );
  });
  afterAll(async () => {
    await eventSub?.stop();
    await charts?.stop();
    await quota?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('generates a PNG, stores it, saves the chart with chart.generated and returns a signed link', async () => {
    const userId = await pro();
    const r = await generate(userId);
    expect(r.metadata).toMatchObject({
      format: 'PNG',
      resolution: '1200x675',
      renderer: 'builtin',
      synthetic: true,
      expiresAt: expect.any(String),
    });
    expect(r.quota).toEqual({ used: 1, limit: 100, remaining: 99 });
    expect(Date.parse(r.metadata.expiresAt!) - Date.now()).toBeGreaterThan(6 * 86_400_000);
    // The sample's line at 500,000 is far above the synthetic prices (which start near the real price): said, not dropped silently.
    expect(r.warnings).toEqual([
      expect.stringMatching(
        /^drawing 1 "Horizontal Line" at 500,000(\.0+)? is outside the chart's price range [\d,.]+–[\d,.]+$/,
      ),
    ]);

    const url = new URL(r.url);
    expect(url.origin).toBe('https://api.example.test');
    const key = decodeURIComponent(url.pathname.replace('/v1/files/', ''));
    expect(key).toBe(`users/${userId}/charts/${r.chartId}.png`);
    expect(
      verifyObjectSignature({
        key,
        expires: url.searchParams.get('expires') ?? undefined,
        signature: url.searchParams.get('signature') ?? undefined,
        secret: SECRET,
      }).ok,
    ).toBe(true);
    const obj = await objects.get(key);
    const bytes = Buffer.concat(await obj!.body.toArray());
    expect(bytes.subarray(0, 8)).toEqual(PNG);
    expect(obj!.contentType).toBe('image/png');

    const generated = await eventually(() =>
      events.find((e) => e.type === 'chart.generated' && (e.data as any).chartId === r.chartId),
    );
    expect(generated.data).toMatchObject({
      userId,
      objectKey: key,
      size: bytes.length,
      contentType: 'image/png',
      externalUrl: null,
      synthetic: true,
      renderer: 'builtin',
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      // The bars drawn, so that an analysis reads exactly them.
      bars: {
        source: 'synthetic',
        synthetic: true,
        seed: 1,
        count: expect.any(Number),
        warmUp: 150,
        from: expect.any(String),
        to: expect.any(String),
      },
    });
    // quota-service committed the reservation on chart.generated: the unit stays used.
    const q = await callRpc(bus, QuotaGet, { userId });
    expect(q.charts.used).toBe(1);

    const { chart, image } = await callRpc(bus, ChartGet, { userId, chartId: r.chartId });
    expect(chart).toMatchObject({
      id: r.chartId,
      symbol: 'BINANCE:BTCUSDT',
      interval: '4h',
      range: '1M',
      status: 'stored',
      analysesCount: 0,
      permanentUrl: `https://api.example.test/v1/charts/${r.chartId}/image`,
      config: { theme: 'dark', width: 1200, height: 675, studies: sample.studies },
    });
    expect(image).toEqual({ objectKey: key, externalUrl: null, contentType: 'image/png' });
  });

  it('refuses unknown studies and drawings, naming the field and the supported names, using no quota', async () => {
    const userId = await pro();
    const study = await failure(
      generate(userId, { ...sample, studies: [{ name: 'RSI' }, { name: 'Magic Oscillator' }] }),
    );
    expect(study.code).toBe('VALIDATION_ERROR');
    expect(study.details).toMatchObject([{ field: 'studies.1.name', supported: STUDY_NAMES }]);
    const drawing = await failure(generate(userId, { ...sample, drawings: [{ name: 'Smiley', input: {} }] }));
    expect(drawing.message).toContain('Fib Retracement');
    expect(drawing.details).toMatchObject([{ field: 'drawings.0.name', supported: DRAWING_NAMES }]);
    const input = await failure(
      generate(userId, { ...sample, studies: [{ name: 'RSI', input: { period: 'fourteen' } }] }),
    );
    expect(input.details).toMatchObject([{ field: 'studies.0.input.period' }]);
    const fields = await failure(generate(userId, { symbol: 'BTCUSDT', interval: '7h', width: 100 }));
    expect((fields.details as { field: string }[]).map((d) => d.field).sort()).toEqual([
      'interval',
      'symbol',
      'width',
    ]);
    const missing = await failure(generate(userId, {}));
    expect(missing.message).toContain('symbol');
    const builtinOnly = await failure(generate(userId, { ...sample, renderer: 'chart-img' }));
    expect(builtinOnly.details).toMatchObject([{ field: 'renderer' }]);
    expect((await callRpc(bus, QuotaGet, { userId })).charts.used).toBe(0);
  });

  it('answers QUOTA_EXCEEDED once the month is used up', async () => {
    const userId = newId(); // free plan: 5 charts
    const small = { symbol: 'BINANCE:ETHUSDT', interval: '1h', width: 400, height: 300 };
    for (let i = 0; i < 5; i++) await generate(userId, small);
    const err = await failure(generate(userId, small));
    expect(err.code).toBe('QUOTA_EXCEEDED');
    expect(err.message).toBe(QUOTA_EXCEEDED_MESSAGE);
    expect(err.details).toMatchObject({ quota: { used: 5, limit: 5, remaining: 0 } });
  });

  it('draws given bars without making a chart: nothing stored, charged or announced', async () => {
    const before = events.length;
    const stored = () => readdir(path.join(dataDir, 'objects'), { recursive: true }).catch(() => []);
    const objectsBefore = await stored();
    let v = 0;
    const bars = Array.from({ length: 40 }, (_, i) => {
      v += i % 3 === 0 ? -1 : 1.5;
      return { time: Date.UTC(2020, 0, 1) + i * 3_600_000, open: v, high: v, low: v, close: v, volume: 0 };
    });
    const config = ChartConfig.parse({ symbol: 'BINANCE:BTCUSDT', interval: '1h', style: 'line' });
    const png = await callRpc(bus, ChartRenderBars, { config, bars });
    expect(png).toMatchObject({ encoding: 'base64', contentType: 'image/png' });
    expect(Buffer.from(png.data, 'base64').subarray(0, 8)).toEqual(PNG);
    const svg = await callRpc(bus, ChartRenderBars, {
      config: { ...config, format: 'svg' },
      bars,
      label: 'Equity (R)',
    });
    expect(svg).toMatchObject({ encoding: 'utf8', contentType: 'image/svg+xml' });
    expect(svg.data).toContain('Equity (R)');
    expect(svg.data).not.toContain('SYNTHETIC');
    // A price's header reads OHLC; an equity curve's reads its last value, named by valueLabel.
    expect(svg.data).toMatch(/O -?[\d.]+ {2}H /);
    const equity = await callRpc(bus, ChartRenderBars, {
      config: { ...config, format: 'svg' },
      bars,
      label: 'Equity (R)',
      valueLabel: 'R',
    });
    expect(equity.data).toContain(`R ${v.toFixed(2)}`);
    expect(equity.data).not.toMatch(/O -?[\d.]+ {2}H /);
    const tooBig = await failure(callRpc(bus, ChartRenderBars, { config: { ...config, width: 5000 }, bars }));
    expect(tooBig.code).toBe('VALIDATION_ERROR');
    await new Promise((r) => setTimeout(r, 200));
    expect(events.length).toBe(before);
    expect(await stored()).toEqual(objectsBefore);
  });

  it('lists newest first with pagination, a symbol part and a status', async () => {
    const userId = await pro();
    const small = { interval: '1h', width: 400, height: 300 };
    const ids: string[] = [];
    for (const symbol of ['BINANCE:BTCUSDT', 'BINANCE:ETHUSDT', 'COINBASE:BTCUSD']) {
      ids.push((await generate(userId, { ...small, symbol })).chartId);
    }
    const all = await callRpc(bus, ChartList, { userId, limit: 2, offset: 0 });
    expect(all.charts.map((c) => c.id)).toEqual([ids[2], ids[1]]);
    expect(all.pagination).toEqual({ total: 3, limit: 2, offset: 0, hasMore: true });
    expect(all.charts[0]).toMatchObject({ symbol: 'COINBASE:BTCUSD', status: 'stored', analysesCount: 0 });
    const page2 = await callRpc(bus, ChartList, { userId, limit: 2, offset: 2 });
    expect(page2.charts.map((c) => c.id)).toEqual([ids[0]]);
    expect(page2.pagination.hasMore).toBe(false);

    const btc = await callRpc(bus, ChartList, { userId, limit: 50, offset: 0, symbol: 'BTCUSD' });
    expect(btc.charts.map((c) => c.id).sort()).toEqual([ids[0], ids[2]].sort());
    const exact = await callRpc(bus, ChartList, { userId, limit: 50, offset: 0, symbol: 'btcusdt' });
    expect(exact.charts.map((c) => c.id)).toEqual([ids[0]]);
    for (const wildcard of ['%', '_', 'BTC%USD']) {
      const none = await callRpc(bus, ChartList, { userId, limit: 50, offset: 0, symbol: wildcard });
      expect(none.pagination.total, wildcard).toBe(0);
    }
    const ready = await callRpc(bus, ChartList, { userId, limit: 50, offset: 0, status: 'ready' });
    expect(ready.charts).toEqual([]);
    const stored = await callRpc(bus, ChartList, { userId, limit: 50, offset: 0, status: 'stored' });
    expect(stored.pagination.total).toBe(3);
  });

  it("counts completed analyses once each, and only for the chart's owner", async () => {
    const userId = await pro();
    const { chartId } = await generate(userId, { symbol: 'BINANCE:BTCUSDT', interval: '1D' });

    const completed = (analysisId: string, forUser = userId) =>
      makeEvent(
        AnalysisCompleted,
        {
          analysisId,
          chartId,
          userId: forUser,
          reservationId: null,
          symbol: 'BINANCE:BTCUSDT',
          interval: '1D',
          result: {
            trend: 'bullish',
            signals: ['x'],
            recommendation: 'LONG',
            entryPrice: 1,
            stopLoss: 0.5,
            takeProfit: 2,
            confidence: 7,
            analysisText: 'text',
            keyLevels: { support: [], resistance: [] },
            riskRewardRatio: 2,
            warnings: [],
          },
          metadata: { model: 'builtin', tokensUsed: 0, processingTime: 0.1 },
          completedAt: new Date().toISOString(),
        },
        { source: 'test' },
      );
    const first = completed(newId());
    await publishEvent(bus, first);
    // The same event again under another message id: only the inbox can tell.
    await bus.publish(first.type, encodeEvent(first), { msgId: newId() });
    await publishEvent(bus, completed(newId()));
    // Another user's analysis event naming this chart changes nothing.
    await publishEvent(bus, completed(newId(), newId()));
    await eventually(
      async () => (await callRpc(bus, ChartGet, { userId, chartId })).chart.analysesCount === 2,
    );
    await new Promise((r) => setTimeout(r, 300));
    const listed = await callRpc(bus, ChartList, { userId, limit: 10, offset: 0 });
    expect(listed.charts).toMatchObject([{ id: chartId, analysesCount: 2 }]);
  });

  it('deletes a chart: image and row gone, chart.deleted announced for the purges of the other services', async () => {
    const userId = await pro();
    const { chartId } = await generate(userId, { symbol: 'BINANCE:BTCUSDT', interval: '1h' });
    const key = `users/${userId}/charts/${chartId}.png`;
    expect(await objects.get(key)).not.toBeNull();
    await callRpc(bus, ChartDelete, { userId, chartId });
    expect(await objects.get(key)).toBeNull();
    expect((await failure(callRpc(bus, ChartGet, { userId, chartId }))).code).toBe('NOT_FOUND');
    expect((await failure(callRpc(bus, ChartDelete, { userId, chartId }))).code).toBe('NOT_FOUND');
    const deleted = await eventually(() =>
      events.find((e) => e.type === 'chart.deleted' && (e.data as any).chartId === chartId),
    );
    expect(deleted.data).toEqual({ chartId, userId, objectKeys: [key] });
  });

  it("keeps one user's charts and templates from every other user", async () => {
    const a = await pro();
    const b = await pro();
    const { chartId } = await generate(a, { symbol: 'BINANCE:BTCUSDT', interval: '1h' });
    const t = await callRpc(bus, TemplateCreate, { userId: a, name: 'mine', config: sample as never });
    for (const call of [
      () => callRpc(bus, ChartGet, { userId: b, chartId }),
      () => callRpc(bus, ChartDelete, { userId: b, chartId }),
      () => callRpc(bus, TemplateGet, { userId: b, templateId: t.id }),
      () => callRpc(bus, TemplateDelete, { userId: b, templateId: t.id }),
      () => generate(b, { templateId: t.id }),
    ]) {
      const err = await failure(call());
      expect(err.code).toBe('NOT_FOUND');
    }
    expect((await callRpc(bus, ChartList, { userId: b, limit: 50, offset: 0 })).pagination.total).toBe(0);
    expect((await callRpc(bus, TemplateList, { userId: b, limit: 50, offset: 0 })).templates).toEqual([]);
    // Still there for the owner.
    expect((await callRpc(bus, ChartGet, { userId: a, chartId })).chart.id).toBe(chartId);
    expect((await callRpc(bus, TemplateGet, { userId: a, templateId: t.id })).name).toBe('mine');
    expect((await callRpc(bus, QuotaGet, { userId: b })).charts.used).toBe(0);
  });

  it('saves templates and generates from one with overrides', async () => {
    const userId = await pro();
    const t = await callRpc(bus, TemplateCreate, { userId, name: 'BTC 4h', config: sample as never });
    expect(t.config).toMatchObject({ symbol: 'BINANCE:BTCUSDT', theme: 'dark', width: 1200 });
    const dup = await failure(
      callRpc(bus, TemplateCreate, { userId, name: 'BTC 4h', config: sample as never }),
    );
    expect(dup.code).toBe('CONFLICT');
    await callRpc(bus, TemplateCreate, { userId, name: 'other', config: sample as never });
    const list = await callRpc(bus, TemplateList, { userId, limit: 1, offset: 0 });
    expect(list.pagination).toEqual({ total: 2, limit: 1, offset: 0, hasMore: true });

    const r = await generate(userId, {
      templateId: t.id,
      symbol: 'BINANCE:ETHUSDT',
      theme: 'light',
      width: 800,
      height: 450,
    });
    expect(r.metadata.resolution).toBe('800x450');
    const { chart } = await callRpc(bus, ChartGet, { userId, chartId: r.chartId });
    expect(chart.config).toMatchObject({
      symbol: 'BINANCE:ETHUSDT',
      interval: '4h',
      theme: 'light',
      studies: sample.studies,
      drawings: sample.drawings,
    });
    const bad = await failure(generate(userId, { templateId: t.id, width: 5 }));
    expect(bad.details).toMatchObject([{ field: 'width' }]);
    expect((await failure(generate(userId, { templateId: newId() }))).code).toBe('NOT_FOUND');

    await callRpc(bus, TemplateDelete, { userId, templateId: t.id });
    expect((await failure(callRpc(bus, TemplateGet, { userId, templateId: t.id }))).code).toBe('NOT_FOUND');
  });

  it('bulk-generates with a result per item: bad items and quota exhaustion fail alone', async () => {
    const userId = newId(); // free: 5 charts
    const ok = { symbol: 'BINANCE:BTCUSDT', interval: '1h', width: 400, height: 300 };
    const requests = [
      ok,
      { ...ok, studies: [{ name: 'Nope' }] },
      { ...ok, symbol: 'bad' },
      ...Array.from({ length: 5 }, () => ok),
    ];
    const r = await callRpc(bus, ChartBulkGenerate, { userId, requests }, { timeoutMs: 60_000 });
    expect(r.results.map((x) => x.index)).toEqual(requests.map((_, i) => i));
    expect(r.results[1]).toMatchObject({ success: false, error: { code: 'VALIDATION_ERROR' } });
    expect(r.results[2]).toMatchObject({
      success: false,
      error: { code: 'VALIDATION_ERROR', details: [{ field: 'symbol' }] },
    });
    const quotaFailures = r.results.filter((x) => !x.success && x.error.code === 'QUOTA_EXCEEDED');
    expect(quotaFailures).toHaveLength(1);
    expect(r.summary).toEqual({ requested: 8, succeeded: 5, failed: 3 });
    expect(r.quota).toEqual({ used: 5, limit: 5, remaining: 0 });
    expect((await callRpc(bus, ChartList, { userId, limit: 50, offset: 0 })).pagination.total).toBe(5);
  });

  it('answers a request made again under its idempotency key with the chart made first, charged once, even racing', async () => {
    const userId = newId(); // free: 5 charts
    const small = { symbol: 'BINANCE:ETHUSDT', interval: '1h', width: 400, height: 300 };
    const idempotencyKey = newId();
    const once = () =>
      callRpc(bus, ChartGenerate, { userId, request: small, idempotencyKey }, { timeoutMs: 30_000 });
    const [a, b, c] = await Promise.all([once(), once(), once()]);
    expect([b.chartId, c.chartId]).toEqual([a.chartId, a.chartId]);
    const again = await once();
    expect(again.chartId).toBe(a.chartId);
    expect(again.metadata).toEqual({ ...a.metadata, expiresAt: again.metadata.expiresAt });
    expect(again.quota).toEqual({ used: 1, limit: 5, remaining: 4 });
    expect((await callRpc(bus, ChartList, { userId, limit: 50, offset: 0 })).pagination.total).toBe(1);
    expect((await callRpc(bus, QuotaGet, { userId })).charts.used).toBe(1);
    // Bulk: each item has its own key, from the request's and its index.
    const key = newId();
    const items = () =>
      callRpc(
        bus,
        ChartBulkGenerate,
        { userId, requests: [small, small], idempotencyKey: key },
        { timeoutMs: 60_000 },
      );
    const first = await items();
    const second = await items();
    const ids = (r: typeof first) => r.results.map((x) => (x.success ? x.chart.chartId : x.error.code));
    expect(ids(second)).toEqual(ids(first));
    expect(new Set(ids(first)).size).toBe(2);
    expect((await callRpc(bus, QuotaGet, { userId })).charts.used).toBe(3);
  });

  describe('with chart-img.com configured', () => {
    let fake: FakeChartImg;
    const withChartImg = () =>
      startChartService({
        bus,
        database: tdb.target,
        logger,
        env: { ...env, CHART_IMG_API_KEY: 'k', CHART_IMG_BASE_URL: fake.url, CHART_IMG_PLAN: 'PRO' },
      });
    beforeAll(async () => {
      fake = await startFakeChartImg({ apiKey: 'k', plan: 'PRO' });
      await charts.stop();
      charts = await withChartImg();
    });
    afterAll(() => fake.close());

    it('renders there by default, keeps its CDN link and announces it for copying', async () => {
      const userId = await pro();
      const r = await generate(userId, { ...sample, width: 1200, height: 675 });
      expect(r.url).toMatch(/^https:\/\/r2\.chart-img\.com\//);
      expect(r.metadata).toMatchObject({ renderer: 'chart-img', synthetic: false, format: 'PNG' });
      expect(fake.requests.at(-1)!.body).toMatchObject({
        studies: [
          { name: 'Relative Strength Index', input: { length: 14 } },
          { name: 'Bollinger Bands', input: { in_0: 20, in_1: 2 } },
        ],
      });
      const generated = await eventually(() =>
        events.find((e) => e.type === 'chart.generated' && (e.data as any).chartId === r.chartId),
      );
      expect(generated.data).toMatchObject({ objectKey: null, externalUrl: r.url, renderer: 'chart-img' });
      const { chart, image } = await callRpc(bus, ChartGet, { userId, chartId: r.chartId });
      expect(chart).toMatchObject({ url: r.url, status: 'ready', permanentUrl: null });
      expect(image.externalUrl).toBe(r.url);
      const ready = await callRpc(bus, ChartList, { userId, limit: 10, offset: 0, status: 'ready' });
      expect(ready.charts.map((c) => c.id)).toEqual([r.chartId]);

      // storage-service copied it: from now on the image is ours, behind a signed link.
      const objectKey = `users/${userId}/charts/${r.chartId}.png`;
      await publishEvent(
        bus,
        makeEvent(
          ChartStored,
          {
            chartId: r.chartId,
            userId,
            objectKey,
            size: 10,
            sha256: 'a'.repeat(64),
            contentType: 'image/png',
          },
          { source: 'test' },
        ),
      );
      const stored = await eventually(async () => {
        const got = await callRpc(bus, ChartGet, { userId, chartId: r.chartId });
        return got.chart.status === 'stored' ? got : null;
      });
      expect(stored.chart.url).toContain(`https://api.example.test/v1/files/${objectKey}?expires=`);
      expect(stored.chart.permanentUrl).toBe(`https://api.example.test/v1/charts/${r.chartId}/image`);
      expect(stored.image).toMatchObject({ objectKey, externalUrl: r.url });

      // The built-in renderer stays available on request.
      const builtin = await generate(userId, { ...sample, renderer: 'builtin' });
      expect(builtin.metadata.renderer).toBe('builtin');
    });

    it('shows a chart-img.com chart as expired once its CDN link lapsed without a copy', async () => {
      const userId = await pro();
      const cdn = 'https://r2.chart-img.com/20250101/tradingview/advanced-chart/old.png';
      fake.script.push([
        200,
        { url: cdn, etag: '"old"', expire: new Date(Date.now() - 1_000).toISOString() },
      ]);
      const r = await generate(userId, sample);
      expect(r.metadata.expiresAt! < new Date().toISOString()).toBe(true);
      const expired = await callRpc(bus, ChartList, { userId, limit: 10, offset: 0, status: 'expired' });
      expect(expired.charts).toMatchObject([{ id: r.chartId, status: 'expired', url: cdn }]);
      expect(
        (await callRpc(bus, ChartList, { userId, limit: 10, offset: 0, status: 'ready' })).charts,
      ).toEqual([]);
    });

    it('gives the reservation back when chart-img.com fails, and maps its errors', async () => {
      const userId = await pro();
      // Tried three times (two retries), then reported.
      for (let i = 0; i < 3; i++) fake.script.push([500, { message: 'Something Went Wrong' }]);
      const err = await failure(generate(userId, sample));
      expect(err.code).toBe('UPSTREAM_ERROR');
      fake.script.push([422, { message: 'Invalid Symbol' }]);
      expect((await failure(generate(userId, sample))).details).toMatchObject([{ field: 'symbol' }]);
      const limit = await failure(generate(userId, { ...sample, width: 2048 }));
      expect(limit.message).toContain('Exceed Max Usage Resolution Limit (1920x1080)');
      expect((await callRpc(bus, QuotaGet, { userId })).charts.used).toBe(0);
    });

    it("keeps to the account's daily allowance across replicas and restarts, and says when it returns", async () => {
      // A second account, so this test's count starts at zero whatever ran before.
      const daily = await startFakeChartImg({ apiKey: 'daily-key', plan: 'PRO', perDay: 5 });
      const replica = (limit: string) =>
        startChartService({
          bus,
          database: tdb.target,
          logger,
          env: {
            ...env,
            CHART_IMG_API_KEY: 'daily-key',
            CHART_IMG_BASE_URL: daily.url,
            CHART_IMG_PLAN: 'PRO',
            CHART_IMG_DAILY_LIMIT: limit,
          },
        });
      await charts.stop();
      try {
        const userId = await pro();
        const a = await replica('3');
        for (let i = 0; i < 2; i++) await generate(userId, sample);
        await a.stop();
        // A fresh process knows what the first one used.
        const [b, c] = await Promise.all([replica('3'), replica('3')]);
        const results = await Promise.allSettled([generate(userId, sample), generate(userId, sample)]);
        expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
        const refused = (results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason;
        expect(refused).toMatchObject({ code: 'RATE_LIMIT_EXCEEDED' });
        expect(refused.message).toContain('3 charts a day');
        const midnight = new Date().setUTCHours(24, 0, 0, 0);
        const retry = (refused.details as { retryAfterSeconds: number }).retryAfterSeconds;
        expect(Math.abs(retry - (midnight - Date.now()) / 1000)).toBeLessThan(60);
        expect(daily.requests).toHaveLength(3);
        expect((await callRpc(bus, QuotaGet, { userId })).charts.used).toBe(3);
        await Promise.all([b.stop(), c.stop()]);

        // Configured above what chart-img.com allows: its own "Limit Exceeded" ends the day for all.
        const d = await replica('10');
        await generate(userId, sample);
        await generate(userId, sample);
        expect((await failure(generate(userId, sample))).code).toBe('RATE_LIMIT_EXCEEDED');
        expect((await failure(generate(userId, sample))).message).toContain('10 charts a day');
        expect(daily.requests).toHaveLength(6);
        await d.stop();
      } finally {
        await daily.close();
        charts = await withChartImg();
      }
    });
  });
  describe('with Binance market data', () => {
    let server: Server;
    const seen: string[] = [];
    let failing = false;
    beforeAll(async () => {
      server = createServer((req, res) => {
        const url = new URL(req.url ?? '/', 'http://x');
        seen.push(url.search);
        const json = (status: number, body: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        };
        if (failing) return json(503, { code: -1001, msg: 'Internal error' });
        if (url.searchParams.get('symbol') !== 'BTCUSDT')
          return json(400, { code: -1121, msg: 'Invalid symbol.' });
        const limit = Number(url.searchParams.get('limit'));
        const t0 = Date.UTC(2025, 0, 1);
        json(
          200,
          Array.from({ length: limit }, (_, i) => {
            const p = 40_000 + Math.sin(i / 9) * 800 + i * 5;
            return [
              t0 + i * 3_600_000,
              `${p}`,
              `${p + 120}`,
              `${p - 130}`,
              `${p + 30}`,
              '12.5',
              t0 + (i + 1) * 3_600_000 - 1,
            ];
          }),
        );
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      await charts.stop();
      charts = await startChartService({
        bus,
        database: tdb.target,
        logger,
        env: {
          ...env,
          MARKET_DATA: 'binance',
          BINANCE_BASE_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        },
      });
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    it('draws real bars (not synthetic), fetched once for charts of the same series', async () => {
      const userId = await pro();
      seen.length = 0;
      const a = await generate(userId, {
        symbol: 'BINANCE:BTCUSDT',
        interval: '1h',
        width: 400,
        height: 300,
      });
      const b = await generate(userId, { symbol: 'BINANCE:BTCUSDT', interval: '1h', theme: 'light' });
      expect(a.metadata.synthetic).toBe(false);
      expect(b.metadata.synthetic).toBe(false);
      expect(seen).toHaveLength(1);
      expect(seen[0]).toContain('interval=1h');
      const { chart } = await callRpc(bus, ChartGet, { userId, chartId: a.chartId });
      expect(chart.synthetic).toBe(false);
    });

    it('answers an unknown symbol or a failing exchange with a clear error and gives the quota back', async () => {
      const userId = await pro();
      const unknown = await failure(generate(userId, { symbol: 'BINANCE:NOPECOIN', interval: '1h' }));
      expect(unknown.code).toBe('VALIDATION_ERROR');
      expect(unknown.details).toMatchObject([{ field: 'symbol' }]);
      const other = await failure(generate(userId, { symbol: 'NASDAQ:AAPL', interval: '1h' }));
      expect(other.details).toMatchObject([{ field: 'symbol' }]);
      failing = true;
      try {
        const down = await failure(generate(userId, { symbol: 'BINANCE:BTCUSDT', interval: '4h' }));
        expect(down.code).toBe('UPSTREAM_ERROR');
      } finally {
        failing = false;
      }
      await eventually(async () => (await callRpc(bus, QuotaGet, { userId })).charts.used === 0);
      expect((await callRpc(bus, ChartList, { userId, limit: 10, offset: 0 })).pagination.total).toBe(0);
    });
  });

  describe('with MARKET_DATA=auto or file', () => {
    /** Another chart-service in place of the shared one for `body`, with `extra` env. */
    const replacing = async (extra: Record<string, string>, body: () => Promise<void>) => {
      const before = charts;
      await before.stop();
      const replica = await startChartService({
        bus,
        database: tdb.target,
        logger,
        env: { ...env, ...extra },
      });
      try {
        await body();
      } finally {
        await replica.stop();
        charts = await startChartService({ bus, database: tdb.target, logger, env });
      }
    };

    it('falls back to labelled synthetic bars when Binance cannot be reached, and says why', async () => {
      // Port 9 (discard) refuses the connection.
      await replacing({ MARKET_DATA: 'auto', BINANCE_BASE_URL: 'http://127.0.0.1:9' }, async () => {
        const answer = await generate(await pro(), { symbol: 'BINANCE:BTCUSDT', interval: '1h' });
        expect(answer.metadata.synthetic).toBe(true);
        expect(answer.warnings?.[0]).toMatch(
          /^Binance could not be reached \(.*\): the chart shows synthetic bars$/,
        );
      });
    });

    it('makes a set of charts all or none: one that cannot be drawn leaves no chart, image or quota used', async () => {
      const dir = path.resolve(import.meta.dirname, '../../../packages/market/test/fixtures/market');
      await replacing({ MARKET_DATA: 'file', MARKET_DATA_DIR: dir }, async () => {
        const userId = await pro();
        const set = (requests: Record<string, unknown>[]) =>
          callRpc(bus, ChartGenerateSet, { userId, requests }, { timeoutMs: 30_000 });
        const images = async () =>
          (await readdir(path.join(dataDir, 'objects'), { recursive: true })).filter(
            (f) => String(f).includes(userId) && String(f).endsWith('.png'),
          );
        // The first chart is drawn and uploaded before the second fails on its symbol.
        const err = await failure(
          set([
            { symbol: 'BINANCE:BTCUSDT', interval: '4h' },
            { symbol: 'BINANCE:NOPEUSDT', interval: '4h' },
          ]),
        );
        expect(err.code).toBe('VALIDATION_ERROR');
        expect(err.message).toContain('BINANCE:NOPEUSDT');
        expect((await callRpc(bus, ChartList, { userId, limit: 10, offset: 0 })).pagination.total).toBe(0);
        expect((await callRpc(bus, QuotaGet, { userId })).charts.used).toBe(0);
        expect(await images()).toEqual([]);

        const made = await set([
          { symbol: 'BINANCE:BTCUSDT', interval: '4h' },
          { symbol: 'BINANCE:BTCUSDT', interval: '1h' },
        ]);
        expect(made.charts).toHaveLength(2);
        // What each chart.generated says, for the caller to know the charts before the events.
        expect(made.generated.map((g) => [g.chartId, g.interval])).toEqual([
          [made.charts[0]!.chartId, '4h'],
          [made.charts[1]!.chartId, '1h'],
        ]);
        expect(made.generated[0]!.bars?.source).toBe('file:Binance_BTCUSDT_1h.csv');
        expect(made.charts.map((c) => c.quota.used)).toEqual([2, 2]);
        expect((await callRpc(bus, ChartList, { userId, limit: 10, offset: 0 })).pagination.total).toBe(2);
        expect(await images()).toHaveLength(2);
        // One reservation covers the set: every chart.generated names it.
        await eventually(
          () =>
            events.filter(
              (e) =>
                e.type === 'chart.generated' &&
                made.charts.some((c) => c.chartId === (e.data as any).chartId),
            ).length === 2,
        );
        const reservations = events
          .filter((e) => made.charts.some((c) => c.chartId === (e.data as any).chartId))
          .map((e) => (e.data as any).reservationId);
        expect(new Set(reservations).size).toBe(1);
        await eventually(async () => (await callRpc(bus, QuotaGet, { userId })).charts.used === 2);
      });
    });

    it('draws a historical chart up to end from the files, and refuses an end outside the data', async () => {
      const dir = path.resolve(import.meta.dirname, '../../../packages/market/test/fixtures/market');
      await replacing({ MARKET_DATA: 'file', MARKET_DATA_DIR: dir }, async () => {
        const userId = await pro();
        const answer = await generate(userId, {
          symbol: 'BINANCE:BTCUSDT',
          interval: '4h',
          end: '2020-11-21T10:30:00Z',
        });
        expect(answer.metadata.synthetic).toBe(false);
        expect(answer.warnings).toContain('Binance_BTCUSDT_1h.csv: 1h bars resampled to 4h');
        const made = () =>
          events.find((e) => e.type === 'chart.generated' && (e.data as any).chartId === answer.chartId);
        await eventually(async () => made() !== undefined);
        expect((made()!.data as any).bars).toMatchObject({
          source: 'file:Binance_BTCUSDT_1h.csv',
          to: '2020-11-21T08:00:00.000Z',
        });
        for (const [end, problem] of [
          ['2099-01-01T00:00:00Z', 'in the future'],
          ['2019-01-01T00:00:00Z', 'before the data of BINANCE:BTCUSDT starts'],
        ] as const) {
          const err = await failure(generate(userId, { symbol: 'BINANCE:BTCUSDT', interval: '1h', end }));
          expect(err.code).toBe('VALIDATION_ERROR');
          expect(err.details).toMatchObject([{ field: 'end' }]);
          expect(err.message).toContain(problem);
        }
        await eventually(async () => (await callRpc(bus, QuotaGet, { userId })).charts.used === 1);
      });
    });
  });
});
