import { describe, expect, it } from 'vitest';
import { type ScoredSignal, scorecard } from '../src/index.js';

const s = (p: Partial<ScoredSignal>): ScoredSignal => ({
  recommendation: 'LONG',
  confidence: 7,
  status: 'won',
  rMultiple: 2,
  forwardReturn: 0.01,
  exitAt: 1,
  ...p,
});

describe('scorecard', () => {
  const signals: ScoredSignal[] = [
    s({ exitAt: 1 }),
    s({ status: 'lost', rMultiple: -1, exitAt: 2, confidence: 9, forwardReturn: -0.02 }),
    s({
      status: 'lost',
      rMultiple: -1,
      exitAt: 3,
      recommendation: 'SHORT',
      confidence: 3,
      forwardReturn: 0.01,
    }),
    s({ status: 'expired', rMultiple: 0.5, exitAt: 4, recommendation: 'SHORT', forwardReturn: -0.01 }),
    s({ status: 'expired', rMultiple: null, exitAt: 5, forwardReturn: null }),
    s({ status: 'no_trade', recommendation: 'NEUTRAL', rMultiple: null, exitAt: null, forwardReturn: 0.03 }),
    s({ status: 'open', rMultiple: null, exitAt: null, forwardReturn: null }),
  ];
  const card = scorecard(signals);

  it('counts agree: wins + losses + expired = resolved − noTrade', () => {
    expect(card).toMatchObject({
      signals: 7,
      resolved: 6,
      open: 1,
      wins: 1,
      losses: 2,
      expired: 2,
      noTrade: 1,
    });
    expect(card.wins + card.losses + card.expired).toBe(card.resolved - card.noTrade);
  });

  it('computes R figures from the trades', () => {
    expect(card.winRate).toBeCloseTo(1 / 3);
    expect(card.avgR).toBeCloseTo(0.5 / 4); // (2 − 1 − 1 + 0.5) / 4 trades with an R
    expect(card.expectancy).toBeCloseTo(0.5 / 5); // per resolved LONG/SHORT signal
    expect(card.profitFactor).toBeCloseTo(2.5 / 2);
    expect(card.maxDrawdownR).toBe(2); // 2 → 1 → 0
    expect(card.longShare).toBeCloseTo(4 / 6);
  });

  it('calibrates confidence/10 as the win probability', () => {
    expect(card.calibration.find((b) => b.confidenceMin === 7)).toEqual({
      confidenceMin: 7,
      confidenceMax: 8,
      n: 1,
      winRate: 1,
    });
    expect(card.brierScore).toBeCloseTo(((0.7 - 1) ** 2 + 0.9 ** 2 + 0.3 ** 2) / 3);
    // LONG +1 %, LONG −2 %, SHORT +1 %, SHORT −1 %: two of four right.
    expect(card.directionAccuracy).toBeCloseTo(0.5);
  });

  it('answers nulls, not NaN, for an empty card', () => {
    expect(scorecard([])).toMatchObject({
      signals: 0,
      winRate: null,
      avgR: null,
      brierScore: null,
      maxDrawdownR: 0,
    });
  });
});
