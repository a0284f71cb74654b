import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AnalysisCompleted, type Recommendation } from '@chartwright/contracts';
import { makeEvent, newId, publishEvent } from '@chartwright/kit';
import { eventually, testEngines } from '@chartwright/kit/testing';
import { startOutcomeService } from '@chartwright/outcome-service';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, type Harness, signup, startHarness } from './harness.js';

const { pairs } = await testEngines(afterAll);
const H = 3_600_000;
const T0 = Date.UTC(2020, 0, 1);

/** Ten quiet hourly bars at 100, one reaching 99..111, then quiet bars at 108. */
const CSV = `time,open,high,low,close,volume\n${Array.from({ length: 60 }, (_, i) => {
  const [low, high, close] = i < 10 ? [99, 101, 100] : i === 10 ? [99, 111, 108] : [107, 109, 108];
  return `${T0 + i * H},${close},${high},${low},${close},1000`;
}).join('\n')}\n`;

describe.each(pairs)('outcome and scorecard routes [%s]', (_name, tdb, tb) => {
  let h: Harness;
  let dir: string;
  let alice: { token: string; user: { id: string } };
  let bob: { token: string; user: { id: string } };

  const complete = async (
    userId: string,
    recommendation: Recommendation,
    levels: [number, number, number],
  ) => {
    const analysisId = newId();
    const [entryPrice, stopLoss, takeProfit] = levels;
    await publishEvent(
      tb.bus,
      makeEvent(
        AnalysisCompleted,
        {
          analysisId,
          chartId: newId(),
          userId,
          reservationId: null,
          symbol: 'BINANCE:TEST',
          interval: '1h',
          result: {
            trend: 'bullish',
            signals: [],
            recommendation,
            entryPrice,
            stopLoss,
            takeProfit,
            confidence: 7,
            analysisText: 'test',
            keyLevels: { support: [], resistance: [] },
            riskRewardRatio: 2,
          },
          metadata: { model: 'chartwright-technical-v1', tokensUsed: 0, processingTime: 0 },
          completedAt: new Date().toISOString(),
          tradingStyle: 'day_trading',
          bars: {
            source: 'file:BINANCE_TEST_1h.csv',
            synthetic: false,
            seed: null,
            from: new Date(T0).toISOString(),
            to: new Date(T0 + 9 * H).toISOString(),
            count: 10,
            warmUp: 0,
          },
        },
        { source: 'test', subject: analysisId },
      ),
    );
    return analysisId;
  };
  const get = (url: string, token: string) =>
    h.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cw-gw-outcomes-'));
    await writeFile(path.join(dir, 'BINANCE_TEST_1h.csv'), CSV);
    h = await startHarness(tb.bus, tdb, { MARKET_DATA: 'file', MARKET_DATA_DIR: dir }, [startOutcomeService]);
    alice = await signup(h.app, `alice-${newId()}@example.com`);
    bob = await signup(h.app, `bob-${newId()}@example.com`);
  });
  afterAll(async () => {
    await h?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("answers an analysis' outcome to its owner only, and a scorecard that agrees with it", async () => {
    const won = await complete(alice.user.id, 'LONG', [100, 95, 110]);
    const lost = await complete(alice.user.id, 'SHORT', [100, 105, 90]);
    const res = await eventually(async () => {
      const r = await get(`/v1/analyses/${won}/outcome`, alice.token);
      return r.statusCode === 200 && r.json().data.status !== 'open' ? r : null;
    });
    expect(res.json().data).toMatchObject({
      status: 'won',
      filledAt: new Date(T0 + 10 * H).toISOString(),
      exitAt: new Date(T0 + 10 * H).toISOString(),
      exitPrice: 110,
      rMultiple: 2,
      barsHeld: 1,
      horizonBars: 48,
    });
    await eventually(
      async () => (await get(`/v1/analyses/${lost}/outcome`, alice.token)).json().data?.status === 'lost',
    );

    expect((await get(`/v1/analyses/${won}/outcome`, bob.token)).statusCode).toBe(404);
    expect((await get(`/v1/analyses/${newId()}/outcome`, alice.token)).statusCode).toBe(404);
    expect((await get('/v1/analyses/not-a-uuid/outcome', alice.token)).statusCode).toBe(400);

    const card = (
      await get('/v1/scorecard?symbol=BINANCE:TEST&interval=1h&tradingStyle=day_trading', alice.token)
    ).json().data;
    expect(card).toMatchObject({
      signals: 2,
      resolved: 2,
      wins: 1,
      losses: 1,
      expired: 0,
      noTrade: 0,
      avgR: 0.5,
    });
    expect(card.wins + card.losses + card.expired).toBe(card.resolved - card.noTrade);
    expect((await get('/v1/scorecard', bob.token)).json().data.signals).toBe(0);
    expect((await get('/v1/scorecard?interval=7h', alice.token)).statusCode).toBe(400);
    expect((await get('/v1/scorecard?from=yesterday', alice.token)).statusCode).toBe(400);
  });

  it('gives the by-model scorecard to admins only', async () => {
    expect((await get('/v1/admin/scorecard', alice.token)).statusCode).toBe(403);
    const login = await h.app.inject({ method: 'POST', url: '/v1/auth/login', payload: ADMIN });
    const res = await get('/v1/admin/scorecard', login.json().data.token);
    expect(res.statusCode).toBe(200);
    expect(res.json().data.models).toEqual([
      expect.objectContaining({
        model: 'chartwright-technical-v1',
        scorecard: expect.objectContaining({ signals: 2 }),
      }),
    ]);
  });
});
