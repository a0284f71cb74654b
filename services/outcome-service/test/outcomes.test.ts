import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  AnalysisCompleted,
  type AnalysisOutcome,
  AnalysisOutcomeResolved,
  ChartDeleted,
  OutcomeGet,
  OutcomeScorecard,
  OutcomeScorecardByModel,
  type Recommendation,
  type TradingStyle,
} from '@chartwright/contracts';
import {
  callRpc,
  createLogger,
  makeEvent,
  newId,
  on,
  publishEvent,
  type RunningService,
  type ServiceError,
  watchEvents,
} from '@chartwright/kit';
import { eventually, testEngines } from '@chartwright/kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOutcomeService } from '../src/index.js';

const { pairs } = await testEngines(afterAll);
const logger = createLogger('test', 'silent');
const H = 3_600_000;
const T0 = Date.UTC(2020, 0, 1);

/** Ten quiet bars around 100, a bar reaching 99..111, then quiet bars around 108. */
function bar(i: number): string {
  const [low, high, close] = i < 10 ? [99, 101, 100] : i === 10 ? [99, 111, 108] : [107, 109, 108];
  return `${T0 + i * H},${close},${high},${low},${close},1000\n`;
}
const csv = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => bar(from + k)).join('');

describe.each(pairs)('outcome-service [%s]', (_name, tdb, tb) => {
  let service: RunningService;
  let dir: string;
  const userId = newId();

  const completed = (opts: {
    symbol: string;
    recommendation: Recommendation;
    levels?: [number, number, number];
    style?: TradingStyle;
    model?: string;
    confidence?: number;
    synthetic?: boolean;
  }) => {
    const [entryPrice, stopLoss, takeProfit] = opts.levels ?? [null, null, null];
    const analysisId = newId();
    const chartId = newId();
    return {
      analysisId,
      chartId,
      event: makeEvent(
        AnalysisCompleted,
        {
          analysisId,
          chartId,
          userId,
          reservationId: null,
          symbol: opts.symbol,
          interval: '1h',
          result: {
            trend: 'neutral',
            signals: [],
            recommendation: opts.recommendation,
            entryPrice,
            stopLoss,
            takeProfit,
            confidence: opts.confidence ?? 6,
            analysisText: 'test',
            keyLevels: { support: [], resistance: [] },
            riskRewardRatio: null,
          },
          metadata: { model: opts.model ?? 'chartwright-technical-v1', tokensUsed: 0, processingTime: 0 },
          completedAt: new Date().toISOString(),
          tradingStyle: opts.style ?? 'scalping',
          bars: {
            source: opts.synthetic ? 'synthetic' : `file:${opts.symbol.split(':')[1]}_1h.csv`,
            synthetic: opts.synthetic ?? false,
            seed: opts.synthetic ? 1 : null,
            from: new Date(T0).toISOString(),
            to: new Date(T0 + 9 * H).toISOString(),
            count: 10,
            warmUp: 0,
          },
        },
        { source: 'test', subject: analysisId },
      ),
    };
  };
  const outcomeOf = (
    analysisId: string,
    until: (o: AnalysisOutcome) => boolean = (o) => o.status !== 'open',
  ) =>
    eventually(async () => {
      const o = await callRpc(tb.bus, OutcomeGet, { analysisId, userId }).catch(() => null);
      return o && until(o) ? o : null;
    });

  const resolvedEvents: { analysisId: string; status: string; rMultiple: number | null }[] = [];
  beforeAll(async () => {
    const watch = await watchEvents(
      tb.bus,
      { stream: 'ANALYSES', filterSubject: AnalysisOutcomeResolved.type },
      [on(AnalysisOutcomeResolved, (e) => void resolvedEvents.push(e.data))],
      logger,
    );
    afterAll(() => watch.stop());
    dir = await mkdtemp(path.join(tmpdir(), 'cw-outcomes-'));
    await writeFile(path.join(dir, 'BINANCE_HIST_1h.csv'), `time,open,high,low,close,volume\n${csv(0, 60)}`);
    await writeFile(path.join(dir, 'BINANCE_LIVE_1h.csv'), `time,open,high,low,close,volume\n${csv(0, 10)}`);
    service = await startOutcomeService({
      bus: tb.bus,
      database: tdb.target,
      logger,
      env: {
        MARKET_DATA: 'file',
        MARKET_DATA_DIR: dir,
        MARKET_DATA_CACHE_MS: '0',
        OUTCOME_CHECK_INTERVAL_MS: '100',
      },
    });
  });
  afterAll(async () => {
    await service?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('resolves historical signals at once from the bars after the window, and scores them', async () => {
    const long = completed({
      symbol: 'BINANCE:HIST',
      recommendation: 'LONG',
      levels: [100, 95, 110],
      confidence: 8,
    });
    const short = completed({
      symbol: 'BINANCE:HIST',
      recommendation: 'SHORT',
      levels: [100, 105, 90],
      confidence: 4,
    });
    const neutral = completed({ symbol: 'BINANCE:HIST', recommendation: 'NEUTRAL' });
    for (const a of [long, short, neutral]) await publishEvent(tb.bus, a.event);

    expect(await outcomeOf(long.analysisId)).toMatchObject({
      status: 'won',
      filledAt: new Date(T0 + 10 * H).toISOString(),
      exitAt: new Date(T0 + 10 * H).toISOString(),
      exitPrice: 110,
      rMultiple: 2,
      barsHeld: 1,
      signalClose: 100,
      horizonBars: 24,
    });
    expect(await outcomeOf(short.analysisId)).toMatchObject({
      status: 'lost',
      exitPrice: 105,
      rMultiple: -1,
    });
    const n = await outcomeOf(neutral.analysisId, (o) => o.forwardReturn !== null);
    expect(n.forwardReturn).toBeCloseTo(0.08);

    // One analysis.outcome_resolved each.
    await eventually(() => resolvedEvents.length >= 3);
    expect(resolvedEvents.find((e) => e.analysisId === long.analysisId)).toMatchObject({
      status: 'won',
      rMultiple: 2,
    });
    expect(resolvedEvents.filter((e) => e.analysisId === neutral.analysisId)).toMatchObject([
      { status: 'no_trade' },
    ]);

    const card = await callRpc(tb.bus, OutcomeScorecard, { userId, symbol: 'BINANCE:HIST' });
    expect(card).toMatchObject({
      signals: 3,
      resolved: 3,
      open: 0,
      wins: 1,
      losses: 1,
      expired: 0,
      noTrade: 1,
    });
    expect(card.wins + card.losses + card.expired).toBe(card.resolved - card.noTrade);
    expect(card.avgR).toBeCloseTo(0.5);
    expect(card.winRate).toBeCloseTo(0.5);
    // Both went up 8 % over the horizon: the LONG was right, the SHORT wrong.
    expect(card.directionAccuracy).toBeCloseTo(0.5);
    expect(await callRpc(tb.bus, OutcomeScorecard, { userId, symbol: 'BINANCE:NONE' })).toMatchObject({
      signals: 0,
    });
  });

  it('re-checks a live signal as new bars arrive', async () => {
    const live = completed({
      symbol: 'BINANCE:LIVE',
      recommendation: 'LONG',
      levels: [100, 95, 110],
      model: 'other',
    });
    await publishEvent(tb.bus, live.event);
    expect(await outcomeOf(live.analysisId, (o) => o.signalClose !== null)).toMatchObject({
      filledAt: null,
      signalClose: 100,
    });
    await appendFile(path.join(dir, 'BINANCE_LIVE_1h.csv'), csv(10, 40));
    expect(await outcomeOf(live.analysisId)).toMatchObject({ status: 'won', rMultiple: 2 });
    const admin = await callRpc(tb.bus, OutcomeScorecardByModel, {});
    expect(admin.models.map((m) => m.model)).toEqual(['chartwright-technical-v1', 'other']);
  });

  it('does not follow synthetic charts, answers NOT_FOUND for another user, and forgets deleted charts', async () => {
    const synthetic = completed({
      symbol: 'BINANCE:HIST',
      recommendation: 'LONG',
      levels: [100, 95, 110],
      synthetic: true,
    });
    const real = completed({ symbol: 'BINANCE:HIST', recommendation: 'LONG', levels: [100, 95, 110] });
    await publishEvent(tb.bus, synthetic.event);
    await publishEvent(tb.bus, real.event);
    await outcomeOf(real.analysisId);
    const missing = (analysisId: string, user = userId) =>
      callRpc(tb.bus, OutcomeGet, { analysisId, userId: user }).then(
        () => null,
        (err: ServiceError) => err.code,
      );
    expect(await missing(synthetic.analysisId)).toBe('NOT_FOUND');
    expect(await missing(real.analysisId, newId())).toBe('NOT_FOUND');
    await publishEvent(
      tb.bus,
      makeEvent(ChartDeleted, { chartId: real.chartId, userId, objectKeys: [] }, { source: 'test' }),
    );
    await eventually(async () => (await missing(real.analysisId)) === 'NOT_FOUND');
  });
});
