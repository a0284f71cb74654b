import { describe, expect, it } from 'vitest';
import { type OutcomeBar, resolveOutcome, type Signal } from '../src/index.js';

const H = 3_600_000;
/** Bars from [low, high, close] triples, an hour apart; each opens at the previous close. */
const bars = (...hlc: [number, number, number][]): OutcomeBar[] =>
  hlc.map(([low, high, close], i) => ({ time: i * H, open: hlc[i - 1]?.[2] ?? close, high, low, close }));

const long: Signal = {
  recommendation: 'LONG',
  entryPrice: 100,
  stopLoss: 95,
  takeProfit: 110,
  lastClose: 102,
};
const short: Signal = {
  recommendation: 'SHORT',
  entryPrice: 100,
  stopLoss: 105,
  takeProfit: 90,
  lastClose: 98,
};

describe('outcome rules', () => {
  it('fills only when a later bar trades through the entry', () => {
    // The first bar stays above 100, the second reaches it; the target is hit two bars later.
    const o = resolveOutcome(
      long,
      bars([101, 104, 103], [99.5, 103, 101], [100, 106, 105], [104, 111, 110]),
      30,
    );
    expect(o.filledAt).toBe(1 * H);
    expect(o.status).toBe('won');
    expect(o.barsHeld).toBe(3);
  });

  it('fills at once when the entry is the last close', () => {
    const o = resolveOutcome({ ...long, lastClose: 100 }, bars([100.5, 111, 109]), 30);
    expect(o).toMatchObject({
      status: 'won',
      filledAt: 0,
      exitAt: 0,
      exitPrice: 110,
      rMultiple: 2,
      barsHeld: 1,
    });
  });

  it('wins when a high reaches the take-profit: R = (exit − entry) / (entry − stop)', () => {
    const o = resolveOutcome(long, bars([99, 103, 102], [101, 110, 109]), 30);
    expect(o).toMatchObject({ status: 'won', exitAt: H, exitPrice: 110, rMultiple: 2 });
  });

  it('loses when a low reaches the stop', () => {
    const o = resolveOutcome(long, bars([99, 103, 102], [94, 101, 96]), 30);
    expect(o).toMatchObject({ status: 'lost', exitPrice: 95, rMultiple: -1, barsHeld: 2 });
  });

  it('counts a bar touching both the stop and the target as the stop', () => {
    const o = resolveOutcome(long, bars([99, 103, 102], [94, 111, 100]), 30);
    expect(o).toMatchObject({ status: 'lost', rMultiple: -1 });
  });

  it('expires after the horizon: a filled trade exits at the last close, an unfilled one has no R', () => {
    const flat = bars([99, 103, 102], [101, 104, 103], [101, 104, 104], [90, 120, 100]);
    expect(resolveOutcome(long, flat, 3)).toMatchObject({
      status: 'expired',
      filledAt: 0,
      exitAt: 2 * H,
      exitPrice: 104,
      rMultiple: 0.8,
      barsHeld: 3,
    });
    const never = resolveOutcome(long, bars([101, 104, 103], [101, 104, 103], [101, 104, 104]), 3);
    expect(never).toMatchObject({ status: 'expired', filledAt: null, rMultiple: null });
    // With fewer bars than the horizon it is still open.
    expect(resolveOutcome(long, flat.slice(0, 2), 3).status).toBe('open');
  });

  it('mirrors SHORT: target by the low, stop by the high, R = (entry − exit) / (stop − entry)', () => {
    expect(resolveOutcome(short, bars([97, 101, 99], [89, 99, 90]), 30)).toMatchObject({
      status: 'won',
      exitPrice: 90,
      rMultiple: 2,
    });
    expect(resolveOutcome(short, bars([97, 101, 99], [98, 105, 104]), 30)).toMatchObject({
      status: 'lost',
      exitPrice: 105,
      rMultiple: -1,
    });
    expect(resolveOutcome(short, bars([97, 101, 99], [98, 100, 97], [96, 99, 98]), 3)).toMatchObject({
      status: 'expired',
      rMultiple: 0.4,
    });
  });

  it('records NEUTRAL as no trade with the forward return over the horizon', () => {
    const neutral: Signal = {
      recommendation: 'NEUTRAL',
      entryPrice: null,
      stopLoss: null,
      takeProfit: null,
      lastClose: 100,
    };
    const after = bars([99, 101, 100], [99, 106, 105], [100, 112, 110]);
    expect(resolveOutcome(neutral, after, 3)).toMatchObject({ status: 'no_trade', rMultiple: null });
    expect(resolveOutcome(neutral, after, 3).forwardReturn).toBeCloseTo(0.1);
    // The forward return is unknown until the horizon's bar exists.
    expect(resolveOutcome(neutral, after.slice(0, 2), 3).forwardReturn).toBeNull();
    // Levels on the wrong side of the entry are no trade either.
    expect(resolveOutcome({ ...long, stopLoss: 101 }, after, 3).status).toBe('no_trade');
  });
});
