import {
  ADX,
  ATR,
  BollingerBands,
  CCI,
  DonchianChannels,
  EMA,
  IchimokuCloud,
  KeltnerChannels,
  MACD,
  MFI,
  OBV,
  PSAR,
  RSI,
  SMA,
  StochasticOscillator,
  SuperTrend,
  VWAP,
  WilliamsR,
} from 'trading-signals';
import type { Bar } from '../bars.js';
import { pluck, type Streaming, source, stream } from './compute.js';
import { type InputDef, type Line, SOURCES, type Source, type StudyDef } from './types.js';

const int = (
  key: string,
  label: string,
  dflt: number,
  aliases: readonly string[],
  chartImg: string | undefined,
  max = 500,
): InputDef => ({ key, label, type: 'int', default: dflt, min: 1, max, aliases, chartImg });

const num = (
  key: string,
  label: string,
  dflt: number,
  aliases: readonly string[],
  chartImg: string | undefined,
  min: number,
  max: number,
): InputDef => ({ key, label, type: 'number', default: dflt, min, max, aliases, chartImg });

const src = (chartImg = 'source'): InputDef => ({
  key: 'source',
  label: 'Source',
  type: 'source',
  default: 'close',
  options: SOURCES,
  aliases: ['src', chartImg].filter((a) => a !== 'source'),
  chartImg,
});

const offset: InputDef = {
  key: 'offset',
  label: 'Offset',
  type: 'int',
  default: 0,
  min: -500,
  max: 500,
  aliases: [],
  chartImg: 'offset',
};

const n = (v: unknown) => v as number;
const hl = (bars: readonly Bar[]) => bars.map((b) => ({ high: b.high, low: b.low }));
const hlc = (bars: readonly Bar[]) => bars.map((b) => ({ high: b.high, low: b.low, close: b.close }));
const hlcv = (bars: readonly Bar[]) =>
  bars.map((b) => ({ high: b.high, low: b.low, close: b.close, volume: b.volume }));

const series = (ind: Streaming<number, number>, values: readonly number[]): Line => stream(ind, values);

const BLUE = '#2962FF';
const ORANGE = '#FF6D00';
const PURPLE = '#7E57C2';
const RED = '#F23645';
const GREEN = '#089981';
const BAND_FILL = 'rgba(41, 98, 255, 0.07)';

/**
 * The built-in renderer's studies, under chart-img.com's names. Inputs take the design document's
 * names and chart-img.com's (`length`, `in_0`…, TradingView's input ids); values come from
 * `trading-signals`.
 */
export const STUDIES: readonly StudyDef[] = [
  {
    name: 'Volume',
    short: 'Vol',
    aliases: ['VOL'],
    pane: 'volume',
    inputs: [
      int('maPeriod', 'MA length', 20, ['length', 'period', 'maLength'], 'length'),
      {
        key: 'showMA',
        label: 'Show MA',
        type: 'boolean',
        default: false,
        aliases: ['ma'],
        chartImg: 'showMA',
      },
    ],
    outputs: [
      { key: 'volume', label: 'Volume', plot: 'histogram', color: '#26A69A', colorBy: 'direction' },
      { key: 'ma', label: 'MA', plot: 'line', color: '#2196F3' },
    ],
    compute: (bars, i) => {
      const volume = bars.map((b) => b.volume);
      return { volume, ...(i.showMA ? { ma: series(new SMA(n(i.maPeriod)), volume) } : {}) };
    },
  },
  {
    name: 'Moving Average',
    short: 'MA',
    aliases: ['SMA', 'Simple Moving Average', 'MA'],
    pane: 'overlay',
    inputs: [int('period', 'Length', 9, ['length', 'in_0'], 'length'), src(), offset],
    outputs: [{ key: 'ma', label: 'MA', plot: 'line', color: BLUE }],
    compute: (bars, i) => ({ ma: series(new SMA(n(i.period)), source(bars, i.source as Source)) }),
    offsets: (i) => ({ ma: n(i.offset) }),
  },
  {
    name: 'Moving Average Exponential',
    short: 'EMA',
    aliases: ['EMA', 'Exponential Moving Average'],
    pane: 'overlay',
    inputs: [int('period', 'Length', 9, ['length', 'in_0'], 'length'), src(), offset],
    outputs: [{ key: 'ema', label: 'EMA', plot: 'line', color: '#FF9800' }],
    compute: (bars, i) => ({ ema: series(new EMA(n(i.period)), source(bars, i.source as Source)) }),
    offsets: (i) => ({ ema: n(i.offset) }),
  },
  {
    name: 'Bollinger Bands',
    short: 'BB',
    aliases: ['BB', 'BBANDS', 'Bollinger'],
    pane: 'overlay',
    inputs: [
      int('period', 'Length', 20, ['length', 'in_0'], 'in_0'),
      num('stddev', 'StdDev', 2, ['mult', 'in_1', 'deviation', 'stdDev'], 'in_1', 0.001, 50),
      src(),
    ],
    outputs: [
      { key: 'upper', label: 'Upper', plot: 'line', color: BLUE },
      { key: 'middle', label: 'Basis', plot: 'line', color: ORANGE },
      { key: 'lower', label: 'Lower', plot: 'line', color: BLUE },
    ],
    fills: [{ upper: 'upper', lower: 'lower', color: BAND_FILL }],
    compute: (bars, i) => {
      const rows = stream(new BollingerBands(n(i.period), n(i.stddev)), source(bars, i.source as Source));
      return { upper: pluck(rows, 'upper'), middle: pluck(rows, 'middle'), lower: pluck(rows, 'lower') };
    },
  },
  {
    name: 'Relative Strength Index',
    short: 'RSI',
    aliases: ['RSI'],
    pane: 'separate',
    inputs: [int('period', 'Length', 14, ['length', 'in_0'], 'length'), src()],
    outputs: [{ key: 'rsi', label: 'RSI', plot: 'line', color: PURPLE }],
    levels: [30, 70],
    range: [0, 100],
    // Wilder's smoothing (the library's default for RSI), as on TradingView.
    compute: (bars, i) => ({ rsi: series(new RSI(n(i.period)), source(bars, i.source as Source)) }),
  },
  {
    name: 'MACD',
    short: 'MACD',
    aliases: ['Moving Average Convergence Divergence'],
    pane: 'separate',
    inputs: [
      int('fast', 'Fast length', 12, ['fastPeriod', 'fastLength', 'in_0'], 'in_0'),
      int('slow', 'Slow length', 26, ['slowPeriod', 'slowLength', 'in_1'], 'in_1'),
      int('signal', 'Signal smoothing', 9, ['signalPeriod', 'signalLength', 'in_2'], 'in_2', 100),
      src('in_3'),
    ],
    outputs: [
      { key: 'histogram', label: 'Histogram', plot: 'histogram', color: '#26A69A', colorBy: 'sign' },
      { key: 'macd', label: 'MACD', plot: 'line', color: BLUE },
      { key: 'signal', label: 'Signal', plot: 'line', color: ORANGE },
    ],
    levels: [0],
    compute: (bars, i) => {
      const macd = new MACD(new EMA(n(i.fast)), new EMA(n(i.slow)), new EMA(n(i.signal)));
      // The signal EMA emits from its first input; keep it (and the histogram) only once it is stable.
      const rows = source(bars, i.source as Source).map((p) => {
        const r = macd.add(p);
        return r ? { ...r, ready: macd.signal.isStable } : null;
      });
      return {
        macd: pluck(rows, 'macd'),
        signal: rows.map((r) => (r?.ready ? r.signal : null)),
        histogram: rows.map((r) => (r?.ready ? r.histogram : null)),
      };
    },
  },
  {
    name: 'Stochastic',
    short: 'Stoch',
    aliases: ['STOCH', 'Stochastic Oscillator'],
    pane: 'separate',
    inputs: [
      int('kPeriod', '%K length', 14, ['period', 'length', 'k', 'in_0'], 'in_0'),
      int('kSmoothing', '%K smoothing', 1, ['smoothK', 'kSlowing', 'in_1'], 'in_1', 100),
      int('dPeriod', '%D smoothing', 3, ['d', 'smoothD', 'signal', 'in_2'], 'in_2', 100),
    ],
    outputs: [
      { key: 'k', label: '%K', plot: 'line', color: BLUE },
      { key: 'd', label: '%D', plot: 'line', color: ORANGE },
    ],
    levels: [20, 80],
    range: [0, 100],
    compute: (bars, i) => {
      const stoch = new StochasticOscillator({
        kPeriod: n(i.kPeriod),
        kSlowingPeriod: n(i.kSmoothing),
        dPeriod: n(i.dPeriod),
      });
      const rows = stream(stoch, hlc(bars));
      return { k: pluck(rows, 'stochK'), d: pluck(rows, 'stochD') };
    },
  },
  {
    name: 'Average True Range',
    short: 'ATR',
    aliases: ['ATR'],
    pane: 'separate',
    inputs: [int('period', 'Length', 14, ['length', 'in_0'], 'in_0')],
    outputs: [{ key: 'atr', label: 'ATR', plot: 'line', color: RED }],
    compute: (bars, i) => ({ atr: stream(new ATR(n(i.period)), hlc(bars)) }),
  },
  {
    name: 'VWAP',
    short: 'VWAP',
    aliases: ['Volume Weighted Average Price'],
    pane: 'overlay',
    inputs: [
      {
        key: 'anchor',
        label: 'Anchor period',
        type: 'enum',
        default: 'Session',
        options: ['Session', 'Week', 'Month', 'None'],
        aliases: ['anchorPeriod'],
        chartImg: 'anchor',
      },
    ],
    outputs: [{ key: 'vwap', label: 'VWAP', plot: 'line', color: BLUE }],
    compute: (bars, i) => {
      const anchorKey = (t: number): number => {
        const d = new Date(t);
        switch (i.anchor) {
          case 'Session':
            return Math.floor(t / 86_400_000);
          case 'Week':
            return Math.floor((t - 4 * 86_400_000) / (7 * 86_400_000));
          case 'Month':
            return d.getUTCFullYear() * 12 + d.getUTCMonth();
          default:
            return 0;
        }
      };
      // A fresh VWAP per anchor period (UTC day, Monday week, month), as TradingView's anchored VWAP.
      let vwap = new VWAP();
      let key: number | undefined;
      return {
        vwap: hlcv(bars).map((c, j) => {
          const k = anchorKey(bars[j]!.time);
          if (key !== undefined && k !== key) vwap = new VWAP();
          key = k;
          return vwap.add(c);
        }),
      };
    },
  },
  {
    name: 'Ichimoku Cloud',
    short: 'Ichimoku',
    aliases: ['Ichimoku', 'ICHIMOKU'],
    pane: 'overlay',
    inputs: [
      int('conversion', 'Conversion line length', 9, ['conversionPeriod', 'tenkan', 'in_0'], 'in_0'),
      int('base', 'Base line length', 26, ['basePeriod', 'kijun', 'in_1'], 'in_1'),
      int('spanB', 'Leading span B length', 52, ['spanBPeriod', 'senkouB', 'in_2'], 'in_2'),
      int('displacement', 'Lagging span', 26, ['lagging', 'in_3'], 'in_3', 200),
    ],
    outputs: [
      { key: 'conversion', label: 'Conversion', plot: 'line', color: BLUE },
      { key: 'base', label: 'Base', plot: 'line', color: '#B71C1C' },
      { key: 'lagging', label: 'Lagging', plot: 'line', color: '#43A047' },
      { key: 'spanA', label: 'Lead A', plot: 'line', color: '#A5D6A7' },
      { key: 'spanB', label: 'Lead B', plot: 'line', color: '#EF9A9A' },
    ],
    fills: [
      {
        upper: 'spanA',
        lower: 'spanB',
        color: 'rgba(67, 160, 71, 0.12)',
        colorInverted: 'rgba(244, 67, 54, 0.12)',
      },
    ],
    compute: (bars, i) => {
      const cloud = new IchimokuCloud({
        conversionInterval: n(i.conversion),
        baseInterval: n(i.base),
        spanBInterval: n(i.spanB),
      });
      // The library waits for the longest window before it emits anything; TradingView draws each
      // line once its own window is full, which we get from one instance per window length.
      const only = (len: number) =>
        stream(
          new IchimokuCloud({ conversionInterval: len, baseInterval: len, spanBInterval: len }),
          hl(bars),
        );
      const conversion = pluck(only(n(i.conversion)), 'conversion');
      const base = pluck(only(n(i.base)), 'base');
      const full = stream(cloud, hl(bars));
      return {
        conversion,
        base,
        lagging: bars.map((b) => b.close),
        spanA: conversion.map((c, j) => (c === null || base[j] === null ? null : (c + base[j]!) / 2)),
        spanB: pluck(full, 'spanB'),
      };
    },
    // Leading spans are plotted ahead of price and the lagging span behind it, by the displacement
    // (TradingView shifts by displacement − 1 bars).
    offsets: (i) => ({
      spanA: n(i.displacement) - 1,
      spanB: n(i.displacement) - 1,
      lagging: -(n(i.displacement) - 1),
    }),
  },
  {
    name: 'Parabolic SAR',
    short: 'SAR',
    aliases: ['PSAR', 'SAR'],
    pane: 'overlay',
    inputs: [
      {
        ...num('start', 'Start', 0.02, ['in_0'], 'in_0', 0.001, 1),
        note: 'The library starts at the increment; `start` only travels to chart-img.com.',
      },
      num('increment', 'Increment', 0.02, ['step', 'in_1'], 'in_1', 0.001, 1),
      num('max', 'Maximum value', 0.2, ['maximum', 'in_2'], 'in_2', 0.002, 1),
    ],
    outputs: [{ key: 'sar', label: 'SAR', plot: 'dots', color: BLUE }],
    compute: (bars, i) => {
      const psar = new PSAR({ accelerationStep: n(i.increment), accelerationMax: n(i.max) });
      return { sar: stream(psar, hl(bars)) };
    },
  },
  {
    name: 'Super Trend',
    short: 'SuperTrend',
    aliases: ['SuperTrend', 'Supertrend'],
    pane: 'overlay',
    inputs: [
      int('period', 'ATR length', 10, ['length', 'atrPeriod', 'in_0'], 'in_0'),
      num('multiplier', 'Factor', 3, ['factor', 'mult', 'in_1'], 'in_1', 0.01, 50),
    ],
    outputs: [
      { key: 'up', label: 'Up', plot: 'step', color: GREEN },
      { key: 'down', label: 'Down', plot: 'step', color: RED },
    ],
    compute: (bars, i) => {
      const rows = stream(new SuperTrend({ interval: n(i.period), multiplier: n(i.multiplier) }), hlc(bars));
      return {
        up: rows.map((r) => (r?.trend === 'BULLISH' ? r.supertrend : null)),
        down: rows.map((r) => (r?.trend === 'BEARISH' ? r.supertrend : null)),
      };
    },
  },
  {
    name: 'On Balance Volume',
    short: 'OBV',
    aliases: ['OBV'],
    pane: 'separate',
    inputs: [],
    outputs: [{ key: 'obv', label: 'OBV', plot: 'line', color: BLUE }],
    compute: (bars) => {
      // OBV(2) compares each close with the previous one and accumulates from the second bar.
      const candles = bars.map((b) => ({ ...b }));
      return { obv: stream(new OBV(2), candles) };
    },
  },
  {
    name: 'Average Directional Index',
    short: 'ADX',
    aliases: ['ADX'],
    pane: 'separate',
    inputs: [
      int('period', 'ADX smoothing', 14, ['length', 'smoothing', 'in_0'], 'in_0', 200),
      {
        ...int('diPeriod', 'DI length', 14, ['diLength', 'in_1'], 'in_1', 200),
        note: 'The library uses one length for DI and ADX; the built-in renderer uses `period` for both.',
      },
    ],
    outputs: [
      { key: 'adx', label: 'ADX', plot: 'line', color: '#F50057' },
      { key: 'plusDI', label: '+DI', plot: 'line', color: GREEN, hidden: true },
      { key: 'minusDI', label: '-DI', plot: 'line', color: RED, hidden: true },
    ],
    levels: [25],
    compute: (bars, i) => {
      const adx = new ADX(n(i.period));
      const out = { adx: [] as Line, plusDI: [] as Line, minusDI: [] as Line };
      for (const c of hlc(bars)) {
        const v = adx.add(c);
        const ready = v !== null && adx.isStable;
        out.adx.push(ready ? v : null);
        out.plusDI.push(ready && typeof adx.pdi === 'number' ? adx.pdi * 100 : null);
        out.minusDI.push(ready && typeof adx.mdi === 'number' ? adx.mdi * 100 : null);
      }
      return out;
    },
  },
  {
    name: 'Williams %R',
    short: '%R',
    aliases: ['WILLR', 'Williams R', 'Williams Percent Range'],
    pane: 'separate',
    inputs: [int('period', 'Length', 14, ['length', 'in_0'], 'length')],
    outputs: [{ key: 'r', label: '%R', plot: 'line', color: PURPLE }],
    levels: [-80, -20],
    range: [-100, 0],
    compute: (bars, i) => ({ r: stream(new WilliamsR(n(i.period)), hlc(bars)) }),
  },
  {
    name: 'Commodity Channel Index',
    short: 'CCI',
    aliases: ['CCI'],
    pane: 'separate',
    inputs: [int('period', 'Length', 20, ['length', 'in_0'], 'length')],
    outputs: [{ key: 'cci', label: 'CCI', plot: 'line', color: BLUE }],
    levels: [-100, 0, 100],
    compute: (bars, i) => ({ cci: stream(new CCI(n(i.period)), hlc(bars)) }),
  },
  {
    name: 'Money Flow Index',
    short: 'MFI',
    aliases: ['MFI'],
    pane: 'separate',
    inputs: [int('period', 'Length', 14, ['length', 'in_0'], 'length')],
    outputs: [{ key: 'mfi', label: 'MFI', plot: 'line', color: PURPLE }],
    levels: [20, 80],
    range: [0, 100],
    compute: (bars, i) => ({ mfi: stream(new MFI(n(i.period)), hlcv(bars)) }),
  },
  {
    name: 'Donchian Channels',
    short: 'DC',
    aliases: ['DC', 'Donchian'],
    pane: 'overlay',
    inputs: [int('period', 'Length', 20, ['length', 'in_0'], 'length')],
    outputs: [
      { key: 'upper', label: 'Upper', plot: 'line', color: BLUE },
      { key: 'middle', label: 'Basis', plot: 'line', color: ORANGE },
      { key: 'lower', label: 'Lower', plot: 'line', color: BLUE },
    ],
    fills: [{ upper: 'upper', lower: 'lower', color: BAND_FILL }],
    compute: (bars, i) => {
      const rows = stream(new DonchianChannels(n(i.period)), hl(bars));
      return { upper: pluck(rows, 'upper'), middle: pluck(rows, 'middle'), lower: pluck(rows, 'lower') };
    },
  },
  {
    name: 'Keltner Channels',
    short: 'KC',
    aliases: ['KC', 'Keltner'],
    pane: 'overlay',
    inputs: [
      int('period', 'Length', 20, ['length', 'emaPeriod', 'in_0'], 'length'),
      num('multiplier', 'Multiplier', 2, ['mult', 'in_1'], 'mult', 0.01, 50),
      int('atrPeriod', 'ATR length', 10, ['atrLength', 'atrlength', 'in_2'], 'atrlength'),
    ],
    outputs: [
      { key: 'upper', label: 'Upper', plot: 'line', color: BLUE },
      { key: 'middle', label: 'Basis', plot: 'line', color: BLUE },
      { key: 'lower', label: 'Lower', plot: 'line', color: BLUE },
    ],
    fills: [{ upper: 'upper', lower: 'lower', color: BAND_FILL }],
    compute: (bars, i) => {
      const kc = new KeltnerChannels({
        emaInterval: n(i.period),
        multiplier: n(i.multiplier),
        atrInterval: n(i.atrPeriod),
      });
      const rows = stream(kc, hlc(bars));
      return { upper: pluck(rows, 'upper'), middle: pluck(rows, 'middle'), lower: pluck(rows, 'lower') };
    },
  },
];

export const STUDY_NAMES: readonly string[] = STUDIES.map((s) => s.name);
