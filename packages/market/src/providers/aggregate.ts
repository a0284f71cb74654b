import type { Interval } from '@chartwright/contracts';
import { type Bar, barOpenTime } from '../bars.js';

/**
 * Merges finer bars into bars of `interval` (e.g. 15m → 45m, 1M → 3M), bucketed by the target bar's
 * open time. A first bucket with fewer than `perBar` source bars is dropped: its open would be wrong.
 */
export function aggregateBars(bars: readonly Bar[], interval: Interval, perBar: number): Bar[] {
  const out: Bar[] = [];
  const counts: number[] = [];
  for (const b of bars) {
    const open = barOpenTime(b.time, interval);
    const last = out[out.length - 1];
    if (last && last.time === open) {
      last.high = Math.max(last.high, b.high);
      last.low = Math.min(last.low, b.low);
      last.close = b.close;
      last.volume += b.volume;
      counts[counts.length - 1]!++;
    } else {
      out.push({ ...b, time: open });
      counts.push(1);
    }
  }
  if (out.length > 1 && counts[0]! < perBar) out.shift();
  return out;
}
