import type { ChartConfig } from '@chartwright/contracts';
import {
  type Bar,
  barCountFor,
  intervalMs,
  type ResolvedDrawing,
  resolveDrawing,
  resolveStudies,
} from '@chartwright/market';
import { assignLineColors } from './colors.js';
import type { CompareSeries } from './compare.js';
import { FONT_FAMILY } from './fonts.js';
import { formatPrice, priceDecimals } from './format.js';
import { drawingPrices } from './paint/drawings.js';
import { niceTicks, stepDecimals, type TimeTick, timeTicks } from './scale.js';
import {
  heikinAshi,
  type Pane,
  type StudyView,
  separatePane,
  studyViews,
  visiblePoints,
  yOf,
} from './series.js';
import { type TextEngine, textEngine } from './text.js';
import { PALETTES, type Palette } from './theme.js';

export interface RenderInput {
  /** A chart config with defaults applied (`ChartConfig.parse`). */
  config: ChartConfig;
  /** Bars, oldest first. More bars than the range shows warm the indicators up. */
  bars: readonly Bar[];
  /** Generated bars: the image says so in its title and with a watermark. */
  synthetic: boolean;
  /** Shown instead of the symbol in the title, e.g. `Bitcoin / TetherUS`. */
  symbolLabel?: string;
  /**
   * One value per point (an equity curve, open = high = low = close): the header reads
   * `<valueLabel> <last value>` instead of a price's OHLC and change, coloured by the value's sign.
   */
  valueLabel?: string;
  /**
   * Bars to show, counted from the newest; the older ones only warm the indicators up.
   * Default: the config's range, else all bars.
   */
  visibleBars?: number;
  /** A comparison chart's series (config.compare), aligned on shared times; `bars` is then unused. */
  compare?: CompareSeries[];
}

export class RenderError extends Error {
  override readonly name = 'RenderError';
  readonly code = 'VALIDATION_ERROR' as const;
}

export const SIZE_LIMITS = { minWidth: 400, maxWidth: 2048, minHeight: 300, maxHeight: 1920 } as const;

/** A time-axis label that found room, at its x. */
export interface PlacedTimeTick {
  x: number;
  label: string;
  rank: number;
}

/** A drawing to paint, with its place in the config and its line colour. */
export interface PlacedDrawing {
  drawing: ResolvedDrawing;
  /** Index in `config.drawings`. */
  index: number;
  color: string;
}

/** A separate pane (RSI, MACD…) below the main pane. */
export interface PaneLayout {
  view: StudyView;
  top: number;
  height: number;
  /** Its value scale; the plot area starts under the pane's legend line. */
  scale: Pane;
}

/**
 * Everything the painters need, computed once: sizes, the plot areas and their scales, the panes,
 * the ticks and where their labels go. Painters only turn this into SVG.
 */
export interface Layout {
  input: RenderInput;
  config: ChartConfig;
  W: number;
  H: number;
  /** Base font size. */
  fs: number;
  te: TextEngine;
  /** Text width with the chart's font. */
  tw(text: string, size?: number, bold?: boolean): number;
  pal: Palette;

  /** Every bar (the older ones warm the studies up), the visible ones, and what the style draws. */
  allBars: readonly Bar[];
  bars: readonly Bar[];
  candles: readonly Bar[];
  /** Index in `allBars` of the first visible bar. */
  start: number;
  /** Horizontal slots: the visible bars plus room on the right. */
  slots: number;
  slotW: number;

  views: StudyView[];
  overlays: StudyView[];
  volume: StudyView | undefined;
  panes: PaneLayout[];
  drawings: PlacedDrawing[];
  /** What the chart could not show, for the generate answer (drawings out of range). */
  warnings: string[];

  /** The plot spans x from `left` to `right`; the price axis is right of it, `axisW` wide. */
  left: number;
  right: number;
  axisW: number;
  /** Top of the time axis. */
  bottom: number;
  /** Bottom of the main pane (top of the first separate pane). */
  mainBottom: number;
  titleSize: number;
  legendLine: number;
  headerH: number;
  volumeH: number;
  /** The main pane's price scale. */
  main: Pane;
  /** Price decimals on the axis and in the title. */
  decimals: number;
  priceTicks: number[];
  timeTicks: PlacedTimeTick[];

  lastBar: Bar | undefined;
  /** Colour of the last bar's direction (title values, last price line and tag). */
  lastColor: string;

  /** x of a slot's centre; slot 0 is the first visible bar. */
  x(slot: number): number;
  /** y of a price in the main pane. */
  y(price: number): number;
  /** x of a time (ms), interpolated between bars and extrapolated beyond them. */
  xOfTime(time: number): number;
}

function checkSize(W: number, H: number): void {
  if (
    !Number.isInteger(W) ||
    !Number.isInteger(H) ||
    W < SIZE_LIMITS.minWidth ||
    W > SIZE_LIMITS.maxWidth ||
    H < SIZE_LIMITS.minHeight ||
    H > SIZE_LIMITS.maxHeight
  ) {
    throw new RenderError(`Image size must be between 400×300 and 2048×1920, got ${W}×${H}`);
  }
}

/** Price range of the main pane: visible bars, overlay values, and drawings near the data. */
function priceRange(
  candles: readonly Bar[],
  overlays: StudyView[],
  drawings: ResolvedDrawing[],
  start: number,
  slots: number,
): [number, number] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const b of candles) {
    lo = Math.min(lo, b.low);
    hi = Math.max(hi, b.high);
  }
  for (const v of overlays) {
    for (const p of v.plots) {
      for (const [, val] of visiblePoints(p, start, slots)) {
        lo = Math.min(lo, val);
        hi = Math.max(hi, val);
      }
    }
  }
  if (!Number.isFinite(lo)) {
    lo = 0;
    hi = 1;
  }
  const span0 = hi - lo || Math.abs(hi) * 0.01 || 1;
  for (const d of drawings) {
    for (const p of drawingPrices(d)) {
      // A price far outside the data would squash the candles; such drawings are clipped.
      if (p >= lo - span0 && p <= hi + span0) {
        lo = Math.min(lo, p);
        hi = Math.max(hi, p);
      }
    }
  }
  if (hi === lo) {
    hi += span0 / 2;
    lo -= span0 / 2;
  }
  const margin = (hi - lo) * 0.06;
  return [lo - margin, hi + margin];
}

/** x of a time (ms): interpolated between bars by index, extrapolated by the bar length beyond them. */
function timeToX(
  allBars: readonly Bar[],
  barMs: number,
  xOfIndex: (idx: number) => number,
  empty: number,
): (t: number) => number {
  const times = allBars.map((b) => b.time);
  return (t) => {
    const n = times.length;
    if (n === 0) return empty;
    let idx: number;
    if (t <= times[0]!) idx = (t - times[0]!) / barMs;
    else if (t >= times[n - 1]!) idx = n - 1 + (t - times[n - 1]!) / barMs;
    else {
      let a = 0;
      let b = n - 1;
      while (b - a > 1) {
        const m = (a + b) >> 1;
        if (times[m]! <= t) a = m;
        else b = m;
      }
      idx = a + (t - times[a]!) / (times[b]! - times[a]!);
    }
    return xOfIndex(idx);
  };
}

/** Time-axis labels that fit: year/month/day boundaries first, then regular ticks where there is room. */
function placeTimeTicks(
  ticks: readonly TimeTick[],
  x: (slot: number) => number,
  width: (t: TimeTick) => number,
  left: number,
  right: number,
): PlacedTimeTick[] {
  const placed: [number, number][] = [];
  const out: PlacedTimeTick[] = [];
  for (const t of [...ticks].sort((a, b) => b.rank - a.rank)) {
    const tx = x(t.index);
    const half = width(t) / 2;
    if (tx - half < left + 2 || tx + half > right - 2) continue;
    if (placed.some(([a, b]) => tx + half + 12 > a && tx - half - 12 < b)) continue;
    placed.push([tx - half, tx + half]);
    out.push({ x: tx, label: t.label, rank: t.rank });
  }
  return out;
}

const isoMinute = (t: number) => `${new Date(t).toISOString().slice(0, 16)}Z`;
const span = (values: string[]) =>
  values[0] === values.at(-1) ? values[0]! : `${values[0]}–${values.at(-1)}`;

/**
 * Says why a drawing lies wholly outside the chart's price range (above or below all of it) or
 * time range (before the first visible bar or after the room right of the last), or '' if it does not.
 */
function drawingRange(c: {
  lo: number;
  hi: number;
  decimals: number;
  left: number;
  right: number;
  slotW: number;
  xOfTime(t: number): number;
  bars: readonly Bar[];
  barMs: number;
  rightPad: number;
}): (d: ResolvedDrawing) => string {
  return (d) => {
    const prices = drawingPrices(d).sort((a, b) => a - b);
    if (prices.length && (prices.at(-1)! < c.lo || prices[0]! > c.hi)) {
      const at = span([...new Set(prices.map((p) => formatPrice(p)))]);
      return `at ${at} is outside the chart's price range ${formatPrice(c.lo, c.decimals)}–${formatPrice(c.hi, c.decimals)}`;
    }
    const i = d.input;
    const times = [i.datetime, i.startDatetime, i.endDatetime]
      .filter((t): t is number => t !== undefined)
      .sort((a, b) => a - b);
    if (!times.length || !c.bars.length) return '';
    const xs = times.map(c.xOfTime);
    // A position without an end reaches 25 bars to the right of its start.
    const reach = (d.name === 'Long Position' || d.name === 'Short Position') && i.endDatetime === undefined;
    const x1 = xs.at(-1)! + (reach ? c.slotW * 25 : 0);
    if (x1 >= c.left && xs[0]! <= c.right) return '';
    const first = c.bars[0]!.time;
    const last = c.bars.at(-1)!.time + c.rightPad * c.barMs;
    const at = span([...new Set(times.map(isoMinute))]);
    return `at ${at} is outside the chart's time range ${isoMinute(first)}–${isoMinute(last)}`;
  };
}

/** Lays a chart out. Throws CatalogueError/RenderError for invalid configs. */
export function layoutChart(input: RenderInput): Layout {
  const { config } = input;
  const W = config.width;
  const H = config.height;
  checkSize(W, H);
  const studies = resolveStudies(config.studies ?? []);
  const drawings: ResolvedDrawing[] = (config.drawings ?? []).map(resolveDrawing);
  const pal: Palette = PALETTES[config.theme] ?? PALETTES.dark;
  const fs = Math.max(10, Math.min(14, Math.round(W / 100)));
  const te = textEngine(config.format === 'svg' ? 'svg' : 'png');
  const tw = (text: string, size = fs, bold = false) => te.measure(text, size, bold);

  const allBars = input.bars;
  const nVis = Math.max(
    0,
    Math.min(
      allBars.length,
      input.visibleBars ?? (config.range ? barCountFor(config.range, config.interval) : allBars.length),
    ),
  );
  const start = allBars.length - nVis;
  const bars = allBars.slice(start);
  const candles = config.style === 'heikinAshi' ? heikinAshi(allBars).slice(start) : bars;

  const views = studyViews(studies, allBars);
  const overlays = views.filter((v) => v.study.def.pane === 'overlay');
  const volume = views.find((v) => v.study.def.pane === 'volume');
  const separate = views.filter((v) => v.study.def.pane === 'separate');
  const priceLine = config.style === 'line' || config.style === 'area' ? [pal.line] : [];
  const drawingColors = assignLineColors(overlays, drawings, priceLine);

  // Horizontal layout: slots for bars plus room on the right (and for Ichimoku's projected cloud).
  const maxOffset = Math.max(0, ...views.flatMap((v) => v.plots.map((p) => p.offset)));
  const rightPad = Math.min(Math.max(4, maxOffset + 2), Math.max(4, Math.ceil(nVis * 0.5)));
  const slots = Math.max(1, nVis + rightPad);

  const [lo, hi] = priceRange(candles, overlays, drawings, start, slots);

  // Vertical layout.
  const lastBar = bars[bars.length - 1];
  const priceTicksDraft = niceTicks(lo, hi, 8);
  const decimals = Math.max(
    stepDecimals(priceTicksDraft.step),
    lastBar ? Math.min(priceDecimals(lastBar.close), 8) : 2,
  );
  const axisLabelWidth = Math.max(
    ...[lo, hi, lastBar?.close ?? 0].map((v) => tw(formatPrice(v, decimals))),
    ...separate.map(() => tw('-00.00K')),
  );
  const axisW = Math.ceil(axisLabelWidth + 14);
  const left = 0;
  const right = W - axisW;
  const timeAxisH = fs + 14;
  const bottom = H - timeAxisH;
  const plotH = bottom;
  const sepH = separate.length ? Math.floor(Math.min(plotH * 0.2, (plotH * 0.5) / separate.length)) : 0;
  const mainBottom = bottom - sepH * separate.length;

  const titleSize = fs + 2;
  const legendLine = fs + 6;
  const headerH = titleSize + 12 + legendLine * (overlays.length + (volume ? 1 : 0));
  const volumeH = volume ? (mainBottom - headerH) * 0.18 : 0;
  const main: Pane = {
    top: headerH + 4,
    bottom: mainBottom - (volume ? volumeH * 0.6 : 4),
    min: lo,
    max: hi,
  };
  const slotW = (right - left) / slots;
  const x = (slot: number) => left + (slot + 0.5) * slotW;
  const y = (v: number) => yOf(main, v);

  const barMs = intervalMs(config.interval);
  const xOfTime = timeToX(allBars, barMs, (idx) => x(idx - start), left);

  const tickLabels = timeTicks(
    bars.map((b) => b.time),
    config.interval,
    right - left,
    Math.max(70, fs * 7),
    config.timezone,
  );
  const placedTicks = placeTimeTicks(tickLabels, x, (t) => tw(t.label, fs, t.rank > 0), left, right);

  const placedDrawings: PlacedDrawing[] = [];
  const warnings: string[] = [];
  const outOfRange = drawingRange({ lo, hi, decimals, left, right, slotW, xOfTime, bars, barMs, rightPad });
  drawings.forEach((drawing, index) => {
    const why = outOfRange(drawing);
    // Painted, it would be nowhere to see (or its label pulled in to a false place): say so instead.
    if (why) warnings.push(`drawing ${index + 1} "${drawing.name}" ${why}`);
    else placedDrawings.push({ drawing, index, color: drawingColors[index]! });
  });

  const panes = separate.map((view, k): PaneLayout => {
    const top = mainBottom + sepH * k;
    return { view, top, height: sepH, scale: separatePane(view, top, top + sepH, start, slots, fs) };
  });

  return {
    input,
    config,
    W,
    H,
    fs,
    te,
    tw,
    pal,
    allBars,
    bars,
    candles,
    start,
    slots,
    slotW,
    views,
    overlays,
    volume,
    panes,
    drawings: placedDrawings,
    warnings,
    left,
    right,
    axisW,
    bottom,
    mainBottom,
    titleSize,
    legendLine,
    headerH,
    volumeH,
    main,
    decimals,
    priceTicks: niceTicks(lo, hi, Math.max(3, Math.round((main.bottom - main.top) / 38))).ticks,
    timeTicks: placedTicks,
    lastBar,
    lastColor:
      input.valueLabel !== undefined
        ? lastBar && lastBar.close < 0
          ? pal.down
          : pal.up
        : lastBar && lastBar.close >= lastBar.open
          ? pal.up
          : pal.down,
    x,
    y,
    xOfTime,
  };
}

/** The `font-family` attribute of the document. */
export const FONT_ATTR = `font-family="${FONT_FAMILY}, sans-serif"`;
