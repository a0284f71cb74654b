import { describe, expect, it } from 'vitest';
import { timeTicks, wallTimes } from '../src/render/scale.js';

const HOUR = 3_600_000;
const hourly = (from: string, count: number) =>
  Array.from({ length: count }, (_, i) => Date.parse(from) + i * HOUR);
const labelAt = (ticks: ReturnType<typeof timeTicks>, times: number[], iso: string) =>
  ticks.find((t) => times[t.index] === Date.parse(iso))?.label;

describe('time axis', () => {
  it('labels intraday bars in UTC by default', () => {
    const times = hourly('2026-06-01T00:00:00Z', 72);
    const ticks = timeTicks(times, '1h', 1200);
    expect(labelAt(ticks, times, '2026-06-02T00:00:00Z')).toBe('2 Jun');
    expect(ticks.every((t) => t.rank !== 1 || new Date(times[t.index]!).getUTCHours() === 0)).toBe(true);
  });

  it('labels intraday bars in the chart time zone, across a daylight-saving change', () => {
    // New York: UTC-4 in summer, UTC-5 from 1 Nov 2026 02:00 local.
    const times = hourly('2026-10-30T00:00:00Z', 96);
    const ticks = timeTicks(times, '1h', 2000, 80, 'America/New_York');
    const days = ticks
      .filter((t) => t.rank >= 1)
      .map((t) => [new Date(times[t.index]!).toISOString(), t.label]);
    expect(days).toEqual([
      ['2026-10-30T04:00:00.000Z', '30 Oct'],
      ['2026-10-31T04:00:00.000Z', '31 Oct'],
      ['2026-11-01T04:00:00.000Z', '1 Nov'],
      ['2026-11-02T05:00:00.000Z', '2 Nov'],
    ]);
    // A time zone with a half-hour offset puts hours at :30 UTC.
    const kolkata = timeTicks(hourly('2026-06-01T00:30:00Z', 48), '1h', 1200, 80, 'Asia/Kolkata');
    expect(kolkata.some((t) => t.label === '2 Jun')).toBe(true);
  });

  it('gives the wall-clock time of each instant', () => {
    const [summer, winter] = wallTimes(
      [Date.parse('2026-07-01T12:00:00Z'), Date.parse('2026-12-01T12:00:00Z')],
      'Europe/Berlin',
    );
    expect(new Date(summer!).toISOString()).toBe('2026-07-01T14:00:00.000Z');
    expect(new Date(winter!).toISOString()).toBe('2026-12-01T13:00:00.000Z');
  });

  it('labels daily bars by their date whatever the time zone', () => {
    const times = Array.from({ length: 120 }, (_, i) => Date.parse('2026-01-01T00:00:00Z') + i * 24 * HOUR);
    const utc = timeTicks(times, '1D', 1200);
    expect(timeTicks(times, '1D', 1200, 80, 'America/Los_Angeles')).toEqual(utc);
    expect(labelAt(utc, times, '2026-02-01T00:00:00Z')).toBe('Feb');
  });
});
