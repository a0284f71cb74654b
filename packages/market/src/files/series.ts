import type { Bar } from '../bars.js';

/**
 * Bars sorted by time with their open times in a typed array, so a window anywhere in a long
 * history is found by binary search rather than a scan.
 */
export class BarSeries {
  readonly bars: readonly Bar[];
  readonly #times: Float64Array;

  constructor(bars: readonly Bar[]) {
    this.bars = bars;
    this.#times = Float64Array.from(bars, (b) => b.time);
  }

  get length(): number {
    return this.bars.length;
  }

  get first(): Bar | undefined {
    return this.bars[0];
  }

  get last(): Bar | undefined {
    return this.bars[this.bars.length - 1];
  }

  /** Index of the first bar opening at or after `t` (`length` when none does). */
  lowerBound(t: number): number {
    let lo = 0;
    let hi = this.#times.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#times[mid]! < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Index just past the last bar opening at or before `t`. */
  upperBound(t: number): number {
    return this.lowerBound(t + 1);
  }

  /**
   * Copies of the bars a request names, oldest first: with `start`, the first `limit` opening at
   * or after it (and at or before `end`); otherwise the last `limit` opening at or before `end`.
   */
  window(q: { limit: number; start?: number; end?: number }): Bar[] {
    const stop = q.end === undefined ? this.length : this.upperBound(q.end);
    const from = q.start === undefined ? Math.max(0, stop - q.limit) : this.lowerBound(q.start);
    const to = q.start === undefined ? stop : Math.min(stop, from + q.limit);
    const out: Bar[] = [];
    for (let i = from; i < to; i++) out.push({ ...this.bars[i]! });
    return out;
  }
}
