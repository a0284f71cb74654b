import { r1 } from '../format.js';
import type { Layout } from '../layout.js';
import { linePath, type Pane, visiblePoints, yOf } from '../series.js';

/** Volume bars at the bottom of the main pane, with their moving average. */
export function paintVolume(l: Layout): string {
  const { volume, bars, start, slots, x, pal } = l;
  if (!volume || !bars.length) return '';
  const vp = volume.plots.find((p) => p.output.key === 'volume');
  const vals = vp ? [...visiblePoints(vp, start, slots)] : [];
  const vmax = Math.max(1e-12, ...vals.map(([, v]) => v));
  const vBottom = l.mainBottom;
  const vTop = l.mainBottom - l.volumeH;
  const bw = Math.max(1, l.slotW * 0.7);
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
  let out =
    `<path d="${upD}" fill="${pal.volumeUp}" shape-rendering="crispEdges"/>` +
    `<path d="${downD}" fill="${pal.volumeDown}" shape-rendering="crispEdges"/>`;
  const ma = volume.plots.find((p) => p.output.key === 'ma');
  if (ma) {
    const vPane: Pane = { top: vTop, bottom: vBottom, min: 0, max: vmax };
    const d = linePath(visiblePoints(ma, start, slots), x, (v) => yOf(vPane, v));
    out += `<path d="${d}" stroke="${ma.color}" stroke-width="1" fill="none"/>`;
  }
  return out;
}

/** Band fills (Bollinger, Keltner, Donchian, Ichimoku's cloud). */
export function paintBandFills(l: Layout): string {
  const { start, slots, x, y } = l;
  const out: string[] = [];
  for (const v of l.overlays) {
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
            .map(([s, , lo]) => `${r1(x(s))} ${r1(y(lo))}`)
            .join('L');
          const color = runInverted ? (fill.colorInverted ?? fill.color) : fill.color;
          out.push(`<path d="M${top}L${bot}Z" fill="${color}"/>`);
        }
        run = [];
      };
      for (let s = 0; s < slots; s++) {
        const u = a.get(s);
        const lo = b.get(s);
        if (u === undefined || lo === undefined) {
          flush();
          continue;
        }
        const inverted = u < lo;
        if (run.length && inverted !== runInverted) {
          const last = run[run.length - 1]!;
          flush();
          run.push(last);
        }
        runInverted = inverted;
        run.push([s, u, lo]);
      }
      flush();
    }
  }
  return out.join('');
}

/** Overlay lines (moving averages, band edges…) and dots (Parabolic SAR). */
export function paintOverlayLines(l: Layout): string {
  const { start, slots, x, y } = l;
  const out: string[] = [];
  for (const v of l.overlays) {
    for (const p of v.plots) {
      if (p.output.plot === 'dots') {
        const r = Math.max(1, Math.min(2.5, l.slotW * 0.25));
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
  return out.join('');
}
