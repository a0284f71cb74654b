import type { ChartConfig } from '@chartwright/contracts';
import { type Bar, splitSymbol } from '@chartwright/market';
import { LINE_PALETTE } from './colors.js';
import { formatPrice, priceDecimals, r1 } from './format.js';
import { FONT_ATTR, RenderError, SIZE_LIMITS } from './layout.js';
import { niceTicks, stepDecimals, timeTicks } from './scale.js';
import { linePath } from './series.js';
import { fitText, type TextEngine, textEngine } from './text.js';
import { PALETTES, type Palette } from './theme.js';

/** One symbol's visible bars, oldest first. */
export interface CompareSeries {
  symbol: string;
  bars: readonly Bar[];
}

/** Fewest shared bars a comparison needs to draw a line. */
export const MIN_SHARED_BARS = 2;

/**
 * The bars of every series at the times all of them have (markets with different hours or
 * holidays leave gaps in one another), oldest first. Empty series when they do not overlap.
 */
export function alignSeries(series: readonly CompareSeries[]): CompareSeries[] {
  if (!series.length) return [];
  let shared = new Set(series[0]!.bars.map((b) => b.time));
  for (const s of series.slice(1)) {
    const times = new Set(s.bars.map((b) => b.time));
    shared = new Set([...shared].filter((t) => times.has(t)));
  }
  return series.map((s) => ({ symbol: s.symbol, bars: s.bars.filter((b) => shared.has(b.time)) }));
}

/** The colour of the i-th symbol: the first ones of the line palette, all distinct. */
export const compareColor = (i: number): string => LINE_PALETTE[i % LINE_PALETTE.length]!;

const pct = (v: number, decimals: number) => `${v > 0 ? '+' : ''}${v.toFixed(decimals)}%`;

interface Frame {
  W: number;
  H: number;
  fs: number;
  te: TextEngine;
  pal: Palette;
  axisW: number;
  right: number;
  bottom: number;
  /** x of bar i's centre. */
  x(i: number): number;
  times: number[];
}

function frame(config: ChartConfig, series: readonly CompareSeries[], axisLabels: string[]): Frame {
  const W = config.width;
  const H = config.height;
  if (
    W < SIZE_LIMITS.minWidth ||
    W > SIZE_LIMITS.maxWidth ||
    H < SIZE_LIMITS.minHeight ||
    H > SIZE_LIMITS.maxHeight
  )
    throw new RenderError(`Image size must be between 400×300 and 2048×1920, got ${W}×${H}`);
  const fs = Math.max(10, Math.min(14, Math.round(W / 100)));
  const te = textEngine(config.format === 'svg' ? 'svg' : 'png');
  const pal = PALETTES[config.theme] ?? PALETTES.dark;
  const axisW = Math.ceil(Math.max(...axisLabels.map((l) => te.measure(l, fs)), 30) + 14);
  const right = W - axisW;
  const bottom = H - (fs + 14);
  const times = series[0]?.bars.map((b) => b.time) ?? [];
  const slots = Math.max(1, times.length + 2);
  const slotW = right / slots;
  return { W, H, fs, te, pal, axisW, right, bottom, x: (i) => (i + 0.5) * slotW, times };
}

function timeAxis(f: Frame, config: ChartConfig): { grid: string; labels: string } {
  const ticks = timeTicks(f.times, config.interval, f.right, Math.max(70, f.fs * 7), config.timezone);
  const placed: [number, number][] = [];
  let grid = '';
  let labels = '';
  for (const t of [...ticks].sort((a, b) => b.rank - a.rank)) {
    const tx = f.x(t.index);
    const half = f.te.measure(t.label, f.fs, t.rank > 0) / 2;
    if (tx - half < 2 || tx + half > f.right - 2) continue;
    if (placed.some(([a, b]) => tx + half + 12 > a && tx - half - 12 < b)) continue;
    placed.push([tx - half, tx + half]);
    grid += `M${r1(tx)} 0V${f.bottom}`;
    labels += f.te.draw(tx, f.bottom + f.fs + 5, t.label, {
      size: f.fs,
      fill: t.rank > 0 ? f.pal.text : f.pal.textMuted,
      anchor: 'middle',
      bold: t.rank > 1,
    });
  }
  return { grid, labels };
}

function documentStart(f: Frame): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${f.W}" height="${f.H}" viewBox="0 0 ${f.W} ${f.H}" ${FONT_ATTR} font-size="${f.fs}">` +
    `<rect width="${f.W}" height="${f.H}" fill="${f.pal.background}"/>`
  );
}

const tickerOf = (symbol: string) => splitSymbol(symbol).ticker;

/** Overlay: each symbol's close as a % change from the first shared bar, on one percent axis. */
function renderOverlay(config: ChartConfig, series: readonly CompareSeries[], synthetic: boolean): string {
  const changes = series.map((s) => {
    const base = s.bars[0]?.close ?? 1;
    return s.bars.map((b) => (b.close / base - 1) * 100);
  });
  let lo = Math.min(0, ...changes.flat());
  let hi = Math.max(0, ...changes.flat());
  if (hi === lo) hi = lo + 1;
  const margin = (hi - lo) * 0.08;
  lo -= margin;
  hi += margin;
  const draft = niceTicks(lo, hi, 8);
  const decimals = Math.min(2, stepDecimals(draft.step));
  const f = frame(config, series, [pct(lo, decimals), pct(hi, decimals)]);
  const { fs, te, pal, right, bottom } = f;
  const titleSize = fs + 2;
  const legendLine = fs + 6;
  const top = titleSize + 12 + legendLine * series.length + 8;
  const y = (v: number) => bottom - 6 - ((v - lo) / (hi - lo)) * (bottom - 6 - top);
  const ticks = niceTicks(lo, hi, Math.max(3, Math.round((bottom - top) / 38))).ticks;

  const out: string[] = [documentStart(f)];
  const axis = timeAxis(f, config);
  let grid = axis.grid;
  for (const t of ticks) grid += `M0 ${r1(y(t))}H${right}`;
  out.push(`<path d="${grid}" stroke="${pal.grid}" stroke-width="1" shape-rendering="crispEdges"/>`);
  out.push(
    `<path d="M0 ${r1(y(0))}H${right}" stroke="${pal.levelLine}" stroke-width="1" stroke-dasharray="4 3"/>`,
  );
  changes.forEach((c, k) => {
    const d = linePath(
      c.map((v, i) => [i, v] as [number, number]),
      f.x,
      y,
    );
    out.push(
      `<path id="line-${k}" d="${d}" stroke="${compareColor(k)}" stroke-width="2" fill="none" stroke-linejoin="round"/>`,
    );
  });
  if (synthetic) out.push(watermark(f, top));
  out.push(
    `<path d="M${right} 0V${bottom}M0 ${bottom}H${f.W}" stroke="${pal.axisLine}" stroke-width="1"/>`,
    axis.labels,
  );
  for (const t of ticks) {
    const ty = y(t);
    if (ty < top - 2 || ty > bottom - 4) continue;
    out.push(te.draw(right + 6, ty + fs * 0.36, pct(t, decimals), { size: fs, fill: pal.textMuted }));
  }
  // Each line's last value as a tag on the axis, in its colour.
  changes.forEach((c, k) => {
    const last = c.at(-1);
    if (last === undefined) return;
    const ty = y(last);
    out.push(
      `<rect x="${right}" y="${r1(ty - fs * 0.75)}" width="${f.axisW}" height="${r1(fs * 1.5)}" fill="${compareColor(k)}"/>`,
      te.draw(right + 6, ty + fs * 0.36, pct(last, decimals), { size: fs, fill: pal.labelText }),
    );
  });
  const title = fitText(
    te,
    `${series.map((s) => tickerOf(s.symbol)).join(' vs ')} · ${config.interval} · % change`,
    titleSize,
    right - 16,
    true,
  );
  out.push(
    `<g id="title">${te.draw(8, titleSize + 6, title, { size: titleSize, fill: pal.text, bold: true })}</g>`,
  );
  // The legend: a colour swatch, the symbol and its change over the window.
  out.push('<g id="legend">');
  series.forEach((s, k) => {
    const ly = titleSize + 12 + legendLine * (k + 1) - 4;
    const change = changes[k]!.at(-1) ?? 0;
    out.push(
      `<rect x="8" y="${r1(ly - fs * 0.45)}" width="14" height="3" fill="${compareColor(k)}"/>`,
      te.draw(
        28,
        ly,
        [
          { text: `${s.symbol}  `, fill: pal.text },
          { text: pct(change, 2), fill: change >= 0 ? pal.up : pal.down },
        ],
        { size: fs, fill: pal.text },
      ),
    );
  });
  out.push('</g></svg>');
  return out.join('');
}

/** Grid: one candle panel per symbol, stacked, sharing the time axis at the bottom. */
function renderGrid(config: ChartConfig, series: readonly CompareSeries[], synthetic: boolean): string {
  const ranges = series.map((s) => {
    let lo = Math.min(...s.bars.map((b) => b.low));
    let hi = Math.max(...s.bars.map((b) => b.high));
    if (!Number.isFinite(lo)) [lo, hi] = [0, 1];
    if (hi === lo) hi = lo + Math.abs(lo) * 0.01 + 1e-9;
    const m = (hi - lo) * 0.08;
    return [lo - m, hi + m] as const;
  });
  const decimals = series.map((s, k) => priceDecimals(s.bars.at(-1)?.close ?? ranges[k]![1]));
  const f = frame(
    config,
    series,
    ranges.flatMap(([lo, hi], k) => [formatPrice(lo, decimals[k]), formatPrice(hi, decimals[k])]),
  );
  const { fs, te, pal, right, bottom } = f;
  const panelH = bottom / series.length;
  const labelH = fs + 10;
  const out: string[] = [documentStart(f)];
  const axis = timeAxis(f, config);
  out.push(`<path d="${axis.grid}" stroke="${pal.grid}" stroke-width="1" shape-rendering="crispEdges"/>`);
  const bw = Math.max(1, (f.x(1) - f.x(0)) * 0.7);
  series.forEach((s, k) => {
    const top = k * panelH + labelH;
    const bot = (k + 1) * panelH - 4;
    const [lo, hi] = ranges[k]!;
    const y = (v: number) => bot - ((v - lo) / (hi - lo)) * (bot - top);
    const ticks = niceTicks(lo, hi, Math.max(2, Math.round((bot - top) / 40))).ticks;
    let grid = '';
    for (const t of ticks) grid += `M0 ${r1(y(t))}H${right}`;
    out.push(`<path d="${grid}" stroke="${pal.grid}" stroke-width="1" shape-rendering="crispEdges"/>`);
    let up = '';
    let down = '';
    s.bars.forEach((b, i) => {
      const cx = f.x(i);
      const wick = `M${r1(cx - 0.5)} ${r1(y(b.high))}h1V${r1(Math.max(y(b.low), y(b.high) + 1))}h-1Z`;
      const bodyTop = Math.min(y(b.open), y(b.close));
      const h = Math.max(1, Math.abs(y(b.close) - y(b.open)));
      const body = `M${r1(cx - bw / 2)} ${r1(bodyTop)}h${r1(bw)}v${r1(h)}h${r1(-bw)}Z`;
      if (b.close >= b.open) up += wick + body;
      else down += wick + body;
    });
    out.push(
      `<g id="panel-${k}"><path d="${up}" fill="${pal.up}" shape-rendering="crispEdges"/>`,
      `<path d="${down}" fill="${pal.down}" shape-rendering="crispEdges"/></g>`,
    );
    for (const t of ticks) {
      const ty = y(t);
      if (ty < top + fs || ty > bot - 2) continue;
      out.push(
        te.draw(right + 6, ty + fs * 0.36, formatPrice(t, decimals[k]), { size: fs, fill: pal.textMuted }),
      );
    }
    const first = s.bars[0]?.close;
    const last = s.bars.at(-1)?.close;
    const change = first && last ? (last / first - 1) * 100 : 0;
    out.push(
      `<rect x="8" y="${r1(k * panelH + 6)}" width="4" height="${fs + 2}" fill="${compareColor(k)}"/>`,
      te.draw(
        18,
        k * panelH + fs + 6,
        [
          { text: `${s.symbol}  `, fill: pal.text },
          { text: last === undefined ? '' : `${formatPrice(last, decimals[k])}  `, fill: pal.text },
          { text: pct(change, 2), fill: change >= 0 ? pal.up : pal.down },
        ],
        { size: fs, fill: pal.text, bold: false },
      ),
    );
    if (k > 0)
      out.push(
        `<path d="M0 ${r1(k * panelH)}H${f.W}" stroke="${pal.paneSeparator}" stroke-width="1" shape-rendering="crispEdges"/>`,
      );
  });
  if (synthetic) out.push(watermark(f, 0));
  out.push(
    `<path d="M${right} 0V${bottom}M0 ${bottom}H${f.W}" stroke="${pal.axisLine}" stroke-width="1"/>`,
    axis.labels,
    `<g id="title">${te.draw(right - 8, bottom - 8, `${config.interval}`, { size: fs, fill: pal.textMuted, anchor: 'end' })}</g>`,
    '</svg>',
  );
  return out.join('');
}

function watermark(f: Frame, top: number): string {
  const size = Math.round(
    Math.min((f.right * 0.9) / f.te.measure('SYNTHETIC DATA', 1, true), (f.bottom - top) / 4),
  );
  const wm = f.te.draw(f.right / 2, (top + f.bottom) / 2 + size * 0.35, 'SYNTHETIC DATA', {
    size,
    fill: f.pal.watermark,
    anchor: 'middle',
    bold: true,
  });
  return `<g id="synthetic-watermark">${wm}</g>`;
}

/**
 * A comparison chart (config.compare) of series already aligned on shared times.
 * Throws RenderError for a bad size.
 */
export function renderComparisonSvg(
  config: ChartConfig,
  series: readonly CompareSeries[],
  synthetic: boolean,
): string {
  return config.compare?.layout === 'grid'
    ? renderGrid(config, series, synthetic)
    : renderOverlay(config, series, synthetic);
}
