import type { Bar } from '../bars.js';
import type { Line, Source } from './types.js';

/** The library's indicators share this streaming shape. */
export interface Streaming<I, R> {
  add(input: I): R | null;
  readonly isStable: boolean;
  getRequiredInputs?(): number;
}

/** Feeds every input to `ind`, keeping results only once the indicator says it is stable. */
export function stream<I, R>(ind: Streaming<I, R>, inputs: readonly I[]): (R | null)[] {
  // Some indicators answer `isStable` by throwing and catching an error until they are: ask
  // only from the input count they need, and stop asking once they are.
  const needed = ind.getRequiredInputs?.() ?? 0;
  let stable = false;
  return inputs.map((x, i) => {
    const r = ind.add(x);
    if (!stable && i + 1 >= needed) stable = ind.isStable;
    return stable && r !== null && r !== undefined ? r : null;
  });
}

export function pluck<R, K extends keyof R>(rows: readonly (R | null)[], key: K): Line {
  return rows.map((r) => (r == null ? null : (r[key] as unknown as number)));
}

export function source(bars: readonly Bar[], src: Source): number[] {
  switch (src) {
    case 'open':
      return bars.map((b) => b.open);
    case 'high':
      return bars.map((b) => b.high);
    case 'low':
      return bars.map((b) => b.low);
    case 'hl2':
      return bars.map((b) => (b.high + b.low) / 2);
    case 'hlc3':
      return bars.map((b) => (b.high + b.low + b.close) / 3);
    case 'ohlc4':
      return bars.map((b) => (b.open + b.high + b.low + b.close) / 4);
    default:
      return bars.map((b) => b.close);
  }
}

/** Last non-null value of a line. */
export function lastValue(line: Line | undefined): number | null {
  if (!line) return null;
  for (let i = line.length - 1; i >= 0; i--) {
    const v = line[i];
    if (v !== null && v !== undefined) return v;
  }
  return null;
}
