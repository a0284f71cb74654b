import { describe, expect, it } from 'vitest';
import { confluence, type TimeframeReading } from '../src/confluence.js';

const reading = (
  interval: TimeframeReading['interval'],
  recommendation: TimeframeReading['recommendation'],
  levels: Partial<TimeframeReading> = {},
): TimeframeReading => ({
  interval,
  status: 'completed',
  recommendation,
  entryPrice: null,
  stopLoss: null,
  takeProfit: null,
  riskRewardRatio: null,
  ...levels,
});

const h1Long = reading('1h', 'LONG', { entryPrice: 100, stopLoss: 95, takeProfit: 110, riskRewardRatio: 2 });

describe('confluence', () => {
  it('takes the levels of the lowest interval when every higher one agrees, whatever the order', () => {
    const c = confluence([
      reading('1D', 'LONG', { entryPrice: 90, stopLoss: 70, takeProfit: 150, riskRewardRatio: 3 }),
      reading('4h', 'LONG', { entryPrice: 99, stopLoss: 90, takeProfit: 120, riskRewardRatio: 2.3 }),
      h1Long,
    ]);
    expect(c).toMatchObject({
      recommendation: 'LONG',
      agreement: 1,
      alignedIntervals: ['1h', '4h', '1D'],
      entryPrice: 100,
      stopLoss: 95,
      takeProfit: 110,
      riskRewardRatio: 2,
    });
    expect(c.summary).toContain('All 3 intervals');
  });

  it('is NEUTRAL with null levels when a higher interval disagrees; agreement counts all intervals', () => {
    const c = confluence([h1Long, reading('4h', 'LONG'), reading('1D', 'SHORT')]);
    expect(c).toMatchObject({
      recommendation: 'NEUTRAL',
      agreement: 0.6667,
      alignedIntervals: ['1h', '4h'],
      entryPrice: null,
      stopLoss: null,
      takeProfit: null,
      riskRewardRatio: null,
    });
    expect(c.summary).toContain('1D reads SHORT');
  });

  it('counts a failed interval as not agreeing, and gives no direction when the lowest failed', () => {
    const failed4h: TimeframeReading = { ...reading('4h', null), status: 'failed' };
    expect(confluence([h1Long, failed4h])).toMatchObject({
      recommendation: 'NEUTRAL',
      agreement: 0.5,
      alignedIntervals: ['1h'],
      entryPrice: null,
    });
    const failed1h: TimeframeReading = { ...reading('1h', null), status: 'failed' };
    expect(confluence([failed1h, reading('4h', 'LONG')])).toMatchObject({
      recommendation: 'NEUTRAL',
      agreement: 0,
      alignedIntervals: [],
    });
  });

  it('reads all-NEUTRAL as full agreement on no trade', () => {
    const c = confluence([reading('15m', 'NEUTRAL'), reading('1W', 'NEUTRAL')]);
    expect(c).toMatchObject({ recommendation: 'NEUTRAL', agreement: 1, alignedIntervals: ['15m', '1W'] });
    expect(c.entryPrice).toBeNull();
  });

  it('rounds agreement to 4 places and keeps it within 0..1', () => {
    const c = confluence([
      reading('1m', 'SHORT', { entryPrice: 10, stopLoss: 11, takeProfit: 8, riskRewardRatio: 2 }),
      reading('5m', 'SHORT'),
      reading('15m', 'LONG'),
    ]);
    expect(c.agreement).toBe(0.6667);
    expect(c.recommendation).toBe('NEUTRAL');
  });
});
