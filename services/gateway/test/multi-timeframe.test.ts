import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { analysisService } from '@chartwright/analysis-service';
import { startChartService } from '@chartwright/chart-service';
import {
  AnalysisMultiTimeframeCompleted,
  type DataOf,
  MultiTimeframeCreate,
  QuotaSetPlan,
} from '@chartwright/contracts';
import { callRpc, createLogger, on, type Subscription, watchEvents } from '@chartwright/kit';
import { eventually, type TestBus, type TestDatabase, testEngines } from '@chartwright/kit/testing';
import { startStorageService } from '@chartwright/storage-service';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, signup, startHarness } from './harness.js';

const { pairs } = await testEngines(afterAll);

const HOUR = 3_600_000;
const STEP_MS = { '1h': HOUR, '4h': 4 * HOUR, '1D': 24 * HOUR } as const;
const END = Date.UTC(2025, 0, 1);

/**
 * 400 bars of a clean trend (up when `slope` > 0) with a small wave, as `time,open,high,low,close,volume`.
 * The built-in analyst reads these as LONG (up) or SHORT (down) on any interval.
 */
function trendCsv(slope: number, stepMs: number): string {
  const rows = ['time,open,high,low,close,volume'];
  let prev: number | undefined;
  for (let i = 0; i < 400; i++) {
    const close = 100 * Math.exp(slope * i) + Math.sin(i / 3) * 0.6;
    const open = prev ?? close;
    const time = new Date(END - (400 - i) * stepMs).toISOString();
    rows.push(
      [time, open, Math.max(open, close) + 0.3, Math.min(open, close) - 0.3, close, 1000]
        .map((v) => (typeof v === 'number' ? v.toFixed(4) : v))
        .join(','),
    );
    prev = close;
  }
  return `${rows.join('\n')}\n`;
}

describe.each(pairs)('multi-timeframe analysis over REST [%s]', (_name, db: TestDatabase, tb: TestBus) => {
  let h: Harness;
  let dir: string;
  const settled: DataOf<typeof AnalysisMultiTimeframeCompleted>[] = [];
  let watch: Subscription;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'gw-mtf-'));
    const market = path.join(dir, 'market');
    await mkdir(market);
    for (const interval of ['1h', '4h', '1D'] as const) {
      // UP rises on every interval; on MIX the lowest interval (1h) falls while 4h and 1D rise.
      await writeFile(path.join(market, `TEST_UPUSDT_${interval}.csv`), trendCsv(0.004, STEP_MS[interval]));
      const mixSlope = interval === '1h' ? -0.004 : 0.004;
      await writeFile(
        path.join(market, `TEST_MIXUSDT_${interval}.csv`),
        trendCsv(mixSlope, STEP_MS[interval]),
      );
    }
    h = await startHarness(
      tb.bus,
      db,
      {
        DATA_DIR: dir,
        SIGNING_SECRET: 'gateway-mtf-tests-signing-secret-32-bytes!!',
        PUBLIC_URL: 'https://api.chartwright.test',
        MARKET_DATA: 'file',
        MARKET_DATA_DIR: market,
        ANALYSIS_TMP_DIR: path.join(dir, 'tmp'),
        RATE_LIMIT_FREE_PER_MIN: '1000',
        // free: charts cover a run that analyses cannot; pro: the other way round.
        QUOTA_PLANS_JSON: JSON.stringify({
          free: { charts: 10, analyses: 3 },
          pro: { charts: 2, analyses: 50 },
        }),
      },
      [startStorageService, startChartService, analysisService()],
    );
    watch = await watchEvents(
      tb.bus,
      { stream: 'ANALYSES', filterSubject: AnalysisMultiTimeframeCompleted.type },
      [on(AnalysisMultiTimeframeCompleted, (e) => void settled.push(e.data))],
      createLogger('test', 'silent'),
    );
  }, 60_000);
  afterAll(async () => {
    await watch?.stop();
    await h?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const call = (token: string, method: 'GET' | 'POST', url: string, payload?: unknown, headers = {}) =>
    h.app.inject({
      method,
      url,
      payload: payload as never,
      headers: { authorization: `Bearer ${token}`, ...headers },
    });
  const quotaOf = async (token: string) => {
    const q = (await call(token, 'GET', '/v1/user/quota')).json().data.quota;
    return { charts: q.charts.used as number, analyses: q.analyses.used as number };
  };
  /** What the caller has: charts, analyses and runs. */
  const holdings = async (token: string) => ({
    charts: (await call(token, 'GET', '/v1/charts')).json().data.pagination.total,
    analyses: (await call(token, 'GET', '/v1/analyses')).json().data.pagination.total,
    runs: (await call(token, 'GET', '/v1/analyses/multi-timeframe')).json().data.pagination.total,
  });

  it('waits for three intervals that all rise: 200, LONG with agreement 1 and the 1h levels, charged 3 charts + 3 analyses', async () => {
    const { token } = await signup(h.app, `mtf-up-${Date.now()}@example.com`);
    const before = await quotaOf(token);
    const res = await call(token, 'POST', '/v1/analyses/multi-timeframe?wait=60', {
      symbol: 'TEST:UPUSDT',
      intervals: ['1D', '4h', '1h'],
      tradingStyle: 'swing_trading',
    });
    expect(res.statusCode, res.body).toBe(200);
    const run = res.json().data;
    expect(run.status).toBe('completed');
    expect(run.symbol).toBe('TEST:UPUSDT');
    expect(run.items.map((i: { interval: string }) => i.interval)).toEqual(['1D', '4h', '1h']);
    for (const item of run.items)
      expect(item).toMatchObject({ status: 'completed', trend: 'bullish', recommendation: 'LONG' });

    const h1 = run.items.find((i: { interval: string }) => i.interval === '1h');
    const h1Analysis = (await call(token, 'GET', `/v1/analyses/${h1.analysisId}`)).json().data.analysis;
    expect(h1Analysis.interval).toBe('1h');
    expect(h1Analysis.entryPrice).toEqual(expect.any(Number));
    expect(run.confluence).toMatchObject({
      recommendation: 'LONG',
      agreement: 1,
      alignedIntervals: ['1h', '4h', '1D'],
      entryPrice: h1Analysis.entryPrice,
      stopLoss: h1Analysis.stopLoss,
      takeProfit: h1Analysis.takeProfit,
      riskRewardRatio: h1Analysis.riskRewardRatio,
    });
    expect(run.confluence.summary).toContain('LONG');

    // Charged exactly: one chart and one analysis per interval.
    expect(await quotaOf(token)).toEqual({ charts: before.charts + 3, analyses: before.analyses + 3 });
    expect(run.quota.charts.used).toBe(before.charts + 3);
    expect(run.quota.analyses.used).toBe(before.analyses + 3);

    // Its charts and analyses are ordinary ones; the run is listed and readable.
    const charts = (await call(token, 'GET', '/v1/charts')).json().data.charts;
    expect(charts.map((c: { id: string }) => c.id).sort()).toEqual(
      run.items.map((i: { chartId: string }) => i.chartId).sort(),
    );
    const analyses = (await call(token, 'GET', '/v1/analyses')).json().data.analyses;
    expect(analyses.map((a: { id: string }) => a.id).sort()).toEqual(
      run.items.map((i: { analysisId: string }) => i.analysisId).sort(),
    );
    const list = (await call(token, 'GET', '/v1/analyses/multi-timeframe?limit=10')).json().data;
    expect(list.pagination).toEqual({ total: 1, limit: 10, offset: 0, hasMore: false });
    expect(list.runs[0]).toMatchObject({ id: run.id, status: 'completed', confluence: run.confluence });
    const got = await call(token, 'GET', `/v1/analyses/multi-timeframe/${run.id}`);
    expect(got.json().data).toMatchObject({ id: run.id, items: run.items, confluence: run.confluence });

    // The event says the same.
    const event = await eventually(() => settled.find((e) => e.runId === run.id), 10_000);
    expect(event).toMatchObject({ status: 'completed', symbol: 'TEST:UPUSDT', confluence: run.confluence });

    // Another user: 404, and an empty list.
    const other = await signup(h.app, `mtf-other-${Date.now()}@example.com`);
    const stranger = await call(other.token, 'GET', `/v1/analyses/multi-timeframe/${run.id}`);
    expect(stranger.statusCode).toBe(404);
    expect((await holdings(other.token)).runs).toBe(0);
  }, 90_000);

  it('answers 202 + Location with Prefer: respond-async; when the lowest interval disagrees, NEUTRAL without levels', async () => {
    const { token, user } = await signup(h.app, `mtf-mix-${Date.now()}@example.com`);
    await callRpc(tb.bus, QuotaSetPlan, { userId: user.id, plan: 'enterprise' });
    const body = { symbol: 'TEST:MIXUSDT', intervals: ['1h', '4h', '1D'] };
    const headers = { prefer: 'respond-async', 'idempotency-key': `mtf-${user.id}` };
    const res = await call(token, 'POST', '/v1/analyses/multi-timeframe', body, headers);
    expect(res.statusCode, res.body).toBe(202);
    expect(res.headers['preference-applied']).toBe('respond-async');
    const { id } = res.json().data;
    expect(res.headers.location).toBe(`/v1/analyses/multi-timeframe/${id}`);

    // A retry with the same key is the same run, charged once.
    const again = await call(token, 'POST', '/v1/analyses/multi-timeframe', body, headers);
    expect(again.json().data.id).toBe(id);

    const run = await eventually(async () => {
      const r = (await call(token, 'GET', String(res.headers.location))).json().data;
      return r.status === 'completed' && r;
    }, 60_000);
    expect(run.items.map((i: { recommendation: string }) => i.recommendation)).toEqual([
      'SHORT',
      'LONG',
      'LONG',
    ]);
    expect(run.confluence).toMatchObject({
      recommendation: 'NEUTRAL',
      agreement: 0.3333,
      alignedIntervals: ['1h'],
      entryPrice: null,
      stopLoss: null,
      takeProfit: null,
      riskRewardRatio: null,
    });
    expect(run.completedAt).toEqual(expect.any(String));
    expect(await quotaOf(token)).toEqual({ charts: 3, analyses: 3 });
  }, 90_000);

  it('answers 202 with wait=0; a retry with the same work id (a lost answer) is the same run and charts, charged once', async () => {
    const { token, user } = await signup(h.app, `mtf-key-${Date.now()}@example.com`);
    await callRpc(tb.bus, QuotaSetPlan, { userId: user.id, plan: 'enterprise' });
    const res = await call(token, 'POST', '/v1/analyses/multi-timeframe?wait=0', {
      symbol: 'TEST:UPUSDT',
      intervals: ['4h', '1h'],
    });
    expect(res.statusCode, res.body).toBe(202);
    expect(res.headers['preference-applied']).toBeUndefined();

    const create = () =>
      callRpc(tb.bus, MultiTimeframeCreate, {
        userId: user.id,
        request: { symbol: 'TEST:UPUSDT', intervals: ['1D', '4h'], tradingStyle: 'swing_trading' },
        idempotencyKey: 'work-1',
      });
    const first = await create();
    const again = await create();
    expect(again.id).toBe(first.id);
    expect(again.items.map((i) => i.chartId)).toEqual(first.items.map((i) => i.chartId));
    expect(await quotaOf(token)).toEqual({ charts: 4, analyses: 4 });
    await eventually(async () => (await holdings(token)).runs === 2);
    expect(await holdings(token)).toMatchObject({ charts: 4, analyses: 4 });
  }, 60_000);

  it('settles a run whose chart is deleted under it: that interval counts as failed, the run does not hang', async () => {
    const { token, user } = await signup(h.app, `mtf-del-${Date.now()}@example.com`);
    await callRpc(tb.bus, QuotaSetPlan, { userId: user.id, plan: 'enterprise' });
    const res = await call(
      token,
      'POST',
      '/v1/analyses/multi-timeframe',
      { symbol: 'TEST:UPUSDT', intervals: ['1h', '4h'] },
      { prefer: 'respond-async' },
    );
    expect(res.statusCode, res.body).toBe(202);
    const { id } = res.json().data;
    const started = (await call(token, 'GET', `/v1/analyses/multi-timeframe/${id}`)).json().data;
    const h4 = started.items.find((i: { interval: string }) => i.interval === '4h');
    const deleted = await h.app.inject({
      method: 'DELETE',
      url: `/v1/charts/${h4.chartId}`,
      headers: { authorization: `Bearer ${token}` },
    });
    expect(deleted.statusCode).toBe(200);
    // Whether its analysis had finished or not, the run settles and the 4h interval no longer agrees.
    const run = await eventually(async () => {
      const r = (await call(token, 'GET', `/v1/analyses/multi-timeframe/${id}`)).json().data;
      const item = r.items.find((i: { interval: string }) => i.interval === '4h');
      return r.status !== 'running' && item.status === 'failed' && r;
    }, 30_000);
    expect(run.status).toBe('completed');
    expect(run.items.find((i: { interval: string }) => i.interval === '1h').status).toBe('completed');
  }, 60_000);

  it('answers 402 and starts nothing when the analyses quota cannot cover every interval', async () => {
    // free: 10 charts would do, 3 analyses would not.
    const { token } = await signup(h.app, `mtf-402a-${Date.now()}@example.com`);
    const before = await quotaOf(token);
    const res = await call(token, 'POST', '/v1/analyses/multi-timeframe', {
      symbol: 'TEST:UPUSDT',
      intervals: ['1h', '4h', '1D', '1W'],
    });
    expect(res.statusCode, res.body).toBe(402);
    expect(res.json().error.code).toBe('QUOTA_EXCEEDED');
    expect(await quotaOf(token)).toEqual(before);
    expect(await holdings(token)).toEqual({ charts: 0, analyses: 0, runs: 0 });
  }, 60_000);

  it('answers 402 and starts nothing when the charts quota cannot cover every interval', async () => {
    // pro: 50 analyses would do, 2 charts would not; the analyses reserved first are given back.
    const { token, user } = await signup(h.app, `mtf-402c-${Date.now()}@example.com`);
    await callRpc(tb.bus, QuotaSetPlan, { userId: user.id, plan: 'pro' });
    const before = await quotaOf(token);
    const res = await call(token, 'POST', '/v1/analyses/multi-timeframe', {
      symbol: 'TEST:UPUSDT',
      intervals: ['1h', '4h', '1D'],
    });
    expect(res.statusCode, res.body).toBe(402);
    expect(res.json().error.code).toBe('QUOTA_EXCEEDED');
    expect(await quotaOf(token)).toEqual(before);
    expect(await holdings(token)).toEqual({ charts: 0, analyses: 0, runs: 0 });
  }, 60_000);

  it('refuses one interval, five, the same twice or an unknown study (400, nothing charged), and an id that is not a uuid', async () => {
    const { token } = await signup(h.app, `mtf-400-${Date.now()}@example.com`);
    for (const intervals of [['1h'], ['1h', '1h'], ['1m', '5m', '15m', '1h', '4h']]) {
      const res = await call(token, 'POST', '/v1/analyses/multi-timeframe', {
        symbol: 'TEST:UPUSDT',
        intervals,
      });
      expect(res.statusCode, JSON.stringify(intervals)).toBe(400);
    }
    expect((await call(token, 'GET', '/v1/analyses/multi-timeframe/nope')).statusCode).toBe(400);
    // Checked by chart-service after the analyses were reserved: they are given back.
    const study = await call(token, 'POST', '/v1/analyses/multi-timeframe', {
      symbol: 'TEST:UPUSDT',
      intervals: ['1h', '4h'],
      studies: [{ name: 'No Such Study' }],
    });
    expect(study.statusCode, study.body).toBe(400);
    expect(study.json().error.details).toMatchObject([{ field: 'studies.0.name' }]);
    expect(await quotaOf(token)).toEqual({ charts: 0, analyses: 0 });
    expect(await holdings(token)).toEqual({ charts: 0, analyses: 0, runs: 0 });
  });
});
