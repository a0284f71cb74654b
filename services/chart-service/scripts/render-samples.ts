/** Writes sample charts to /tmp/render-samples (or the folder given) for eyeballing. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ChartConfig, type ChartConfigInput } from '@chartwright/contracts';
import { generateBars } from '@chartwright/market';
import { renderChart } from '../src/render/index.js';

const dir = process.argv[2] ?? '/tmp/render-samples';
const END = Date.UTC(2025, 5, 20, 12);

const samples: Record<string, ChartConfigInput> = {
  'dark-candle-rsi-macd': {
    symbol: 'BINANCE:BTCUSDT',
    interval: '4h',
    theme: 'dark',
    studies: [
      { name: 'Volume' },
      { name: 'Bollinger Bands', input: { period: 20, stddev: 2 } },
      { name: 'Moving Average Exponential', input: { period: 50 } },
      { name: 'Relative Strength Index', input: { period: 14 } },
      { name: 'MACD' },
    ],
    drawings: [
      {
        name: 'Horizontal Line',
        input: { price: 0 },
        override: { linecolor: '#f23645', text: 'Resistance <R1>' },
      },
      { name: 'Trend Line', input: { startDatetime: 0, startPrice: 0, endDatetime: 0, endPrice: 0 } },
    ],
  },
  'light-hollow-ichimoku': {
    symbol: 'BINANCE:ETHUSDT',
    interval: '1D',
    theme: 'light',
    style: 'hollowCandle',
    studies: [
      { name: 'Ichimoku Cloud' },
      { name: 'Parabolic SAR' },
      { name: 'Stochastic' },
      { name: 'Average Directional Index' },
    ],
    drawings: [
      { name: 'Fib Retracement', input: { startDatetime: 0, startPrice: 0, endDatetime: 0, endPrice: 0 } },
    ],
  },
  'light-candle-positions': {
    symbol: 'BINANCE:SOLUSDT',
    interval: '1h',
    theme: 'light',
    studies: [
      { name: 'Super Trend' },
      { name: 'VWAP' },
      { name: 'Volume', input: { showMA: true } },
      { name: 'Average True Range' },
    ],
    drawings: [
      { name: 'Long Position', input: { startDatetime: 0, entryPrice: 0, targetPrice: 0, stopPrice: 0 } },
      { name: 'Arrow Mark Up', input: { datetime: 0, price: 0, text: 'Buy' } },
      { name: 'Arrow Mark Down', input: { datetime: 0, price: 0, text: 'Sell' } },
      {
        name: 'Vertical Line',
        input: { datetime: 0 },
        override: { linestyle: 2, linecolor: '#9C27B0', text: 'FOMC' },
      },
    ],
  },
  'dark-heikin-channels-small': {
    symbol: 'BINANCE:BTCUSDT',
    interval: '15m',
    theme: 'dark',
    style: 'heikinAshi',
    width: 400,
    height: 300,
    studies: [{ name: 'Keltner Channels' }, { name: 'Donchian Channels' }, { name: 'Williams %R' }],
    drawings: [
      { name: 'Rectangle', input: { startDatetime: 0, startPrice: 0, endDatetime: 0, endPrice: 0 } },
    ],
  },
  'dark-area-oscillators-synthetic': {
    symbol: 'DEMO:ACME',
    interval: '1W',
    theme: 'dark',
    style: 'area',
    width: 1600,
    height: 1000,
    studies: [
      { name: 'Moving Average', input: { length: 20 } },
      { name: 'Moving Average', input: { length: 50 } },
      { name: 'On Balance Volume' },
      { name: 'Commodity Channel Index' },
      { name: 'Money Flow Index' },
    ],
    drawings: [
      { name: 'Short Position', input: { startDatetime: 0, entryPrice: 0, targetPrice: 0, stopPrice: 0 } },
      { name: 'Text', input: { datetime: 0, price: 0, text: 'Tom & Jerry\'s "note" <b>' } },
    ],
  },
  'light-bar-line': {
    symbol: 'BINANCE:BNBUSDT',
    interval: '1M',
    theme: 'light',
    style: 'bar',
    studies: [{ name: 'Moving Average Exponential', input: { period: 12 } }],
    drawings: [],
  },
};

await mkdir(dir, { recursive: true });
for (const [name, raw] of Object.entries(samples)) {
  const config = ChartConfig.parse(raw);
  const bars = generateBars(config.symbol, config.interval, 300, { end: END });
  // Place the drawings on the data so they land where a user would put them.
  const at = (k: number) => bars[Math.max(0, bars.length - k)]!;
  for (const d of config.drawings) {
    const i = d.input as Record<string, number>;
    const a = at(120);
    const b = at(40);
    const last = at(1).close;
    if ('price' in i)
      i.price =
        d.name === 'Arrow Mark Down'
          ? at(25).high
          : d.name === 'Arrow Mark Up'
            ? at(60).low
            : Math.max(...bars.slice(-150).map((x) => x.high));
    if ('datetime' in i)
      i.datetime =
        d.name === 'Arrow Mark Down'
          ? at(25).time
          : d.name === 'Arrow Mark Up'
            ? at(60).time
            : d.name === 'Text'
              ? at(80).time
              : at(30).time;
    if (d.name === 'Text') i.price = at(80).high * 1.03;
    if (d.name === 'Fib Retracement' || d.name === 'Trend Line') {
      // A swing: the lowest low of an older window to the highest high (or a later low) after it.
      const older = bars.slice(-200, -100);
      const newer = bars.slice(-100, -5);
      const low = older.reduce((m, x) => (x.low < m.low ? x : m));
      const other =
        d.name === 'Fib Retracement'
          ? newer.reduce((m, x) => (x.high > m.high ? x : m))
          : newer.reduce((m, x) => (x.low < m.low ? x : m));
      Object.assign(i, {
        startDatetime: low.time,
        startPrice: low.low,
        endDatetime: other.time,
        endPrice: d.name === 'Fib Retracement' ? other.high : other.low,
      });
      continue;
    }
    if ('startDatetime' in i) i.startDatetime = a.time;
    if ('endDatetime' in i) i.endDatetime = b.time;
    if ('startPrice' in i) i.startPrice = a.low;
    if ('endPrice' in i) i.endPrice = b.high;
    if ('entryPrice' in i) {
      i.startDatetime = at(30).time;
      i.entryPrice = last;
      const long = d.name === 'Long Position';
      i.targetPrice = last * (long ? 1.04 : 0.9);
      i.stopPrice = last * (long ? 0.98 : 1.05);
    }
  }
  const t = performance.now();
  const png = await renderChart({ config, bars, synthetic: name.includes('synthetic') });
  const ms = performance.now() - t;
  await writeFile(join(dir, `${name}.png`), png.data);
  const svg = await renderChart({
    config: { ...config, format: 'svg' },
    bars,
    synthetic: name.includes('synthetic'),
  });
  await writeFile(join(dir, `${name}.svg`), svg.data);
  console.log(`${name}: ${png.width}×${png.height} ${png.data.length} bytes in ${ms.toFixed(1)} ms`);
}
