import { ChartConfig, type ChartConfigInput } from '@chartwright/contracts';
import { type Bar, generateBars } from '@chartwright/market';
import type { RenderInput } from '../../src/render/index.js';

/** A fixed clock: the newest bar of every case, so nothing depends on when the test runs. */
const END = Date.UTC(2025, 5, 2, 12);

export interface GoldenCase {
  name: string;
  input: RenderInput;
}

const series = (symbol: string, interval: ChartConfigInput['interval'], count: number) =>
  generateBars(symbol, interval, count, { end: END, seed: 7 });

const btc = series('BINANCE:BTCUSDT', '1h', 260);
const eth = series('BINANCE:ETHUSDT', '4h', 260);
const aapl = series('NASDAQ:AAPL', '1D', 320);
const eur = series('FX:EURUSD', '15m', 300);

const at = (bars: readonly Bar[], fromEnd: number) => bars[bars.length - 1 - fromEnd]!;
/** The bar with the lowest low, or the highest high, of the last `n`. */
const extreme = (bars: readonly Bar[], n: number, side: 'low' | 'high') =>
  bars.slice(-n).reduce((a, b) => ((side === 'low' ? b.low < a.low : b.high > a.high) ? b : a));
const btcLow = extreme(btc, 160, 'low');
const btcHigh = extreme(btc, 160, 'high');
/** An equity curve in R (one value per point, as a backtest's), ending below zero. */
const equity: Bar[] = btc.slice(-120).map((b, i) => {
  const v = Math.round((Math.sin(i / 9) * 4 - i / 25) * 100) / 100;
  return { time: b.time, open: v, high: v, low: v, close: v, volume: 0 };
});

function golden(
  name: string,
  bars: readonly Bar[],
  config: Partial<ChartConfigInput> & Pick<ChartConfigInput, 'symbol' | 'interval'>,
  extra: Partial<Omit<RenderInput, 'config' | 'bars'>> = {},
): GoldenCase {
  return {
    name,
    input: {
      config: ChartConfig.parse({ width: 1000, height: 600, format: 'svg', ...config }),
      bars,
      synthetic: false,
      visibleBars: 160,
      ...extra,
    },
  };
}

const btcBase = { symbol: 'BINANCE:BTCUSDT', interval: '1h' } as const;
const ethBase = { symbol: 'BINANCE:ETHUSDT', interval: '4h' } as const;
const aaplBase = { symbol: 'NASDAQ:AAPL', interval: '1D' } as const;

/**
 * Representative charts: every style, both themes, every study (each pane study at least once),
 * every drawing, long and short positions, an intraday time zone, both text engines.
 */
export const CASES: GoldenCase[] = [
  golden('candle-dark-ma-ema-rsi', btc, {
    ...btcBase,
    theme: 'dark',
    style: 'candle',
    studies: [
      { name: 'Volume' },
      { name: 'Moving Average', input: { period: 20 } },
      { name: 'Moving Average', input: { period: 50 } },
      { name: 'Moving Average Exponential', input: { period: 9 } },
      { name: 'Relative Strength Index' },
    ],
    drawings: [
      {
        name: 'Trend Line',
        input: {
          startDatetime: at(btc, 120).time,
          startPrice: at(btc, 120).low,
          endDatetime: at(btc, 10).time,
          endPrice: at(btc, 10).low,
        },
      },
      { name: 'Horizontal Line', input: { price: at(btc, 40).high, text: 'Resistance' } },
    ],
  }),
  golden('candle-light-volume', btc, {
    ...btcBase,
    theme: 'light',
    style: 'candle',
    studies: [{ name: 'Volume' }, { name: 'Moving Average', input: { period: 20 } }],
  }),
  golden('bar-light-bollinger-macd', eth, {
    ...ethBase,
    theme: 'light',
    style: 'bar',
    studies: [{ name: 'Bollinger Bands' }, { name: 'MACD' }],
  }),
  golden('line-dark-vwap-stochastic', btc, {
    ...btcBase,
    theme: 'dark',
    style: 'line',
    studies: [{ name: 'VWAP' }, { name: 'Stochastic' }],
  }),
  golden('area-light-keltner-atr', eth, {
    ...ethBase,
    theme: 'light',
    style: 'area',
    studies: [{ name: 'Keltner Channels' }, { name: 'Average True Range' }],
  }),
  golden('hollow-dark-donchian-obv', aapl, {
    ...aaplBase,
    theme: 'dark',
    style: 'hollowCandle',
    range: '6M',
    studies: [{ name: 'Donchian Channels' }, { name: 'On Balance Volume' }],
  }),
  golden('heikinashi-light-ichimoku-adx', aapl, {
    ...aaplBase,
    theme: 'light',
    style: 'heikinAshi',
    studies: [{ name: 'Ichimoku Cloud' }, { name: 'Average Directional Index' }],
  }),
  golden('candle-dark-sar-supertrend-oscillators', eth, {
    ...ethBase,
    theme: 'dark',
    studies: [
      { name: 'Parabolic SAR' },
      { name: 'Super Trend' },
      { name: 'Williams %R' },
      { name: 'Commodity Channel Index' },
      { name: 'Money Flow Index' },
    ],
  }),
  golden('drawings-light', btc, {
    ...btcBase,
    theme: 'light',
    drawings: [
      { name: 'Vertical Line', input: { datetime: at(btc, 100).time, text: 'Event' } },
      {
        name: 'Rectangle',
        input: {
          startDatetime: at(btc, 90).time,
          startPrice: at(btc, 90).high,
          endDatetime: at(btc, 60).time,
          endPrice: at(btc, 75).low,
          text: 'Range',
        },
      },
      {
        name: 'Fib Retracement',
        input: {
          startDatetime: btcLow.time,
          startPrice: btcLow.low,
          endDatetime: btcHigh.time,
          endPrice: btcHigh.high,
        },
      },
      { name: 'Text', input: { datetime: at(btc, 30).time, price: at(btc, 30).high, text: 'Breakout' } },
      { name: 'Arrow Mark Up', input: { datetime: at(btc, 20).time, price: at(btc, 20).low } },
      {
        name: 'Arrow Mark Down',
        input: { datetime: at(btc, 5).time, price: at(btc, 5).high, text: 'Sell' },
      },
      {
        name: 'Trend Line',
        input: {
          startDatetime: at(btc, 140).time,
          startPrice: at(btc, 140).close,
          endDatetime: at(btc, 40).time,
          endPrice: at(btc, 40).close,
          text: 'Trend',
        },
        override: { linestyle: 2 },
      },
      {
        name: 'Horizontal Line',
        input: { price: at(btc, 0).close },
        override: { linecolor: '#9C27B0', linestyle: 1 },
      },
    ],
  }),
  golden('long-position-dark', btc, {
    ...btcBase,
    theme: 'dark',
    drawings: [
      {
        name: 'Long Position',
        input: {
          startDatetime: at(btc, 3).time,
          entryPrice: at(btc, 0).close,
          targetPrice: at(btc, 0).close * 1.05,
          stopPrice: at(btc, 0).close * 0.975,
        },
      },
    ],
  }),
  golden('short-position-light', eth, {
    ...ethBase,
    theme: 'light',
    drawings: [
      {
        name: 'Short Position',
        input: {
          startDatetime: at(eth, 40).time,
          endDatetime: at(eth, 10).time,
          entryPrice: at(eth, 40).close,
          targetPrice: at(eth, 40).close * 0.94,
          stopPrice: at(eth, 40).close * 1.03,
          text: 'Fade',
        },
      },
    ],
  }),
  golden(
    'intraday-new-york-synthetic',
    eur,
    {
      symbol: 'FX:EURUSD',
      interval: '15m',
      theme: 'light',
      timezone: 'America/New_York',
      studies: [{ name: 'Moving Average Exponential', input: { period: 21 } }],
    },
    { synthetic: true, visibleBars: 250 },
  ),
  golden(
    'small-dark-outlines',
    btc,
    {
      ...btcBase,
      theme: 'dark',
      width: 400,
      height: 300,
      format: 'png',
      studies: [{ name: 'Volume' }, { name: 'Relative Strength Index' }],
    },
    { synthetic: true, symbolLabel: 'Bitcoin / TetherUS', visibleBars: 60 },
  ),
  golden(
    'equity-dark-value',
    equity,
    { ...btcBase, theme: 'dark', style: 'line' },
    { symbolLabel: 'Equity (R) of backtest BINANCE:BTCUSDT', valueLabel: 'R', visibleBars: 120 },
  ),
];
