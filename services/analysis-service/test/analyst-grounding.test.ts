import { AnalysisResult, type AnalystOutput } from '@chartwright/contracts';
import { describe, expect, it } from 'vitest';
import { ground } from '../src/analyst/index.js';

const LONG: AnalystOutput = {
  trend: 'bullish',
  signals: ['RSI(14) 61.2'],
  recommendation: 'LONG',
  entryPrice: 64250,
  stopLoss: 62800,
  takeProfit: 67500,
  confidence: 7,
  analysisText: 'Higher lows.',
  keyLevels: { support: [62800, 61500], resistance: [66000, 67500] },
};

const SHORT: AnalystOutput = {
  ...LONG,
  trend: 'bearish',
  recommendation: 'SHORT',
  entryPrice: 64250,
  stopLoss: 65500,
  takeProfit: 61500,
};

const at = { lastPrice: 64250 };

describe('ground', () => {
  it('keeps a valid LONG and computes the risk/reward itself', () => {
    const result = ground(LONG, at);
    expect(result).toMatchObject({
      recommendation: 'LONG',
      entryPrice: 64250,
      stopLoss: 62800,
      takeProfit: 67500,
    });
    // (67500 - 64250) / (64250 - 62800) = 2.241…
    expect(result.riskRewardRatio).toBe(2.24);
    expect(result.warnings).toEqual([]);
    expect(AnalysisResult.parse(result)).toEqual(result);
  });

  it('keeps a valid SHORT', () => {
    const result = ground(SHORT, at);
    expect(result.recommendation).toBe('SHORT');
    // (64250 - 61500) / (65500 - 64250) = 2.2
    expect(result.riskRewardRatio).toBe(2.2);
    expect(result.warnings).toEqual([]);
  });

  it('never takes a risk/reward ratio from the model', () => {
    const claimed = { ...LONG, riskRewardRatio: 9.9 } as AnalystOutput;
    expect(ground(claimed, at).riskRewardRatio).toBe(2.24);
  });

  it('swaps stop loss and take profit when a LONG has them on the wrong sides', () => {
    const result = ground({ ...LONG, stopLoss: 67500, takeProfit: 62800 }, at);
    expect(result).toMatchObject({
      recommendation: 'LONG',
      stopLoss: 62800,
      takeProfit: 67500,
      riskRewardRatio: 2.24,
    });
    expect(result.warnings).toHaveLength(1);
    expect(result.warnings[0]).toMatch(/swapped/);
  });

  it('swaps them for a SHORT too', () => {
    const result = ground({ ...SHORT, stopLoss: 61500, takeProfit: 65500 }, at);
    expect(result).toMatchObject({ recommendation: 'SHORT', stopLoss: 65500, takeProfit: 61500 });
    expect(result.warnings[0]).toMatch(/swapped/);
  });

  it('turns mirrored levels into NEUTRAL when the trend says the direction may be the error', () => {
    const result = ground({ ...LONG, trend: 'bearish', stopLoss: 67500, takeProfit: 62800 }, at);
    expect(result).toMatchObject({
      recommendation: 'NEUTRAL',
      entryPrice: null,
      stopLoss: null,
      takeProfit: null,
      riskRewardRatio: null,
    });
    expect(result.warnings[0]).toMatch(
      /ambiguous.*NEUTRAL \(was LONG entry 64250, stop loss 67500, take profit 62800\)/,
    );
  });

  it('turns levels on the same side of the entry into NEUTRAL', () => {
    const result = ground({ ...LONG, stopLoss: 66000, takeProfit: 67500 }, at);
    expect(result.recommendation).toBe('NEUTRAL');
    expect(result.warnings[0]).toMatch(/LONG needs stop loss < entry < take profit/);
    const equal = ground({ ...SHORT, stopLoss: 64250 }, at);
    expect(equal.recommendation).toBe('NEUTRAL');
  });

  it('refuses an entry far from the last price: 10% without ATR', () => {
    expect(ground({ ...LONG, entryPrice: 58500, stopLoss: 57000 }, at).recommendation).toBe('LONG');
    const misread = ground({ ...LONG, entryPrice: 6425, stopLoss: 6280, takeProfit: 6750 }, at);
    expect(misread.recommendation).toBe('NEUTRAL');
    expect(misread.warnings[0]).toMatch(/entry 6425 is 57825 away from the last price 64250, more than 10%/);
  });

  it('refuses an entry far from the last price: 5 ATR when the ATR is known', () => {
    const far = { ...LONG, entryPrice: 61500, stopLoss: 60000 };
    expect(ground(far, { lastPrice: 64250 }).recommendation).toBe('LONG');
    const result = ground(far, { lastPrice: 64250, atr: 500 });
    expect(result.recommendation).toBe('NEUTRAL');
    expect(result.warnings[0]).toMatch(/more than 5 ATR \(2500\)/);
  });

  it('uses the last price as entry when the entry is missing', () => {
    const result = ground({ ...LONG, entryPrice: null }, { lastPrice: 64000 });
    expect(result).toMatchObject({ recommendation: 'LONG', entryPrice: 64000 });
    expect(result.warnings[0]).toMatch(/entry price missing: the last price 64000 is used/);
    expect(result.riskRewardRatio).toBe(2.92);
  });

  it('turns a trade without stop loss or take profit into NEUTRAL', () => {
    const noStop = ground({ ...LONG, stopLoss: null }, at);
    expect(noStop.recommendation).toBe('NEUTRAL');
    expect(noStop.warnings[0]).toMatch(/without a stop loss/);
    const noTarget = ground({ ...SHORT, takeProfit: null }, at);
    expect(noTarget.warnings[0]).toMatch(/without a take profit/);
    const noEntry = ground({ ...LONG, entryPrice: null }, { lastPrice: undefined });
    expect(noEntry.recommendation).toBe('NEUTRAL');
  });

  it('says so when the entry distance cannot be checked', () => {
    const result = ground(LONG, { lastPrice: null });
    expect(result.recommendation).toBe('LONG');
    expect(result.warnings).toEqual(['the last price is unknown: the entry distance was not checked']);
  });

  it('turns a signal below the confidence threshold into NEUTRAL with the reason', () => {
    const result = ground({ ...LONG, confidence: 5 }, { ...at, confidenceThreshold: 6 });
    expect(result).toMatchObject({ recommendation: 'NEUTRAL', entryPrice: null, riskRewardRatio: null });
    expect(result.warnings[0]).toMatch(
      /^confidence 5 is below the threshold 6; recommendation set to NEUTRAL/,
    );
    expect(ground({ ...LONG, confidence: 6 }, { ...at, confidenceThreshold: 6 }).recommendation).toBe('LONG');
  });

  it('leaves a NEUTRAL answer as it is, without a ratio', () => {
    const neutral = {
      ...LONG,
      recommendation: 'NEUTRAL' as const,
      entryPrice: null,
      stopLoss: null,
      takeProfit: null,
    };
    const result = ground(neutral, { ...at, confidenceThreshold: 10 });
    expect(result).toMatchObject({ recommendation: 'NEUTRAL', riskRewardRatio: null, warnings: [] });
  });

  it('sorts and deduplicates key levels', () => {
    const result = ground(
      {
        ...LONG,
        keyLevels: { support: [62800, 61500, 62800, 63000.00000000001], resistance: [67500, 66000, 66000] },
      },
      at,
    );
    expect(result.keyLevels).toEqual({ support: [61500, 62800, 63000], resistance: [66000, 67500] });
  });

  it('does not change its input', () => {
    const input = structuredClone({ ...LONG, stopLoss: 67500, takeProfit: 62800 });
    const copy = structuredClone(input);
    ground(input, { ...at, confidenceThreshold: 9 });
    expect(input).toEqual(copy);
  });
});
