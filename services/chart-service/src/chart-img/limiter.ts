/**
 * A token bucket: `ratePerSecond` tokens a second, at most `burst` saved up. A caller reserves a
 * token and learns how long to wait for it, so concurrent callers queue in order instead of all
 * waking at once. Tokens may go negative: that is the queue.
 */
export class TokenBucket {
  #tokens: number;
  #last: number;

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.#tokens = burst;
    this.#last = now();
  }

  #refill(): void {
    const t = this.now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((t - this.#last) / 1000) * this.ratePerSecond);
    this.#last = t;
  }

  /**
   * Reserves a token and returns the ms to wait before using it, or `null` (nothing reserved) when
   * the wait would exceed `maxWaitMs`.
   */
  reserve(maxWaitMs: number): number | null {
    this.#refill();
    const wait = this.#tokens >= 1 ? 0 : ((1 - this.#tokens) / this.ratePerSecond) * 1000;
    if (wait > maxWaitMs) return null;
    this.#tokens -= 1;
    return Math.ceil(wait);
  }

  /** The upstream said "too many": spend what is saved so the next calls slow down. */
  drain(): void {
    this.#refill();
    this.#tokens = Math.min(this.#tokens, 0);
  }

  /** ms until one token is free, without reserving it. */
  waitMs(): number {
    this.#refill();
    return this.#tokens >= 1 ? 0 : Math.ceil(((1 - this.#tokens) / this.ratePerSecond) * 1000);
  }
}
