import {
  type Bar,
  CatalogueError,
  Color,
  computeStudy,
  type Line,
  type OutputDef,
  type ResolvedStudy,
} from '@chartwright/market';
import { r1 } from './format.js';
import { EXTRA_LINE_COLORS } from './theme.js';

/** One output line of a study, with its colour and width decided. */
export interface Plot {
  output: OutputDef;
  values: Line;
  offset: number;
  color: string;
  /** The colour comes from the config's overrides. */
  explicit: boolean;
  width: number;
}

export interface StudyView {
  study: ResolvedStudy;
  plots: Plot[];
}

/** A vertical value scale: `min` at `bottom`, `max` at `top`. */
export interface Pane {
  top: number;
  bottom: number;
  min: number;
  max: number;
}

export const yOf = (p: Pane, v: number) => p.bottom - ((v - p.min) / (p.max - p.min)) * (p.bottom - p.top);

export function heikinAshi(bars: readonly Bar[]): Bar[] {
  const out: Bar[] = [];
  for (const [i, b] of bars.entries()) {
    const close = (b.open + b.high + b.low + b.close) / 4;
    const prev = out[i - 1];
    const open = prev ? (prev.open + prev.close) / 2 : (b.open + b.close) / 2;
    out.push({ ...b, open, close, high: Math.max(b.high, open, close), low: Math.min(b.low, open, close) });
  }
  return out;
}

export function overrideColor(study: ResolvedStudy, key: string): string | undefined {
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

/**
 * Computes each study and picks its colours: overrides first, then a fresh colour for a repeated
 * separate-pane study. Overlays without overrides get distinct colours later (assignLineColors).
 */
export function studyViews(studies: ResolvedStudy[], bars: readonly Bar[]): StudyView[] {
  const seen = new Map<string, number>();
  return studies.map((study) => {
    const lines = computeStudy(study, bars);
    const offsets = study.def.offsets?.(study.inputs) ?? {};
    const repeat = seen.get(study.def.name) ?? 0;
    seen.set(study.def.name, repeat + 1);
    const outputs = study.def.outputs.filter((o) => !o.hidden && lines[o.key]);
    const plots = outputs.map((output) => {
      const single = outputs.length === 1;
      const override =
        overrideColor(study, `${output.label}.color`) ??
        (single ? (overrideColor(study, 'color') ?? overrideColor(study, 'plot.color')) : undefined);
      const repeated = repeat > 0 && single && study.def.pane !== 'overlay';
      const color =
        override ?? (repeated ? EXTRA_LINE_COLORS[(repeat - 1) % EXTRA_LINE_COLORS.length]! : output.color);
      const lw = Number(study.override[`${output.label}.linewidth`] ?? study.override.linewidth ?? 1.5);
      return {
        output,
        values: lines[output.key]!,
        offset: offsets[output.key] ?? 0,
        color,
        explicit: override !== undefined,
        width: Number.isFinite(lw) ? Math.min(6, Math.max(0.5, lw)) : 1.5,
      };
    });
    return { study, plots };
  });
}

/** Visible values of a plot, by visible slot, honouring its offset. */
export function* visiblePoints(plot: Plot, start: number, slots: number): Generator<[number, number]> {
  const { values, offset } = plot;
  const from = Math.max(0, start - offset);
  for (let j = from; j < values.length; j++) {
    const slot = j + offset - start;
    if (slot >= slots) break;
    const v = values[j];
    if (v !== null && v !== undefined && slot >= 0) yield [slot, v];
  }
}

export function lastVisible(plot: Plot, start: number, slots: number): number | null {
  let last: number | null = null;
  for (const [s, v] of visiblePoints(plot, start, slots)) if (s < slots) last = v;
  return last;
}

export function linePath(
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

/** The value scale of a separate pane (RSI, MACD…) between `top` and `bottom`. */
export function separatePane(
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
