import { describe, expect, it } from 'vitest';
import { resolveDrawing } from '../src/drawings/catalogue.js';
import { CatalogueError } from '../src/errors.js';
import { STUDIES } from '../src/studies/catalogue.js';
import { resolveStudy, toChartImgInputs, toChartImgStudy } from '../src/studies/resolve.js';

const REQUIRED = [
  'Volume',
  'Moving Average',
  'Moving Average Exponential',
  'Bollinger Bands',
  'Relative Strength Index',
  'MACD',
  'Stochastic',
  'Average True Range',
  'VWAP',
  'Ichimoku Cloud',
  'Parabolic SAR',
  'Super Trend',
  'On Balance Volume',
  'Average Directional Index',
  'Williams %R',
  'Commodity Channel Index',
  'Money Flow Index',
  'Donchian Channels',
  'Keltner Channels',
];

const catch_ = (fn: () => unknown): CatalogueError => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CatalogueError);
    return err as CatalogueError;
  }
  throw new Error('expected a CatalogueError');
};

describe('study catalogue', () => {
  it('has every required study under chart-img.com names', () => {
    expect(STUDIES.map((s) => s.name)).toEqual(expect.arrayContaining(REQUIRED));
  });

  it('applies defaults and accepts both naming styles', () => {
    expect(resolveStudy({ name: 'Relative Strength Index' }).inputs.period).toBe(14);
    expect(resolveStudy({ name: 'Relative Strength Index', input: { length: 21 } }).inputs.period).toBe(21);
    const bb = resolveStudy({ name: 'Bollinger Bands', input: { period: 30, stddev: 2.5 } });
    expect(bb.inputs).toMatchObject({ period: 30, stddev: 2.5 });
    expect(resolveStudy({ name: 'Bollinger Bands', input: { in_0: 30, in_1: 2.5 } }).inputs).toEqual(
      bb.inputs,
    );
    expect(resolveStudy({ name: 'MACD', input: { fast: 8, slow: 21, signal: 5 } }).title).toBe('MACD 8 21 5');
    expect(resolveStudy({ name: 'rsi' }).def.name).toBe('Relative Strength Index');
    expect(resolveStudy({ name: 'Keltner Channels', input: { mult: 1.5 } }).inputs.multiplier).toBe(1.5);
  });

  it('rejects unknown names with the supported list', () => {
    const err = catch_(() => resolveStudy({ name: 'Magic Oscillator' }));
    expect(err.code).toBe('VALIDATION_ERROR');
    expect(err.message).toContain('Unknown study "Magic Oscillator"');
    for (const name of REQUIRED) expect(err.message).toContain(name);
    expect(err.details.supported).toContain('MACD');
  });

  it('names the bad input', () => {
    expect(catch_(() => resolveStudy({ name: 'RSI', input: { period: 0 } })).message).toBe(
      'Relative Strength Index: input "period" must be between 1 and 500, got 0',
    );
    expect(catch_(() => resolveStudy({ name: 'RSI', input: { length: '14' } })).message).toContain(
      'input "length" must be a number, got string',
    );
    expect(catch_(() => resolveStudy({ name: 'RSI', input: { period: 14.5 } })).message).toContain(
      'whole number',
    );
    expect(catch_(() => resolveStudy({ name: 'RSI', input: { colour: 1 } })).message).toMatch(
      /unknown input "colour"\. Accepted inputs: period\/length/,
    );
    expect(catch_(() => resolveStudy({ name: 'RSI', input: { period: 10, length: 12 } })).details.field).toBe(
      'length',
    );
    expect(catch_(() => resolveStudy({ name: 'MACD', input: { in_3: 'volume' } })).message).toContain(
      'must be one of open, high, low, close',
    );
    expect(catch_(() => resolveStudy({ name: 'MACD', input: { fast: 30, slow: 10 } })).message).toContain(
      '"fast" must be shorter',
    );
    expect(catch_(() => resolveStudy({ name: 'OBV', input: { period: 3 } })).message).toContain(
      'takes no inputs',
    );
  });

  it('translates inputs to chart-img.com names', () => {
    expect(toChartImgInputs({ name: 'Relative Strength Index', input: { period: 14 } })).toEqual({
      length: 14,
    });
    expect(toChartImgInputs({ name: 'Bollinger Bands', input: { period: 20, stddev: 2 } })).toEqual({
      in_0: 20,
      in_1: 2,
    });
    expect(
      toChartImgInputs({ name: 'MACD', input: { fast: 12, slow: 26, signal: 9, source: 'close' } }),
    ).toEqual({
      in_0: 12,
      in_1: 26,
      in_2: 9,
      in_3: 'close',
    });
    expect(toChartImgStudy({ name: 'ema', input: { period: 50 } })).toEqual({
      name: 'Moving Average Exponential',
      input: { length: 50 },
    });
  });
});

describe('drawing catalogue', () => {
  it('resolves inputs, times and overrides', () => {
    const d = resolveDrawing({
      name: 'Trend Line',
      input: {
        startDatetime: '2025-01-01T00:00:00Z',
        startPrice: 100,
        endDatetime: 1736035200000,
        endPrice: 110,
      },
      override: { linecolor: '#f23645', linestyle: 2, linewidth: 2, text: 'breakout' },
    });
    expect(d.input).toMatchObject({ startDatetime: Date.UTC(2025, 0, 1), endDatetime: 1736035200000 });
    expect(d.override).toMatchObject({ linecolor: '#f23645', linestyle: 2 });
    expect(resolveDrawing({ name: 'Horizontal Line', input: { price: 107418 } }).input.price).toBe(107418);
    expect(
      resolveDrawing({ name: 'Text', input: { datetime: 0, price: 1 }, override: { text: 'hi' } }).input.text,
    ).toBe('hi');
  });

  it('rejects unknown drawings with the supported list', () => {
    const err = catch_(() => resolveDrawing({ name: 'Pitchfork', input: {} }));
    expect(err.message).toContain('Supported drawings: Horizontal Line, Vertical Line, Trend Line');
    expect(err.message).toContain('Arrow Mark Down');
  });

  it('names bad inputs and overrides', () => {
    expect(catch_(() => resolveDrawing({ name: 'Horizontal Line', input: {} })).message).toBe(
      'Horizontal Line: input "price" is required',
    );
    expect(
      catch_(() =>
        resolveDrawing({ name: 'Horizontal Line', input: { price: 1 }, override: { linestyle: 5 } }),
      ).details.field,
    ).toBe('linestyle');
    expect(
      catch_(() =>
        resolveDrawing({
          name: 'Horizontal Line',
          input: { price: 1 },
          override: { linecolor: 'red" onload="x' },
        }),
      ).message,
    ).toContain('must be a colour');
    expect(
      catch_(() => resolveDrawing({ name: 'Vertical Line', input: { datetime: 'yesterday' } })).message,
    ).toContain('ISO 8601');
    expect(
      catch_(() => resolveDrawing({ name: 'Horizontal Line', input: { price: 1, foo: 2 } })).message,
    ).toContain('unknown input "foo". Accepted: price, text');
    expect(
      catch_(() =>
        resolveDrawing({
          name: 'Long Position',
          input: { startDatetime: 0, entryPrice: 100, targetPrice: 90, stopPrice: 95 },
        }),
      ).message,
    ).toContain('targetPrice > entryPrice > stopPrice');
    expect(
      catch_(() => resolveDrawing({ name: 'Text', input: { datetime: 0, price: 1 } })).details.field,
    ).toBe('text');
  });
});
