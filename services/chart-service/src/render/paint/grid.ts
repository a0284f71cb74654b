import { formatPrice, r1 } from '../format.js';
import type { Layout } from '../layout.js';

/** Grid lines at the placed time ticks and the price ticks. */
export function paintGrid(l: Layout): string {
  let d = '';
  for (const t of l.timeTicks) d += `M${r1(t.x)} 0V${l.bottom}`;
  for (const v of l.priceTicks) d += `M${l.left} ${r1(l.y(v))}H${l.right}`;
  return `<path d="${d}" stroke="${l.pal.grid}" stroke-width="1" shape-rendering="crispEdges"/>`;
}

/**
 * Nothing in the main pane is clipped (a clip path costs resvg a full-size layer): whatever spills
 * out of it is painted over by these, the panes and the axes drawn after it.
 */
export function paintPlotMask(l: Layout): string {
  const { W, H, right, mainBottom, pal } = l;
  return (
    `<rect x="${right}" y="0" width="${W - right}" height="${H}" fill="${pal.background}"/>` +
    `<rect x="0" y="${mainBottom}" width="${W}" height="${H - mainBottom}" fill="${pal.background}"/>`
  );
}

/** Axis lines and the price labels, leaving room for the last price's tag. */
export function paintPriceAxis(l: Layout): string {
  const { fs, right, bottom, W, pal, te } = l;
  let out = `<path d="M${right} 0V${bottom}M0 ${bottom}H${W}" stroke="${pal.axisLine}" stroke-width="1"/>`;
  const lastY = l.lastBar ? l.y(l.lastBar.close) : Number.NaN;
  for (const t of l.priceTicks) {
    const ty = l.y(t);
    if (ty < l.main.top - 2 || ty > l.mainBottom - 4) continue;
    if (Math.abs(ty - lastY) < fs + 2) continue;
    out += te.draw(right + 6, ty + fs * 0.36, formatPrice(t, l.decimals), { size: fs, fill: pal.textMuted });
  }
  return out;
}

export function paintTimeLabels(l: Layout): string {
  const { fs, pal } = l;
  return l.timeTicks
    .map((t) =>
      l.te.draw(t.x, l.bottom + fs + 5, t.label, {
        size: fs,
        fill: t.rank > 0 ? pal.text : pal.textMuted,
        anchor: 'middle',
        bold: t.rank > 1,
      }),
    )
    .join('');
}
