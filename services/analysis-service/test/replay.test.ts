import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileProvider } from '@chartwright/market';
import { describe, expect, it } from 'vitest';
import { replayBuiltin } from '../src/backtest/replay.js';

const FIXTURES = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../packages/market/test/fixtures/market',
);

describe('replaying the built-in analyst over history', () => {
  it('follows every step to an outcome, with a scorecard and a seeded random baseline that agree', async () => {
    const { bars } = await new FileProvider(FIXTURES).getBars({
      symbol: 'BINANCE:BTCUSDT',
      interval: '1h',
      start: 0,
      limit: 50_000,
    });
    const opts = {
      bars,
      symbol: 'BINANCE:BTCUSDT',
      interval: '1h' as const,
      from: 0,
      to: Date.now(),
      step: 6,
      seed: 7,
      visible: 100,
    };
    const a = await replayBuiltin(opts);
    expect(a.steps).toBeGreaterThan(5);
    expect(a.trades).toHaveLength(a.steps);
    const c = a.scorecard;
    expect(c.signals).toBe(a.steps);
    expect(c.wins + c.losses + c.expired).toBe(c.resolved - c.noTrade);
    const rs = a.trades.flatMap((t) =>
      t.outcome.status !== 'open' && t.outcome.rMultiple !== null ? [t.outcome.rMultiple] : [],
    );
    if (rs.length) expect(c.avgR).toBeCloseTo(rs.reduce((s, r) => s + r, 0) / rs.length);
    // The baseline has as many trades and the same side mix; the same seed gives the same baseline.
    const traded = a.trades.filter((t) => t.recommendation !== 'NEUTRAL' && t.entryPrice !== null);
    expect(a.random.scorecard.signals).toBe(traded.length);
    expect(a.random.scorecard.longShare).toBe(c.longShare);
    expect((await replayBuiltin(opts)).random).toEqual(a.random);
  });
});
