import type { ChartConfig } from '@chartwright/contracts';
import {
  type Bar,
  barCountFor,
  CatalogueError,
  Color,
  computeStudy,
  intervalMs,
  type Line,
  type OutputDef,
  type ResolvedDrawing,
  type ResolvedStudy,
  resolveDrawing,
  resolveStudies,
  splitSymbol,
} from '@chartwright/market';
import { type DrawContext, drawingPrices, priceTag, renderDrawing } from './drawings.js';
import { FONT_FAMILY } from './fonts.js';
import { formatCompact, formatPrice, formatValue, priceDecimals, r1 } from './format.js';
import { niceTicks, stepDecimals, timeTicks } from './scale.js';
import { type TextEngine, textEngine } from './text.js';
import { EXTRA_LINE_COLORS, PALETTES, type Palette } from './theme.js';

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
   * Bars to show, counted from the newest; the older ones only warm the indicators up.
   * Default: the config's range, else all bars.
   */
  visibleBars?: number;
}

export class RenderError extends Error {
  override readonly name = 'RenderError';
  readonly code = 'VALIDATION_ERROR' as const;
}

export const SIZE_LIMITS = { minWidth: 400, maxWidth: 2048, minHeight: 300, maxHeight: 1920 } as const;

interface Plot {
  output: OutputDef;
  values: Line;
  offset: number;
  color: string;
  width: number;
}

interface StudyView {
  study: ResolvedStudy;
  plots: Plot[];
}

interface Pane {
  top: number;
  bottom: number;
  min: number;
  max: number;
}

const yOf = (p: Pane, v: number) => p.bottom - ((v - p.min) / (p.max - p.min)) * (p.bottom - p.top);

function heikinAshi(bars: readonly Bar[]): Bar[] {
  const out: Bar[] = [];
  for (const [i, b] of bars.entries()) {
    const close = (b.open + b.high + b.low + b.close) / 4;
    const prev = out[i - 1];
    const open = prev ? (prev.open + prev.close) / 2 : (b.open + b.close) / 2;
    out.push({ ...b, open, close, high: Math.max(b.high, open, close), low: Math.min(b.low, open, close) });
  }
  return out;
}

function overrideColor(study: ResolvedStudy, key: string): string | undefined {
  const v = study.override[key];
  if (v === undefined) return undefined;
  const ok = Color.safeParse(v);
  if (!ok.success) {
    throw new CatalogueError(`${study.def.name}: override "${key}" must be a colour such as #2962FF`, {
      kind: 'study',
      name: study.def.name,
      field: key,
    });
  }
  return ok.data;
}

/** Computes each study and picks its colours: overrides first, then a fresh colour for repeats. */
function studyViews(studies: ResolvedStudy[], bars: readonly Bar[]): StudyView[] {
  const seen = new Map<string, number>();
  return studies.map((study) => {
    const lines = computeStudy(study, bars);
    const offsets = study.def.offsets?.(study.inputs) ?? {};
    const repeat = seen.get(study.def.name) ?? 0;
    seen.set(study.def.name, repeat + 1);
    const outputs = study.def.outputs.filter((o) => !o.hidden && lines[o.key]);
    const plots = outputs.map((output) => {
      const single = outputs.length === 1;
      const color =
        overrideColor(study, `${output.label}.color`) ??
        (single ? (overrideColor(study, 'color') ?? overrideColor(study, 'plot.color')) : undefined) ??
        (repeat > 0 && single ? EXTRA_LINE_COLORS[(repeat - 1) % EXTRA_LINE_COLORS.length]! : output.color);
      const lw = Number(study.override[`${output.label}.linewidth`] ?? study.override.linewidth ?? 1.5);
      return {
        output,
        values: lines[output.key]!,
        offset: offsets[output.key] ?? 0,
        color,
        width: Number.isFinite(lw) ? Math.min(6, Math.max(0.5, lw)) : 1.5,
      };
    });
    return { study, plots };
  });
}

/** Visible values of a plot, by visible slot, honouring its offset. */
function* visiblePoints(plot: Plot, start: number, slots: number): Generator<[number, number]> {
  const { values, offset } = plot;
  const from = Math.max(0, start - offset);
  for (let j = from; j < values.length; j++) {
    const slot = j + offset - start;
    if (slot >= slots) break;
    const v = values[j];
    if (v !== null && v !== undefined && slot >= 0) yield [slot, v];
  }
}

function linePath(
  points: Iterable<[number, number]>,
  x: (slot: number) => number,
  y: (v: number) => number,
): string {
  let d = '';
  let prev = -2;
  for (const [slot, v] of points) {
    d += `${slot === prev + 1 ? 'L' : 'M'}${r1(x(slot))} ${r1(y(v))}`;
    prev = slot;
  }
  return d;
}

/** Renders a chart as an SVG document. Throws CatalogueError/RenderError for invalid configs. */
export function renderSvg(input: RenderInput): string {
  const { config, synthetic } = input;
  const W = config.width;
  const H = config.height;
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
  const studies = resolveStudies(config.studies ?? []);
  const drawings: ResolvedDrawing[] = (config.drawings ?? []).map(resolveDrawing);
  const pal: Palette = PALETTES[config.theme] ?? PALETTES.dark;
  const fs = Math.max(10, Math.min(14, Math.round(W / 100)));
  const font = `font-family="${FONT_FAMILY}, sans-serif"`;
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

  // Horizontal layout: slots for bars plus room on the right (and for Ichimoku's projected cloud).
  const maxOffset = Math.max(0, ...views.flatMap((v) => v.plots.map((p) => p.offset)));
  const rightPad = Math.min(Math.max(4, maxOffset + 2), Math.max(4, Math.ceil(nVis * 0.5)));
  const slots = Math.max(1, nVis + rightPad);

  // Price range of the main pane: visible bars, overlay values, and drawings near the data.
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
      // A price far outside the data would squash the candles; such drawings are simply clipped.
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
  lo -= margin;
  hi += margin;

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
  const times = allBars.map((b) => b.time);
  const xOfTime = (t: number): number => {
    const n = times.length;
    if (n === 0) return left;
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
    return x(idx - start);
  };

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ${font} font-size="${fs}">`,
    `<defs><linearGradient id="area" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${pal.areaTop}"/><stop offset="1" stop-color="${pal.areaBottom}"/></linearGradient></defs>`,
    `<rect width="${W}" height="${H}" fill="${pal.background}"/>`,
  );

  // Grid and time axis.
  const tTicks = timeTicks(
    bars.map((b) => b.time),
    config.interval,
    right - left,
    Math.max(70, fs * 7),
    config.timezone,
  );
  const grid: string[] = [];
  const timeLabels: string[] = [];
  // Place year/month/day boundaries first, then the regular ticks wherever they still fit.
  const placed: [number, number][] = [];
  for (const t of [...tTicks].sort((a, b) => b.rank - a.rank)) {
    const tx = x(t.index);
    const half = tw(t.label, fs, t.rank > 0) / 2;
    if (tx - half < left + 2 || tx + half > right - 2) continue;
    if (placed.some(([a, b]) => tx + half + 12 > a && tx - half - 12 < b)) continue;
    placed.push([tx - half, tx + half]);
    grid.push(`M${r1(tx)} 0V${bottom}`);
    timeLabels.push(
      te.draw(tx, bottom + fs + 5, t.label, {
        size: fs,
        fill: t.rank > 0 ? pal.text : pal.textMuted,
        anchor: 'middle',
        bold: t.rank > 1,
      }),
    );
  }
  const priceTicks = niceTicks(lo, hi, Math.max(3, Math.round((main.bottom - main.top) / 38)));
  for (const v of priceTicks.ticks) grid.push(`M${left} ${r1(y(v))}H${right}`);
  out.push(`<path d="${grid.join('')}" stroke="${pal.grid}" stroke-width="1" shape-rendering="crispEdges"/>`);

  // Main pane content. Nothing is clipped (a clip path costs resvg a full-size layer): whatever spills
  // out of the pane is painted over by the panes and axes drawn after it.

  if (volume && bars.length) {
    const vp = volume.plots.find((p) => p.output.key === 'volume');
    const vals = vp ? [...visiblePoints(vp, start, slots)] : [];
    const vmax = Math.max(1e-12, ...vals.map(([, v]) => v));
    const vBottom = mainBottom;
    const vTop = mainBottom - volumeH;
    const bw = Math.max(1, slotW * 0.7);
    let upD = '';
    let downD = '';
    for (const [slot, v] of vals) {
      const b = bars[slot];
      if (!b) continue;
      const h = Math.max(0.5, (v / vmax) * (vBottom - vTop));
      const seg = `M${r1(x(slot) - bw / 2)} ${r1(vBottom - h)}h${r1(bw)}V${vBottom}h${r1(-bw)}Z`;
      if (b.close >= b.open) upD += seg;
      else downD += seg;
    }
    out.push(
      `<path d="${upD}" fill="${pal.volumeUp}" shape-rendering="crispEdges"/>`,
      `<path d="${downD}" fill="${pal.volumeDown}" shape-rendering="crispEdges"/>`,
    );
    const ma = volume.plots.find((p) => p.output.key === 'ma');
    if (ma) {
      const vPane: Pane = { top: vTop, bottom: vBottom, min: 0, max: vmax };
      const d = linePath(visiblePoints(ma, start, slots), x, (v) => yOf(vPane, v));
      out.push(`<path d="${d}" stroke="${ma.color}" stroke-width="1" fill="none"/>`);
    }
  }

  // Band fills (Bollinger, Keltner, Donchian, Ichimoku's cloud).
  for (const v of overlays) {
    for (const fill of v.study.def.fills ?? []) {
      const up = v.plots.find((p) => p.output.key === fill.upper);
      const dn = v.plots.find((p) => p.output.key === fill.lower);
      if (!up || !dn) continue;
      const a = new Map(visiblePoints(up, start, slots));
      const b = new Map(visiblePoints(dn, start, slots));
      // Runs of slots where both lines exist and keep the same order become one polygon each.
      let run: [number, number, number][] = [];
      let runInverted = false;
      const flush = () => {
        if (run.length > 1) {
          const top = run.map(([s, u]) => `${r1(x(s))} ${r1(y(u))}`).join('L');
          const bot = run
            .slice()
            .reverse()
            .map(([s, , l]) => `${r1(x(s))} ${r1(y(l))}`)
            .join('L');
          const color = runInverted ? (fill.colorInverted ?? fill.color) : fill.color;
          out.push(`<path d="M${top}L${bot}Z" fill="${color}"/>`);
        }
        run = [];
      };
      for (let s = 0; s < slots; s++) {
        const u = a.get(s);
        const l = b.get(s);
        if (u === undefined || l === undefined) {
          flush();
          continue;
        }
        const inverted = u < l;
        if (run.length && inverted !== runInverted) {
          const last = run[run.length - 1]!;
          flush();
          run.push(last);
        }
        runInverted = inverted;
        run.push([s, u, l]);
      }
      flush();
    }
  }

  // Price series.
  const bw = Math.max(1, slotW * 0.7);
  if (config.style === 'line' || config.style === 'area') {
    const pts = candles.map((b, i) => [i, b.close] as [number, number]);
    const d = linePath(pts, x, y);
    if (config.style === 'area' && pts.length) {
      out.push(
        `<path d="${d}L${r1(x(pts.length - 1))} ${mainBottom}L${r1(x(0))} ${mainBottom}Z" fill="url(#area)"/>`,
      );
    }
    out.push(`<path d="${d}" stroke="${pal.line}" stroke-width="2" fill="none" stroke-linejoin="round"/>`);
  } else {
    // Wicks are 1 px rectangles in the same path as the bodies: filling is much cheaper for resvg
    // than stroking, and crisp edges keep candles sharp like TradingView's.
    const path = { up: '', down: '', upHollow: '', downHollow: '' };
    const hollow = config.style === 'hollowCandle';
    const wickW = Math.max(1, Math.min(2, Math.round(slotW / 8)));
    const barW = config.style === 'bar' ? Math.max(1, Math.min(2, Math.round(bw / 4))) : wickW;
    for (const [i, b] of candles.entries()) {
      const cx = x(i);
      // Hollow candles take their colour from the change since the previous close, and are hollow
      // when they close above their open (TradingView's convention).
      const prevClose = i > 0 ? candles[i - 1]!.close : b.open;
      const isUp = hollow ? b.close >= prevClose : b.close >= b.open;
      const yH = y(b.high);
      const yL = y(b.low);
      const yO = y(b.open);
      const yC = y(b.close);
      const wx = r1(cx - barW / 2);
      const wick = `M${wx} ${r1(yH)}h${barW}V${r1(Math.max(yL, yH + 1))}h${-barW}Z`;
      let body: string;
      if (config.style === 'bar') {
        const t = r1(Math.max(1, bw / 2));
        body =
          `M${r1(cx - t)} ${r1(yO - barW / 2)}h${t}v${barW}h${-t}Z` +
          `M${r1(cx)} ${r1(yC - barW / 2)}h${t}v${barW}h${-t}Z`;
      } else {
        const top = Math.min(yO, yC);
        const h = Math.max(1, Math.abs(yC - yO));
        body = `M${r1(cx - bw / 2)} ${r1(top)}h${r1(bw)}v${r1(h)}h${r1(-bw)}Z`;
      }
      if (hollow && b.close > b.open) {
        // The wick goes into the filled path; the hollow body is outlined on top of the background.
        if (isUp) {
          path.up += wick;
          path.upHollow += body;
        } else {
          path.down += wick;
          path.downHollow += body;
        }
      } else if (isUp) path.up += wick + body;
      else path.down += wick + body;
    }
    out.push(
      `<path d="${path.up}" fill="${pal.up}" shape-rendering="crispEdges"/>`,
      `<path d="${path.down}" fill="${pal.down}" shape-rendering="crispEdges"/>`,
    );
    if (hollow) {
      out.push(
        `<path d="${path.upHollow}" stroke="${pal.up}" stroke-width="1" fill="${pal.background}" shape-rendering="crispEdges"/>`,
        `<path d="${path.downHollow}" stroke="${pal.down}" stroke-width="1" fill="${pal.background}" shape-rendering="crispEdges"/>`,
      );
    }
  }

  // Overlay lines and dots.
  for (const v of overlays) {
    for (const p of v.plots) {
      if (p.output.plot === 'dots') {
        const r = Math.max(1, Math.min(2.5, slotW * 0.25));
        let d = '';
        for (const [s, val] of visiblePoints(p, start, slots)) {
          d += `M${r1(x(s) - r)} ${r1(y(val))}a${r} ${r} 0 1 0 ${r1(2 * r)} 0a${r} ${r} 0 1 0 ${r1(-2 * r)} 0`;
        }
        out.push(`<path d="${d}" fill="${p.color}"/>`);
      } else {
        const d = linePath(visiblePoints(p, start, slots), x, y);
        out.push(
          `<path d="${d}" stroke="${p.color}" stroke-width="${p.width}" fill="none" stroke-linejoin="round"/>`,
        );
      }
    }
  }

  // Drawings.
  const axisTags: string[] = [];
  const ctx: DrawContext = {
    x: xOfTime,
    y,
    left,
    right,
    top: 0,
    bottom: mainBottom,
    palette: pal,
    fontSize: fs,
    slot: slotW,
    axisX: right + 1,
    axisWidth: axisW,
    te,
  };
  for (const d of drawings) out.push(renderDrawing(d, ctx, axisTags));

  // Last price line.
  const lastColor = lastBar && lastBar.close >= lastBar.open ? pal.up : pal.down;
  if (lastBar) {
    out.push(
      `<path d="M${left} ${r1(y(lastBar.close))}H${right}" stroke="${lastColor}" stroke-width="1" stroke-dasharray="2 3"/>`,
    );
  }
  if (synthetic) {
    const size = Math.round(Math.min((right - left) / 9, (mainBottom - headerH) / 4));
    const wm = te.draw((left + right) / 2, (main.top + main.bottom) / 2 + size * 0.35, 'SYNTHETIC DATA', {
      size,
      fill: pal.watermark,
      anchor: 'middle',
      bold: true,
    });
    out.push(`<g id="synthetic-watermark">${wm}</g>`);
  }
  out.push(
    `<rect x="${right}" y="0" width="${W - right}" height="${H}" fill="${pal.background}"/>`,
    `<rect x="0" y="${mainBottom}" width="${W}" height="${H - mainBottom}" fill="${pal.background}"/>`,
  );

  // Separate panes.
  const paneLabels: string[] = [];
  separate.forEach((v, k) => {
    const top = mainBottom + sepH * k;
    const pane = separatePane(v, top, top + sepH, start, slots, fs);
    const py = (val: number) => yOf(pane, val);
    out.push(`<path d="M0 ${top}H${W}" stroke="${pal.paneSeparator}" stroke-width="1"/>`);
    const def = v.study.def;
    const levels = def.levels ?? [];
    if (levels.length === 2 && def.range) {
      const [a, b] = [py(levels[1]!), py(levels[0]!)];
      out.push(
        `<rect x="${left}" y="${r1(a)}" width="${right - left}" height="${r1(b - a)}" fill="${pal.levelFill}"/>`,
      );
    }
    const shownLevels = levels.filter((l) => l >= pane.min && l <= pane.max);
    if (shownLevels.length) {
      const d = shownLevels.map((l) => `M${left} ${r1(py(l))}H${right}`).join('');
      out.push(`<path d="${d}" stroke="${pal.levelLine}" stroke-width="1" stroke-dasharray="4 4"/>`);
    }
    for (const p of v.plots) {
      if (p.output.plot === 'histogram') {
        const zero = py(Math.max(pane.min, Math.min(pane.max, 0)));
        const paths: Record<string, string> = {};
        let prev: number | undefined;
        for (const [s, val] of visiblePoints(p, start, slots)) {
          const rising = prev === undefined || val >= prev;
          prev = val;
          const color =
            p.output.colorBy === 'sign'
              ? val >= 0
                ? rising
                  ? '#26A69A'
                  : '#B2DFDB'
                : rising
                  ? '#FFCDD2'
                  : '#FF5252'
              : p.color;
          const yv = py(val);
          const hw = Math.max(0.5, slotW * 0.35);
          paths[color] =
            (paths[color] ?? '') +
            `M${r1(x(s) - hw)} ${r1(Math.min(yv, zero))}h${r1(2 * hw)}v${r1(Math.max(0.5, Math.abs(yv - zero)))}h${r1(-2 * hw)}Z`;
        }
        for (const [color, d] of Object.entries(paths)) {
          out.push(`<path d="${d}" fill="${color}" shape-rendering="crispEdges"/>`);
        }
      } else {
        const d = linePath(visiblePoints(p, start, slots), x, py);
        out.push(
          `<path d="${d}" stroke="${p.color}" stroke-width="${p.width}" fill="none" stroke-linejoin="round"/>`,
        );
      }
    }

    // Axis: level values for bounded oscillators, otherwise a few nice ticks; the last value tagged.
    const tagPlot = v.plots.find((p) => p.output.plot === 'line') ?? v.plots[0];
    const tagValue = tagPlot ? lastVisible(tagPlot, start, slots) : null;
    const tagY = tagValue === null ? Number.NaN : py(tagValue);
    const ticks = def.range ? shownLevels : [...shownLevels, ...niceTicks(pane.min, pane.max, 2).ticks];
    const labelled: number[] = [];
    for (const t of ticks) {
      const ty = py(t);
      if (ty < top + fs || ty > top + sepH - 2 || Math.abs(ty - tagY) < fs + 2) continue;
      if (labelled.some((l) => Math.abs(l - ty) < fs + 2)) continue;
      labelled.push(ty);
      paneLabels.push(
        te.draw(right + 6, ty + fs * 0.36, formatAxisValue(t), { size: fs, fill: pal.textMuted }),
      );
    }
    if (tagPlot && tagValue !== null && tagY >= top && tagY <= top + sepH) {
      const h = fs + 6;
      const ty = Math.max(top + h / 2, Math.min(top + sepH - h / 2, tagY));
      paneLabels.push(
        `<rect x="${right + 1}" y="${r1(ty - h / 2)}" width="${axisW - 2}" height="${h}" rx="2" fill="${tagPlot.color}"/>`,
        te.draw(right + 5, ty + fs * 0.36, formatAxisValue(tagValue), { size: fs, fill: pal.labelText }),
      );
    }
    paneLabels.push(legend(te, v, top + fs + 4, left + 8, fs, pal, start, slots));
  });

  // Price axis.
  const axis: string[] = [
    `<path d="M${right} 0V${bottom}M0 ${bottom}H${W}" stroke="${pal.axisLine}" stroke-width="1"/>`,
  ];
  const lastY = lastBar ? y(lastBar.close) : Number.NaN;
  const tagYs = [lastY];
  for (const t of priceTicks.ticks) {
    const ty = y(t);
    if (ty < main.top - 2 || ty > mainBottom - 4) continue;
    if (tagYs.some((tagY) => Math.abs(ty - tagY) < fs + 2)) continue;
    axis.push(
      te.draw(right + 6, ty + fs * 0.36, formatPrice(t, decimals), { size: fs, fill: pal.textMuted }),
    );
  }
  out.push(axis.join(''), timeLabels.join(''), paneLabels.join(''));
  out.push(axisTags.join(''));
  if (lastBar) {
    out.push(
      priceTag(
        { ...ctx, top: main.top - fs, bottom: mainBottom },
        lastBar.close,
        lastColor,
        formatPrice(lastBar.close, decimals),
      ),
    );
  }

  // Title, OHLC and overlay legends, over the chart's top-left corner.
  const { exchange, ticker } = splitSymbol(config.symbol);
  const title = `${input.symbolLabel ?? ticker} · ${config.interval} · ${exchange}`;
  const ty = titleSize + 6;
  out.push(
    `<g id="title">${te.draw(left + 8, ty, title, { size: titleSize, fill: pal.text, bold: true })}</g>`,
  );
  let cursor = left + 8 + tw(title, titleSize, true) + 12;
  if (synthetic) {
    const label = 'SYNTHETIC';
    const w = tw(label, fs - 1, true) + 10;
    out.push(
      `<rect x="${r1(cursor)}" y="${ty - fs}" width="${r1(w)}" height="${fs + 5}" rx="3" fill="${pal.down}"/>`,
      te.draw(cursor + 5, ty - 1, label, { size: fs - 1, fill: '#FFFFFF', bold: true }),
    );
    cursor += w + 12;
  }
  if (lastBar) {
    const prev = bars[bars.length - 2];
    const change = prev ? lastBar.close - prev.close : 0;
    const pct = prev?.close ? (change / prev.close) * 100 : 0;
    const f = (v: number) => formatPrice(v, decimals);
    const ohlc = `O ${f(lastBar.open)}  H ${f(lastBar.high)}  L ${f(lastBar.low)}  C ${f(lastBar.close)}  ${change >= 0 ? '+' : ''}${f(change)} (${pct >= 0 ? '+' : ''}${pct.toFixed(2)}%)`;
    if (cursor + tw(ohlc) < right - 8) {
      out.push(te.draw(cursor, ty - 1, ohlc, { size: fs, fill: lastColor }));
    }
  }
  overlays.forEach((v, k) => {
    out.push(legend(te, v, titleSize + 12 + legendLine * (k + 1) - 4, left + 8, fs, pal, start, slots));
  });
  if (volume) {
    const vp = volume.plots.find((p) => p.output.key === 'volume');
    const last = vp ? lastVisible(vp, start, slots) : null;
    const runs = [{ text: 'Vol  ', fill: pal.textMuted }];
    if (last !== null) runs.push({ text: formatCompact(last), fill: lastColor });
    out.push(
      te.draw(left + 8, titleSize + 12 + legendLine * (overlays.length + 1) - 4, runs, {
        size: fs,
        fill: pal.textMuted,
      }),
    );
  }
  if (!bars.length) {
    out.push(
      te.draw((left + right) / 2, mainBottom / 2, 'No data', {
        size: fs,
        fill: pal.textMuted,
        anchor: 'middle',
      }),
    );
  }
  out.push('</svg>');
  return out.join('');
}

function lastVisible(plot: Plot, start: number, slots: number): number | null {
  let last: number | null = null;
  for (const [s, v] of visiblePoints(plot, start, slots)) if (s < slots) last = v;
  return last;
}

function formatAxisValue(v: number): string {
  return Math.abs(v) >= 1e4 ? formatCompact(v) : Number.isInteger(v) ? String(v) : v.toFixed(2);
}

/** `RSI 14  55.21`, title muted, values in their line colours. */
function legend(
  te: TextEngine,
  v: StudyView,
  yy: number,
  xx: number,
  fs: number,
  pal: Palette,
  start: number,
  slots: number,
): string {
  const runs = [{ text: `${v.study.title}  `, fill: pal.textMuted }];
  for (const p of v.plots) {
    const last = lastVisible(p, start, slots);
    if (last !== null) runs.push({ text: `${formatValue(last)} `, fill: p.color });
  }
  return te.draw(xx, yy, runs, { size: fs, fill: pal.textMuted });
}

function separatePane(
  v: StudyView,
  top: number,
  bottom: number,
  start: number,
  slots: number,
  fs: number,
): Pane {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const p of v.plots) {
    for (const [, val] of visiblePoints(p, start, slots)) {
      lo = Math.min(lo, val);
      hi = Math.max(hi, val);
    }
  }
  const def = v.study.def;
  if (def.range) {
    lo = Math.min(lo, def.range[0]);
    hi = Math.max(hi, def.range[1]);
  } else {
    for (const l of def.levels ?? []) {
      if (l >= lo && l <= hi) continue;
      // Levels (MACD's zero, CCI's ±100) widen the scale only when they are near the data.
      const span = hi - lo;
      if (Number.isFinite(span) && l >= lo - span && l <= hi + span) {
        lo = Math.min(lo, l);
        hi = Math.max(hi, l);
      }
    }
  }
  if (!Number.isFinite(lo)) {
    lo = 0;
    hi = 1;
  }
  if (hi === lo) {
    hi += 1;
    lo -= 1;
  }
  const pad = (hi - lo) * 0.08;
  // Leave the legend line free at the top of the pane.
  return { top: top + fs + 8, bottom: bottom - 3, min: lo - pad, max: hi + pad };
}
