import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  AnalysisCompleted,
  AnalysisGet,
  AnalysisList,
  AnalysisListForChart,
  AnalysisProgressed,
  AnalysisRequest,
  AnalysisRequested,
  ChartConfig,
  ChartDeleted,
  ChartGet,
  ChartStored,
  type DataOf,
  QuotaGet,
  QuotaSetPlan,
} from '@chartwright/contracts';
import {
  callRpc,
  consumeEvents,
  createLogger,
  encodeEvent,
  handle,
  makeEvent,
  newId,
  on,
  openDatabase,
  publishEvent,
  type RunningService,
  ServiceError,
  type Subscription,
  watchEvents,
} from '@chartwright/kit';
import { chartGeneratedEvent, eventually, testEngines } from '@chartwright/kit/testing';
import { chartObjectKey, FolderObjectStore } from '@chartwright/object-store';
import { startQuotaService } from '@chartwright/quota-service';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Analyst,
  type AnalystAnswer,
  type AnalystInput,
  AnthropicAnalyst,
  BuiltinAnalyst,
} from '../src/analyst/index.js';
import type { AnalysisDb } from '../src/db/schema.js';
import { analysisService, sweepTempDir, tempImagePath } from '../src/index.js';
import { FakeAnthropic } from './support/fake-anthropic.js';

const { pairs } = await testEngines(afterAll);
const logger = createLogger('test', 'silent');

const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), randomBytes(512)]);

/** An analyst the tests can swap while the service runs. */
class SwitchableAnalyst implements Analyst {
  inner: Analyst = new BuiltinAnalyst();
  get model() {
    return this.inner.model;
  }
  analyse(input: AnalystInput, signal?: AbortSignal): Promise<AnalystAnswer> {
    return this.inner.analyse(input, signal);
  }
}

/** Holds every analysis until `open()`. */
class GateAnalyst implements Analyst {
  readonly model = 'gate';
  entered = 0;
  private release!: () => void;
  private readonly gate = new Promise<void>((r) => {
    this.release = r;
  });
  open() {
    this.release();
  }
  async analyse(input: AnalystInput): Promise<AnalystAnswer> {
    this.entered++;
    await this.gate;
    return new BuiltinAnalyst().analyse(input);
  }
}

const TOOL_INPUT = {
  trend: 'bullish',
  signals: ['RSI(14) 61'],
  recommendation: 'NEUTRAL',
  entryPrice: null,
  stopLoss: null,
  takeProfit: null,
  confidence: 5,
  analysisText: 'Mixed.',
  keyLevels: { support: [], resistance: [] },
};

describe.each(pairs)('analysis-service [%s]', (_name, tdb, tb) => {
  const services: RunningService[] = [];
  const analyst = new SwitchableAnalyst();
  let dataDir: string;
  let tmpDir: string;
  let objects: FolderObjectStore;
  let fake: FakeAnthropic;
  let completedSub: Subscription;
  let chartSub: Subscription;
  /** The charts chart-service would know. */
  const charts = new Map<string, { userId: string; objectKey: string }>();
  const completed = new Map<string, number>();
  const completedEvents = new Map<string, DataOf<typeof AnalysisCompleted>>();
  const db = openDatabase<AnalysisDb>(tdb.target, 'analysis');

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'analysis-svc-'));
    tmpDir = path.join(dataDir, 'tmp');
    objects = new FolderObjectStore(path.join(dataDir, 'objects'));
    fake = await FakeAnthropic.start({ apiKey: 'sk-test' });
    const env = {
      ANALYSIS_TMP_DIR: tmpDir,
      ANALYSIS_ACK_WAIT_MS: '3000',
      ANALYSIS_MAX_ATTEMPTS: '3',
      // Wide enough that a chart announced 150 ms late is known before the last attempt, even on a
      // loaded machine (at 50,100 the last attempt came at ~150 ms, racing the announcement).
      ANALYSIS_RETRY_BACKOFF_MS: '200,400',
      ANALYSIS_SWEEP_INTERVAL_MS: '100',
      MARKET_DATA: 'synthetic',
    };
    const rt = { bus: tb.bus, database: tdb.target, logger, env };
    services.push(await startQuotaService(rt));
    services.push(await analysisService({ objects, analyst })(rt));
    // An internal team's consumer of the public event, counting results per analysis.
    completedSub = await consumeEvents(
      tb.bus,
      { stream: 'ANALYSES', durable: 'test-completed', filterSubject: 'analysis.completed' },
      [
        on(AnalysisCompleted, (e) => {
          completed.set(e.data.analysisId, (completed.get(e.data.analysisId) ?? 0) + 1);
          completedEvents.set(e.data.analysisId, e.data);
        }),
      ],
      logger,
    );
    // chart-service's answer about a chart, for requests that come before its chart.generated.
    chartSub = await handle(ChartGet, async (req) => {
      const c = charts.get(req.chartId);
      if (!c || c.userId !== req.userId) throw new ServiceError('NOT_FOUND', 'Chart not found');
      const at = new Date().toISOString();
      return {
        chart: {
          id: req.chartId,
          symbol: 'BINANCE:BTCUSDT',
          interval: '4h',
          url: 'https://example.test/chart.png',
          status: 'stored' as const,
          renderer: 'builtin' as const,
          synthetic: true,
          createdAt: at,
          expiresAt: null,
          analysesCount: 0,
          range: '3M',
          config: ChartConfig.parse({ symbol: 'BINANCE:BTCUSDT', interval: '4h', range: '3M' }),
          format: 'png' as const,
          width: 1200,
          height: 675,
          permanentUrl: null,
        },
        image: { objectKey: c.objectKey, externalUrl: null, contentType: 'image/png' },
      };
    }).serve(tb.bus, 'chart-service', logger);
  });
  afterAll(async () => {
    await chartSub?.stop();
    await completedSub?.stop();
    for (const s of services.reverse()) await s.stop();
    await db.destroy();
    await fake?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function user(plan: 'free' | 'pro' = 'pro') {
    const userId = newId();
    await callRpc(tb.bus, QuotaSetPlan, { userId, plan });
    return userId;
  }

  async function chart(userId: string, opts: { publish?: boolean } = {}) {
    const chartId = newId();
    const objectKey = chartObjectKey(userId, chartId, 'png');
    await objects.put(objectKey, PNG, 'image/png');
    const event = chartGeneratedEvent({
      chartId,
      userId,
      objectKey,
      size: PNG.length,
      symbol: 'BINANCE:BTCUSDT',
      interval: '4h',
      range: '3M',
      source: 'test',
    });
    charts.set(chartId, { userId, objectKey });
    const known = async () =>
      (await db.db
        .selectFrom('known_charts')
        .select('chart_id')
        .where('chart_id', '=', chartId)
        .executeTakeFirst()) !== undefined;
    const publish = () => publishEvent(tb.bus, event);
    if (opts.publish !== false) {
      await publish();
      await eventually(known);
    }
    return { chartId, publish };
  }

  const request = (userId: string, chartId: string, options = {}) =>
    callRpc(tb.bus, AnalysisRequest, {
      userId,
      chartId,
      prompt: 'Entry?',
      options: { includeRiskManagement: true, tradingStyle: 'swing_trading', ...options },
    });
  /** The analysis once finished (its outcome event is what the gateway waits on; here, the record). */
  const done = (userId: string, analysisId: string) =>
    eventually(async () => {
      const r = await callRpc(tb.bus, AnalysisGet, { userId, analysisId });
      return r.status === 'completed' || r.status === 'failed' ? r : null;
    }, 15_000);
  const used = async (userId: string) => (await callRpc(tb.bus, QuotaGet, { userId })).analyses.used;
  const tempFiles = () => readdir(tmpDir);

  it('analyses a chart with the built-in analyst: grounded result, one completed event, quota charged once', async () => {
    analyst.inner = new BuiltinAnalyst();
    const userId = await user();
    const { chartId } = await chart(userId);
    const accepted = await request(userId, chartId);
    expect(accepted).toMatchObject({ status: 'queued', quota: { used: 1, limit: 50, remaining: 49 } });

    const record = await done(userId, accepted.analysisId);
    expect(record.status).toBe('completed');
    expect(record.metadata).toMatchObject({ model: 'chartwright-technical-v1', tokensUsed: 0 });
    expect(record.result!.signals.some((s) => s.startsWith('RSI(14)'))).toBe(true);
    expect(record.downloadingAt && record.analysingAt && record.completedAt).toBeTruthy();
    if (record.result!.recommendation !== 'NEUTRAL') expect(record.result!.riskRewardRatio).not.toBeNull();
    expect(await tempFiles()).toEqual([]);

    await eventually(() => completed.get(accepted.analysisId) === 1);
    expect(await used(userId)).toBe(1);
    // The event names the style and the bars read, which outcome tracking follows.
    expect(completedEvents.get(accepted.analysisId)).toMatchObject({
      tradingStyle: 'swing_trading',
      bars: { synthetic: true, count: expect.any(Number) },
    });

    // A redelivered request (same event, new message id) changes nothing.
    const row = await db.db
      .selectFrom('analyses')
      .selectAll()
      .where('id', '=', accepted.analysisId)
      .executeTakeFirstOrThrow();
    const again = makeEvent(
      AnalysisRequested,
      {
        analysisId: row.id,
        chartId,
        userId,
        reservationId: row.reservation_id,
        prompt: row.prompt,
        tradingStyle: row.trading_style,
        includeRiskManagement: true,
        confidenceThreshold: null,
      },
      { source: 'test' },
    );
    await tb.bus.publish('analysis.requested', encodeEvent(again), { msgId: newId() });
    await new Promise((r) => setTimeout(r, 500));
    const after = await callRpc(tb.bus, AnalysisGet, { userId, analysisId: row.id });
    expect(after.completedAt).toBe(record.completedAt);
    expect(completed.get(accepted.analysisId)).toBe(1);
    expect(await used(userId)).toBe(1);

    const list = await callRpc(tb.bus, AnalysisList, { userId, chartId, limit: 10, offset: 0 });
    expect(list.total).toBe(1);
    expect(list.analyses[0]).toMatchObject({ id: row.id, status: 'completed' });
    const forChart = await callRpc(tb.bus, AnalysisListForChart, { userId, chartId, limit: 5 });
    expect(forChart.analyses).toHaveLength(1);
  });

  it('keeps a chart.stored that arrives before its chart.generated', async () => {
    const userId = await user();
    const { chartId, publish } = await chart(userId, { publish: false });
    const copy = `users/${userId}/charts/${chartId}-copy.png`;
    await publishEvent(
      tb.bus,
      makeEvent(
        ChartStored,
        { chartId, userId, objectKey: copy, size: 10, sha256: 'a'.repeat(64), contentType: 'image/png' },
        { source: 'test' },
      ),
    );
    await new Promise((r) => setTimeout(r, 300));
    await publish();
    const known = () =>
      db.db
        .selectFrom('known_charts')
        .select('object_key')
        .where('chart_id', '=', chartId)
        .executeTakeFirst();
    await eventually(async () => (await known())?.object_key === copy, 20_000);
  });

  it("answers NOT_FOUND for another user's chart and an unknown one, and accepts a chart still on its way", async () => {
    const owner = await user();
    const other = await user();
    const { chartId } = await chart(owner);
    await eventually(async () => (await request(owner, chartId).catch(() => null)) !== null);
    await expect(request(other, chartId)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(callRpc(tb.bus, AnalysisGet, { userId: other, analysisId: newId() })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await expect(request(owner, newId())).rejects.toMatchObject({ code: 'NOT_FOUND' });

    // chart-service knows it; its chart.generated comes later: the job waits for it.
    const late = await chart(owner, { publish: false });
    await expect(request(other, late.chartId)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const accepted = await request(owner, late.chartId);
    expect(accepted.status).toBe('queued');
    setTimeout(() => void late.publish(), 150);
    expect((await done(owner, accepted.analysisId)).status).toBe('completed');
    expect(await used(other)).toBe(0);
  });

  it('refuses with QUOTA_EXCEEDED when the plan is used up', async () => {
    const userId = await user('free');
    const { chartId } = await chart(userId);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const a = await eventually(() => request(userId, chartId).catch(() => null));
      ids.push(a.analysisId);
    }
    await expect(request(userId, chartId)).rejects.toMatchObject({
      code: 'QUOTA_EXCEEDED',
      details: { quota: { used: 3, limit: 3, remaining: 0 } },
    });
    for (const id of ids) expect((await done(userId, id)).status).toBe('completed');
  });

  it('retries transient model errors, fails permanent ones at once, and gives up after the bound', async () => {
    analyst.inner = new AnthropicAnalyst({
      apiKey: 'sk-test',
      baseURL: fake.url,
      maxRetries: 0,
      timeoutMs: 5_000,
    });
    const userId = await user();
    const { chartId } = await chart(userId);
    await eventually(
      async () =>
        (await db.db
          .selectFrom('known_charts')
          .select('chart_id')
          .where('chart_id', '=', chartId)
          .executeTakeFirst()) !== undefined,
    );
    try {
      fake.reset();
      fake.enqueue(
        { kind: 'error', status: 529 },
        { kind: 'error', status: 500 },
        { kind: 'tool', input: TOOL_INPUT },
      );
      const ok = await request(userId, chartId);
      const r1 = await done(userId, ok.analysisId);
      expect(r1.status).toBe('completed');
      expect(r1.metadata).toMatchObject({ model: 'claude-sonnet-5-5', tokensUsed: 1900 });
      expect(fake.requests).toHaveLength(3);
      // The model got the image and the readings.
      const content = fake.requests[2]!.body.messages[0].content;
      expect(content[0]).toMatchObject({ type: 'image', source: { data: PNG.toString('base64') } });
      expect(content[1].text).toContain('RSI(14)');

      fake.reset();
      fake.setDefault({ kind: 'error', status: 500 });
      const bad = await request(userId, chartId);
      const r2 = await done(userId, bad.analysisId);
      expect(r2.status).toBe('failed');
      expect(r2.error!.code).toBe('UPSTREAM_ERROR');
      expect(r2.error!.reason).toMatch(/gave up after 3 attempts/);
      expect(fake.requests).toHaveLength(3);

      fake.reset();
      fake.enqueue({ kind: 'error', status: 401 });
      const auth = await request(userId, chartId);
      const r3 = await done(userId, auth.analysisId);
      expect(r3.error!.code).toBe('AUTH');
      expect(fake.requests).toHaveLength(1);

      // Failed analyses give their quota back; the completed one keeps it.
      await eventually(async () => (await used(userId)) === 1);
      expect(await tempFiles()).toEqual([]);
    } finally {
      fake.setDefault(undefined);
      analyst.inner = new BuiltinAnalyst();
    }
  });

  it('answers at once, then tells progress and the outcome by events any watcher sees', async () => {
    analyst.inner = new BuiltinAnalyst();
    const userId = await user();
    const { chartId } = await chart(userId);
    const seen: string[] = [];
    const watch = await watchEvents(
      tb.bus,
      { stream: 'ANALYSES', filterSubject: 'analysis.>' },
      [
        on(AnalysisProgressed, (e) => void seen.push(`${e.data.analysisId}:${e.data.status}`)),
        on(AnalysisCompleted, (e) => void seen.push(`${e.data.analysisId}:completed`)),
      ],
      logger,
    );
    try {
      const answer = await request(userId, chartId, { tradingStyle: 'day_trading' });
      expect(answer).toMatchObject({ status: 'queued', quota: { used: 1 } });
      const id = answer.analysisId;
      await eventually(() => seen.includes(`${id}:completed`));
      expect(seen.filter((s) => s.startsWith(id))).toEqual([
        `${id}:downloading`,
        `${id}:analysing`,
        `${id}:completed`,
      ]);
    } finally {
      await watch.stop();
    }
  });

  it('answers a request made again under its idempotency key with the analysis made first, charged once, even racing', async () => {
    analyst.inner = new BuiltinAnalyst();
    const userId = await user();
    const { chartId } = await chart(userId);
    const idempotencyKey = newId();
    const once = () =>
      callRpc(tb.bus, AnalysisRequest, {
        userId,
        chartId,
        options: { tradingStyle: 'swing_trading' },
        idempotencyKey,
      });
    const [a, b, c] = await Promise.all([once(), once(), once()]);
    expect([b.analysisId, c.analysisId]).toEqual([a.analysisId, a.analysisId]);
    // Made again once it is done: the same analysis, with its final status.
    await eventually(() => completed.get(a.analysisId) === 1);
    const again = await once();
    expect(again).toMatchObject({ analysisId: a.analysisId, status: 'completed', quota: { used: 1 } });
    await eventually(() => completed.get(a.analysisId) === 1);
    expect(await used(userId)).toBe(1);
    const all = await callRpc(tb.bus, AnalysisList, { userId, limit: 10, offset: 0 });
    expect(all.total).toBe(1);
  });

  it('fails an analysis whose last delivery died, gives its quota back and ignores a late result', async () => {
    const gate = new GateAnalyst();
    analyst.inner = gate;
    const userId = await user();
    const { chartId } = await chart(userId);
    const a = await eventually(() => request(userId, chartId).catch(() => null));
    await eventually(() => gate.entered === 1);
    expect(await used(userId)).toBe(1);
    // As if this were the last delivery JetStream allows (3 attempts + 3), claimed an hour ago
    // by a process that died: nothing would ever finish it.
    await db.db
      .updateTable('analyses')
      .set({ attempts: 6, claimed_at: new Date(Date.now() - 3_600_000) })
      .where('id', '=', a.analysisId)
      .execute();
    expect(await done(userId, a.analysisId)).toMatchObject({
      status: 'failed',
      error: { code: 'ABANDONED' },
    });
    await eventually(async () => (await used(userId)) === 0);

    gate.open();
    await eventually(async () => (await tempFiles()).length === 0);
    await new Promise((r) => setTimeout(r, 300));
    expect(completed.get(a.analysisId)).toBeUndefined();
    expect((await callRpc(tb.bus, AnalysisGet, { userId, analysisId: a.analysisId })).status).toBe('failed');
    analyst.inner = new BuiltinAnalyst();
  });

  it('purges a chart on chart.deleted: analyses deleted, the running one fails and is refunded, idempotent and by owner only', async () => {
    const gate = new GateAnalyst();
    analyst.inner = gate;
    const userId = await user();
    const other = await user();
    const { chartId } = await chart(userId);
    const first = await eventually(() => request(userId, chartId).catch(() => null));
    await eventually(() => gate.entered === 1);
    expect(await used(userId)).toBe(1);

    const deleteChart = async (owner: string) => {
      const e = makeEvent(ChartDeleted, { chartId, userId: owner, objectKeys: [] }, { source: 'test' });
      await publishEvent(tb.bus, e);
      await eventually(
        async () =>
          (await db.db
            .selectFrom('inbox')
            .select('event_id')
            .where('consumer', '=', 'analysis-charts')
            .where('event_id', '=', e.id)
            .executeTakeFirst()) !== undefined,
      );
    };
    await deleteChart(other);
    expect((await callRpc(tb.bus, AnalysisGet, { userId, analysisId: first.analysisId })).chartId).toBe(
      chartId,
    );
    await deleteChart(userId);
    await deleteChart(userId);
    await expect(
      callRpc(tb.bus, AnalysisGet, { userId, analysisId: first.analysisId }),
    ).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await eventually(async () => (await used(userId)) === 0);
    await expect(request(userId, chartId)).rejects.toMatchObject({ code: 'NOT_FOUND' });

    gate.open();
    await new Promise((r) => setTimeout(r, 300));
    expect(completed.get(first.analysisId)).toBeUndefined();
    expect(await tempFiles()).toEqual([]);
    analyst.inner = new BuiltinAnalyst();

    // chart.deleted does the same.
    const second = await chart(userId);
    const a = await eventually(() => request(userId, second.chartId).catch(() => null));
    expect((await done(userId, a.analysisId)).status).toBe('completed');
    await publishEvent(
      tb.bus,
      makeEvent(ChartDeleted, { chartId: second.chartId, userId, objectKeys: [] }, { source: 'test' }),
    );
    await eventually(async () =>
      callRpc(tb.bus, AnalysisGet, { userId, analysisId: a.analysisId }).then(
        () => false,
        (err) => err.code === 'NOT_FOUND',
      ),
    );
    // A late chart.generated redelivery does not bring it back.
    await second.publish();
    await new Promise((r) => setTimeout(r, 200));
    await expect(request(userId, second.chartId)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('temp file sweep', () => {
  it("removes leftovers of dead processes and earlier incarnations, keeps live processes' files", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'sweep-'));
    try {
      const mine = tempImagePath(dir, newId(), 'png');
      const names = [
        'analysis-2147483646-0badc0de-x.png', // no such pid
        `analysis-${process.pid}-00000000-x.png`, // this pid, an earlier process
        '.analysis-2147483646-0badc0de-x.png.1234.part',
        'analysis-1-0badc0de-x.png', // pid 1 is alive
      ];
      for (const n of names) await writeFile(path.join(dir, n), 'x');
      await writeFile(mine, 'x');
      const removed = await sweepTempDir(dir);
      expect(removed.sort()).toEqual(names.slice(0, 3).sort());
      expect((await readdir(dir)).sort()).toEqual([path.basename(mine), 'analysis-1-0badc0de-x.png'].sort());
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
