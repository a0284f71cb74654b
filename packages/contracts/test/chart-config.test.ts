import { describe, expect, it } from 'vitest';
import { ChartConfig } from '../src/rest/chart-config.js';

describe('ChartConfig', () => {
  it('applies defaults and accepts the design document example', () => {
    const c = ChartConfig.parse({
      symbol: 'BINANCE:BTCUSDT',
      interval: '4h',
      range: '7D',
      studies: [{ name: 'Relative Strength Index', input: { period: 14 } }],
      drawings: [{ name: 'Horizontal Line', input: { price: 107418 }, override: { linecolor: '#f23645' } }],
    });
    expect(c.theme).toBe('dark');
    expect(c.width).toBe(1200);
    expect(c.height).toBe(675);
  });
  it('rejects a symbol without an exchange', () => {
    expect(ChartConfig.safeParse({ symbol: 'BTCUSDT', interval: '1h' }).success).toBe(false);
  });
  it('accepts IANA time zones and rejects anything else', () => {
    const tz = (timezone: string) =>
      ChartConfig.safeParse({ symbol: 'BINANCE:BTCUSDT', interval: '1h', timezone }).success;
    for (const ok of ['Etc/UTC', 'UTC', 'America/New_York', 'Asia/Kolkata', 'America/Argentina/Buenos_Aires'])
      expect(tz(ok), ok).toBe(true);
    for (const bad of ['Mars/Olympus', '+05:00', 'America/New York', '', '../etc/passwd'])
      expect(tz(bad), bad).toBe(false);
  });
});
