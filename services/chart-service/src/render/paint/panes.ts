import { formatCompact, formatValue, r1 } from '../format.js';
import type { Layout, PaneLayout } from '../layout.js';
import { niceTicks } from '../scale.js';
import { lastVisible, linePath, type StudyView, visiblePoints, yOf } from '../series.js';
import { fitRuns } from '../text.js';

/** Histogram colours by sign and direction, as TradingView colours MACD's. */
function histogramColor(val: number, rising: boolean): string {
  if (val >= 0) return rising ? '#26A69A' : '#B2DFDB';
  return rising ? '#FFCDD2' : '#FF5252';
}

function formatAxisValue(v: number): string {
  return Math.abs(v) >= 1e4 ? formatCompact(v) : Number.isInteger(v) ? String(v) : v.toFixed(2);
}

/** `RSI 14  55.21`, title muted, values in their line colours. */
export function legend(l: Layout, v: StudyView, yy: number, xx: number): string {
  const runs = [{ text: `${v.study.title}  `, fill: l.pal.textMuted }];
  for (const p of v.plots) {
    const last = lastVisible(p, l.start, l.slots);
    if (last !== null) runs.push({ text: `${formatValue(last)} `, fill: p.color });
  }
  const fitted = fitRuns(l.te, runs, l.fs, l.right - xx - 8);
  return l.te.draw(xx, yy, fitted, { size: l.fs, fill: l.pal.textMuted });
}

/** A separate pane's separator, levels and plots. */
function paneBody(l: Layout, p: PaneLayout): string {
  const { left, right, start, slots, x, pal } = l;
  const { view: v, top, scale } = p;
  const py = (val: number) => yOf(scale, val);
  const out: string[] = [`<path d="M0 ${top}H${l.W}" stroke="${pal.paneSeparator}" stroke-width="1"/>`];
  const def = v.study.def;
  const levels = def.levels ?? [];
  if (levels.length === 2 && def.range) {
    const [a, b] = [py(levels[1]!), py(levels[0]!)];
    out.push(
      `<rect x="${left}" y="${r1(a)}" width="${right - left}" height="${r1(b - a)}" fill="${pal.levelFill}"/>`,
    );
  }
  const shown = shownLevels(p);
  if (shown.length) {
    const d = shown.map((lv) => `M${left} ${r1(py(lv))}H${right}`).join('');
    out.push(`<path d="${d}" stroke="${pal.levelLine}" stroke-width="1" stroke-dasharray="4 4"/>`);
  }
  for (const plot of v.plots) {
    if (plot.output.plot === 'histogram') {
      const zero = py(Math.max(scale.min, Math.min(scale.max, 0)));
      const paths: Record<string, string> = {};
      let prev: number | undefined;
      for (const [s, val] of visiblePoints(plot, start, slots)) {
        const rising = prev === undefined || val >= prev;
        prev = val;
        const color = plot.output.colorBy === 'sign' ? histogramColor(val, rising) : plot.color;
        const yv = py(val);
        const hw = Math.max(0.5, l.slotW * 0.35);
        paths[color] =
          (paths[color] ?? '') +
          `M${r1(x(s) - hw)} ${r1(Math.min(yv, zero))}h${r1(2 * hw)}v${r1(Math.max(0.5, Math.abs(yv - zero)))}h${r1(-2 * hw)}Z`;
      }
      for (const [color, d] of Object.entries(paths)) {
        out.push(`<path d="${d}" fill="${color}" shape-rendering="crispEdges"/>`);
      }
    } else {
      const d = linePath(visiblePoints(plot, start, slots), x, py);
      out.push(
        `<path d="${d}" stroke="${plot.color}" stroke-width="${plot.width}" fill="none" stroke-linejoin="round"/>`,
      );
    }
  }
  return out.join('');
}

const shownLevels = (p: PaneLayout) =>
  (p.view.study.def.levels ?? []).filter((lv) => lv >= p.scale.min && lv <= p.scale.max);

/**
 * A separate pane's axis (level values for bounded oscillators, otherwise a few nice ticks), its
 * last value tagged, and its legend.
 */
function paneLabels(l: Layout, p: PaneLayout): string {
  const { fs, right, pal, te, start, slots } = l;
  const { view: v, top, height, scale } = p;
  const py = (val: number) => yOf(scale, val);
  const out: string[] = [];
  const tagPlot = v.plots.find((pl) => pl.output.plot === 'line') ?? v.plots[0];
  const tagValue = tagPlot ? lastVisible(tagPlot, start, slots) : null;
  const tagY = tagValue === null ? Number.NaN : py(tagValue);
  const shown = shownLevels(p);
  const ticks = v.study.def.range ? shown : [...shown, ...niceTicks(scale.min, scale.max, 2).ticks];
  const labelled: number[] = [];
  for (const t of ticks) {
    const ty = py(t);
    if (ty < top + fs || ty > top + height - 2 || Math.abs(ty - tagY) < fs + 2) continue;
    if (labelled.some((lv) => Math.abs(lv - ty) < fs + 2)) continue;
    labelled.push(ty);
    out.push(te.draw(right + 6, ty + fs * 0.36, formatAxisValue(t), { size: fs, fill: pal.textMuted }));
  }
  if (tagPlot && tagValue !== null && tagY >= top && tagY <= top + height) {
    const h = fs + 6;
    const ty = Math.max(top + h / 2, Math.min(top + height - h / 2, tagY));
    out.push(
      `<rect x="${right + 1}" y="${r1(ty - h / 2)}" width="${l.axisW - 2}" height="${h}" rx="2" fill="${tagPlot.color}"/>`,
      te.draw(right + 5, ty + fs * 0.36, formatAxisValue(tagValue), { size: fs, fill: pal.labelText }),
    );
  }
  out.push(legend(l, v, top + fs + 4, l.left + 8));
  return out.join('');
}

/** The separate panes: their bodies, and their labels (drawn later, over the axis). */
export function paintPanes(l: Layout): { body: string; labels: string } {
  return {
    body: l.panes.map((p) => paneBody(l, p)).join(''),
    labels: l.panes.map((p) => paneLabels(l, p)).join(''),
  };
}
