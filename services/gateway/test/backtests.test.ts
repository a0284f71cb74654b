import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { analysisService } from '@chartwright/analysis-service';
import { AnthropicAnalyst } from '@chartwright/analysis-service/analyst';
import { startChartService } from '@chartwright/chart-service';
import { eventually, testEngines } from '@chartwright/kit/testing';
import { FileProvider, intervalMs } from '@chartwright/market';
import { XMLValidator } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replayBuiltin } from '../../analysis-service/src/backtest/replay.js';
import { FakeAnthropic } from '../../analysis-service/test/support/fake-anthropic.js';
import { type Harness, signup, startHarness } from './harness.js';

const { pairs } = await testEngines(afterAll);
// Real hourly bars cut from the shipped files (the repository's own copy: CI may clone it anywhere).
const MARKET = path.resolve(import.meta.dirname, '../../../packages/market/test/fixtures/history');
const SYMBOL = 'BINANCE:BTCUSDT';
/** A month of hourly bars every 12 bars: about 60 steps of the built-in analyst. */
const SPAN = {
  symbol: SYMBOL,
  interval: '1h',
  from: '2020-01-01T00:00:00Z',
  to: '2020-02-01T00:00:00Z',
  step: 12,
};

const TOOL_INPUT = {
  trend: 'neutral',
  signals: ['RSI(14) 50'],
  recommendation: 'NEUTRAL',
  entryPrice: null,
  stopLoss: null,
  takeProfit: null,
  confidence: 5,
  analysisText: 'Range.',
  keyLevels: { support: [], resistance: [] },
};

interface SseEvent {
  event: string;
  data: { backtestId: string; status: string; done: number; total: number };
}
const parseSse = (body: string): SseEvent[] =>
  body
    .split('\n\n')
    .filter((block) => block.includes('data: '))
    .map((block) => {
      const lines = block.split('\n');
      const event = lines.find((l) => l.startsWith('event: '))!.slice(7);
      return { event, data: JSON.parse(lines.find((l) => l.startsWith('data: '))!.slice(6)) };
    });

describe.each(pairs)('backtests over REST [%s]', (_name, db, tb) => {
  let h: Harness;
  let dataDir: string;
  let fake: FakeAnthropic;
  let alice: { token: string; user: { id: string } };
  let bob: { token: string; user: { id: string } };

  const call = (
    who: { token: string },
    method: 'GET' | 'POST' | 'DELETE',
    url: string,
    payload?: unknown,
    headers: Record<string, string> = {},
  ) =>
    h.app.inject({
      method,
      url,
      payload: payload as never,
      headers: { authorization: `Bearer ${who.token}`, ...headers },
    });
  const finished = (who: { token: string }, id: string) =>
    eventually(
      async () => {
        const b = (await call(who, 'GET', `/v1/backtests/${id}`)).json().data;
        return ['completed', 'failed', 'cancelled'].includes(b.status) ? b : undefined;
      },
      60_000,
      100,
    );
  const quotaUsed = async (who: { token: string }) =>
    (await call(who, 'GET', '/v1/user/quota')).json().data.quota.analyses.used as number;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'cw-gw-backtests-'));
    fake = await FakeAnthropic.start({
      apiKey: 'sk-test',
      defaultReply: { kind: 'tool', input: TOOL_INPUT },
    });
    h = await startHarness(
      tb.bus,
      db,
      {
        DATA_DIR: dataDir,
        MARKET_DATA: 'file',
        MARKET_DATA_DIR: MARKET,
        ANALYSIS_TMP_DIR: path.join(dataDir, 'tmp'),
        QUOTA_PLANS_JSON: JSON.stringify({ free: { analyses: 12 } }),
        BACKTEST_POLL_MS: '200',
        RATE_LIMIT_FREE_PER_MIN: '100000',
      },
      [
        startChartService,
        analysisService({
          analyst: new AnthropicAnalyst({
            apiKey: 'sk-test',
            baseURL: fake.url,
            maxRetries: 0,
            timeoutMs: 5_000,
          }),
        }),
      ],
    );
    alice = await signup(h.app, 'backtest-alice@example.com');
    bob = await signup(h.app, 'backtest-bob@example.com');
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    await fake?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('runs the built-in analyst to the same trades as the in-process replay, with consistent scorecard, SSE and equity', async () => {
    const before = await quotaUsed(alice);
    const res = await call(alice, 'POST', '/v1/backtests', { ...SPAN, analyst: 'builtin' });
    expect(res.statusCode).toBe(202);
    const created = res.json().data;
    expect(res.headers.location).toBe(`/v1/backtests/${created.id}`);
    expect(created).toMatchObject({ status: 'queued', analyst: 'builtin', progress: { done: 0 } });
    expect(created.progress.total).toBeGreaterThan(50);

    // The stream ends when the backtest finishes; progress only moves forward.
    const sse = await call(alice, 'GET', `/v1/backtests/${created.id}/events`);
    expect(sse.headers['content-type']).toContain('text/event-stream');
    const events = parseSse(sse.body);
    expect(events.length).toBeGreaterThanOrEqual(1);
    const last = events[events.length - 1]!;
    expect(last.event).toBe('completed');
    expect(last.data).toMatchObject({ backtestId: created.id, done: created.progress.total });
    for (let i = 1; i < events.length; i++)
      expect(events[i]!.data.done).toBeGreaterThanOrEqual(events[i - 1]!.data.done);

    const b = (await call(alice, 'GET', `/v1/backtests/${created.id}`)).json().data;
    expect(b.status).toBe('completed');
    expect(b.trades).toHaveLength(b.progress.total);
    expect(b.analysesCharged).toBe(1);

    // The same parameters replayed in process give the same trades and baselines.
    const iv = intervalMs('1h');
    const from = Date.parse(SPAN.from);
    const to = Date.parse(SPAN.to);
    const { bars } = await new FileProvider(MARKET).getBars({
      symbol: SYMBOL,
      interval: '1h',
      start: from - 500 * iv,
      end: to + 100 * iv,
      limit: 50_000,
    });
    const replay = await replayBuiltin({
      bars,
      symbol: SYMBOL,
      interval: '1h',
      from,
      to,
      step: SPAN.step,
      seed: b.baselines.random.seed,
    });
    expect(
      b.trades.map((t: Record<string, unknown>) => [
        t.at,
        t.recommendation,
        t.entryPrice,
        t.stopLoss,
        t.takeProfit,
        t.confidence,
        t.outcome,
        t.rMultiple,
      ]),
    ).toEqual(
      replay.trades.map((t) => [
        new Date(t.at).toISOString(),
        t.recommendation,
        t.entryPrice,
        t.stopLoss,
        t.takeProfit,
        t.confidence,
        t.outcome.status,
        t.outcome.rMultiple,
      ]),
    );
    expect(b.scorecard).toEqual(replay.scorecard);
    expect(b.baselines.random).toEqual(replay.random);
    expect(b.baselines.buyAndHold.return).toBeCloseTo(replay.buyAndHoldReturn, 12);

    // The scorecard agrees with the trades.
    const c = b.scorecard;
    expect(c.signals).toBe(b.trades.length);
    expect(c.wins + c.losses + c.expired).toBe(c.resolved - c.noTrade);
    const rs = b.trades.flatMap((t: { outcome: string; rMultiple: number | null }) =>
      t.outcome !== 'open' && t.rMultiple !== null ? [t.rMultiple] : [],
    );
    expect(rs.length).toBeGreaterThan(0);
    expect(c.avgR).toBeCloseTo(rs.reduce((s: number, r: number) => s + r, 0) / rs.length, 10);
    // Random baseline: same number of trades and side mix.
    const traded = b.trades.filter(
      (t: { recommendation: string; entryPrice: number | null }) =>
        t.recommendation !== 'NEUTRAL' && t.entryPrice !== null,
    );
    expect(b.baselines.random.scorecard.signals).toBe(traded.length);
    expect(b.baselines.random.scorecard.longShare).toBe(c.longShare);

    // One analysis charged, once quota-service has settled the reservation.
    await eventually(async () => (await quotaUsed(alice)) === before + 1);

    const png = await call(alice, 'GET', `/v1/backtests/${created.id}/equity?format=png`);
    expect(png.statusCode).toBe(200);
    expect(png.headers['content-type']).toBe('image/png');
    expect(png.rawPayload.subarray(0, 8)).toEqual(
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    );
    const svg = await call(alice, 'GET', `/v1/backtests/${created.id}/equity?format=svg`);
    expect(svg.statusCode).toBe(200);
    expect(svg.headers['content-type']).toContain('image/svg+xml');
    expect(XMLValidator.validate(svg.body)).toBe(true);
    expect(svg.body).toContain('Equity (R)');

    // Another user's id is 404 everywhere.
    for (const [method, url] of [
      ['GET', `/v1/backtests/${created.id}`],
      ['GET', `/v1/backtests/${created.id}/events`],
      ['GET', `/v1/backtests/${created.id}/equity`],
      ['POST', `/v1/backtests/${created.id}/cancel`],
      ['DELETE', `/v1/backtests/${created.id}`],
    ] as const)
      expect((await call(bob, method, url)).statusCode).toBe(404);

    const list = (await call(alice, 'GET', '/v1/backtests?limit=10')).json().data;
    expect(list.backtests.map((x: { id: string }) => x.id)).toContain(created.id);
    expect(list.pagination).toMatchObject({ limit: 10, offset: 0 });
    expect((await call(bob, 'GET', '/v1/backtests')).json().data.backtests).toEqual([]);

    expect((await call(alice, 'DELETE', `/v1/backtests/${created.id}`)).statusCode).toBe(200);
    expect((await call(alice, 'GET', `/v1/backtests/${created.id}`)).statusCode).toBe(404);
  }, 120_000);

  it('streams progress while a longer backtest runs, then its end', async () => {
    const res = await call(bob, 'POST', '/v1/backtests', {
      ...SPAN,
      from: '2020-03-01T00:00:00Z',
      to: '2020-05-01T00:00:00Z',
      step: 1,
      analyst: 'builtin',
    });
    expect(res.statusCode).toBe(202);
    const { id, progress } = res.json().data;
    const events = parseSse((await call(bob, 'GET', `/v1/backtests/${id}/events`)).body);
    const running = events.filter((e) => e.event === 'running');
    expect(running.length, JSON.stringify(events)).toBeGreaterThanOrEqual(1);
    expect(running.some((e) => e.data.done > 0 && e.data.done < progress.total)).toBe(true);
    expect(events.at(-1)).toMatchObject({ event: 'completed', data: { done: progress.total } });
    expect((await call(bob, 'DELETE', `/v1/backtests/${id}`)).statusCode).toBe(200);
  }, 60_000);

  it('cancels a running backtest, keeping its trades so far; a repeat with the same Idempotency-Key makes none', async () => {
    const body = {
      ...SPAN,
      from: '2020-01-01T00:00:00Z',
      to: '2020-06-01T00:00:00Z',
      step: 1,
      analyst: 'builtin',
    };
    const key = { 'idempotency-key': `bt-${Date.now()}` };
    const before = await quotaUsed(bob);
    const res = await call(bob, 'POST', '/v1/backtests', body, key);
    expect(res.statusCode).toBe(202);
    const { id, progress } = res.json().data;
    const again = await call(bob, 'POST', '/v1/backtests', body, key);
    expect(again.json().data.id).toBe(id);
    expect((await call(bob, 'GET', '/v1/backtests')).json().data.pagination.total).toBe(1);
    expect(await quotaUsed(bob)).toBe(before + 1);
    expect(progress.total).toBeGreaterThan(3000);
    const cancel = await call(bob, 'POST', `/v1/backtests/${id}/cancel`);
    expect(cancel.statusCode).toBe(200);
    expect(cancel.json().data.status).toBe('cancelled');
    const b = await finished(bob, id);
    expect(b.status).toBe('cancelled');
    expect(b.progress.done).toBeLessThan(b.progress.total);
    expect(b.trades).toHaveLength(b.progress.done);
    expect((await call(bob, 'POST', `/v1/backtests/${id}/cancel`)).statusCode).toBe(409);
  }, 60_000);

  it('runs a model backtest on rendered charts, charging one analysis per step, and refuses one beyond the quota', async () => {
    const carol = await signup(h.app, 'backtest-carol@example.com');
    fake.reset();
    const res = await call(carol, 'POST', '/v1/backtests', {
      ...SPAN,
      to: '2020-01-01T03:00:00Z',
      step: 1,
      analyst: 'anthropic',
      prompt: 'Only trade breakouts.',
    });
    expect(res.statusCode).toBe(202);
    const { id, progress } = res.json().data;
    expect(progress.total).toBe(3);
    const b = await finished(carol, id);
    expect(b.status).toBe('completed');
    expect(
      b.trades.map((t: { recommendation: string; outcome: string }) => [t.recommendation, t.outcome]),
    ).toEqual([
      ['NEUTRAL', 'no_trade'],
      ['NEUTRAL', 'no_trade'],
      ['NEUTRAL', 'no_trade'],
    ]);
    expect(b.analysesCharged).toBe(3);
    // Each step sent the model a rendered chart and the user's prompt.
    expect(fake.requests).toHaveLength(3);
    const content = fake.requests[0]!.body.messages[0].content;
    expect(content[0]).toMatchObject({ type: 'image', source: { media_type: 'image/png' } });
    expect(JSON.stringify(content)).toContain('Only trade breakouts.');
    await eventually(async () => (await quotaUsed(carol)) === 3);
    // The rendered charts are nobody's charts.
    expect((await call(carol, 'GET', '/v1/charts')).json().data.charts).toEqual([]);

    // A model that fails for good at the second step: the backtest fails, one step is charged.
    fake.reset();
    fake.enqueue({ kind: 'tool', input: TOOL_INPUT }, { kind: 'error', status: 400, message: 'bad image' });
    const failing = await call(carol, 'POST', '/v1/backtests', {
      ...SPAN,
      to: '2020-01-01T03:00:00Z',
      step: 1,
      analyst: 'anthropic',
    });
    expect(failing.statusCode).toBe(202);
    const failed = await finished(carol, failing.json().data.id);
    expect(failed).toMatchObject({ status: 'failed', progress: { done: 1, total: 3 }, analysesCharged: 1 });
    expect(failed.error.code).toEqual(expect.any(String));
    expect(failed.trades).toHaveLength(1);
    await eventually(async () => (await quotaUsed(carol)) === 4);

    // 12 a month, 4 used: 20 steps cannot be covered.
    const over = await call(carol, 'POST', '/v1/backtests', {
      ...SPAN,
      to: '2020-01-01T20:00:00Z',
      step: 1,
      analyst: 'anthropic',
    });
    expect(over.statusCode).toBe(402);
    expect(over.json().error.code).toBe('QUOTA_EXCEEDED');
    expect(await quotaUsed(carol)).toBe(4);
  }, 60_000);

  it('answers 400 naming the field for spans outside the bounds or the data', async () => {
    const bad = async (body: Record<string, unknown>, field: string) => {
      const res = await call(alice, 'POST', '/v1/backtests', { ...SPAN, analyst: 'builtin', ...body });
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(JSON.stringify(res.json().error.details), JSON.stringify(body)).toContain(field);
    };
    await bad({ to: SPAN.from }, 'to');
    await bad({ to: '2099-01-01T00:00:00Z' }, 'to');
    await bad({ from: '2010-01-01T00:00:00Z' }, 'from');
    await bad({ from: '2021-08-01T00:00:00Z', to: '2021-09-01T00:00:00Z' }, 'from');
    await bad({ step: 0 }, 'step');
    await bad({ from: '2019-01-01T00:00:00Z', to: '2020-01-01T00:00:00Z', step: 1 }, 'step');
    await bad({ step: 1, analyst: 'anthropic' }, 'step');
    await bad({ analyst: 'gpt' }, 'analyst');
    await bad({ symbol: 'BINANCE:NOPEUSDT' }, 'symbol');
    await bad({ interval: '1m' }, 'interval');
  });
});
