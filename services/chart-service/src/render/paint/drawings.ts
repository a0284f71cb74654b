import type { ResolvedDrawing } from '@chartwright/market';
import { DRAWING_COLOR } from '../colors.js';
import { formatPrice, r1 } from '../format.js';
import type { Layout } from '../layout.js';
import { fitText, type TextEngine } from '../text.js';
import type { Palette } from '../theme.js';

export interface DrawContext {
  /** x of a time (ms), extrapolated beyond the bars. */
  x(time: number): number;
  y(price: number): number;
  left: number;
  right: number;
  top: number;
  bottom: number;
  palette: Palette;
  fontSize: number;
  /** Bar width in px, to size arrows and default position lengths. */
  slot: number;
  /** Right edge of the price axis labels, for price tags. */
  axisX: number;
  axisWidth: number;
  te: TextEngine;
}

const FIB_LEVELS: [number, string][] = [
  [0, '#787B86'],
  [0.236, '#F23645'],
  [0.382, '#FF9800'],
  [0.5, '#4CAF50'],
  [0.618, '#089981'],
  [0.786, '#00BCD4'],
  [1, '#787B86'],
];

function dash(style: number | undefined, width: number): string {
  if (style === 1) return ` stroke-dasharray="${r1(width * 1.5)} ${r1(width * 2.5)}"`;
  if (style === 2) return ` stroke-dasharray="${r1(width * 6)} ${r1(width * 4)}"`;
  return '';
}

/** `#RRGGBB` at an opacity as rgba(); other colours (names, rgba()) give the default blue fill. */
function translucent(color: string, alpha: number): string {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(color);
  if (!m) return `rgba(41, 98, 255, ${alpha})`;
  const [r, g, b] = m.slice(1).map((h) => Number.parseInt(h, 16));
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}

const clamp = (v: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, v));

type Anchor = 'start' | 'middle' | 'end';

/**
 * Where a label goes so that it stays inside the plot: shifted in from an edge it would cross (its
 * anchor kept), its baseline kept between the top and bottom, and cut short if wider than the plot.
 */
export function placeLabel(
  ctx: DrawContext,
  x: number,
  y: number,
  text: string,
  size: number,
  anchor: Anchor = 'start',
): { x: number; y: number; text: string } {
  const pad = 4;
  const fitted = fitText(ctx.te, text, size, ctx.right - ctx.left - 2 * pad);
  const w = ctx.te.measure(fitted, size);
  const shift = anchor === 'middle' ? w / 2 : anchor === 'end' ? w : 0;
  const x0 = clamp(x - shift, ctx.left + pad, ctx.right - pad - w);
  return { x: x0 + shift, y: clamp(y, ctx.top + size, ctx.bottom - pad), text: fitted };
}

/** A coloured price label on the price axis. */
export function priceTag(ctx: DrawContext, price: number, color: string, label = formatPrice(price)): string {
  const y = ctx.y(price);
  if (y < ctx.top || y > ctx.bottom) return '';
  const h = ctx.fontSize + 6;
  return (
    `<rect x="${r1(ctx.axisX)}" y="${r1(y - h / 2)}" width="${r1(ctx.axisWidth - 2)}" height="${h}" rx="2" fill="${color}"/>` +
    ctx.te.draw(ctx.axisX + 5, y + ctx.fontSize * 0.36, label, {
      size: ctx.fontSize,
      fill: ctx.palette.labelText,
    })
  );
}

/** One drawing as SVG, in its pane's coordinates. Price tags on the axis go into `tags`. */
export function renderDrawing(
  d: ResolvedDrawing,
  ctx: DrawContext,
  tags: string[],
  color = d.override.linecolor ?? DRAWING_COLOR,
): string {
  const o = d.override;
  const lw = o.linewidth ?? 1.5;
  const textColor = o.textColor ?? o.linecolor ?? ctx.palette.text;
  const fs = o.fontsize ?? ctx.fontSize;
  const label = d.input.text ?? o.text;
  const stroke = `stroke="${color}" stroke-width="${lw}"${dash(o.linestyle, lw)} fill="none"`;
  const i = d.input;
  const parts: string[] = [];
  const text = (x: number, y: number, s: string, fill: string, size: number, anchor?: Anchor) => {
    const at = placeLabel(ctx, x, y, s, size, anchor);
    return ctx.te.draw(at.x, at.y, at.text, {
      size,
      fill,
      anchor,
      halo: fill === '#FFFFFF' ? undefined : ctx.palette.background,
    });
  };

  switch (d.name) {
    case 'Horizontal Line': {
      const y = ctx.y(i.price!);
      parts.push(`<path d="M${ctx.left} ${r1(y)}H${ctx.right}" ${stroke}/>`);
      if (label) parts.push(text(ctx.left + 8, y - 5, label, textColor, fs));
      tags.push(priceTag(ctx, i.price!, color));
      break;
    }
    case 'Vertical Line': {
      const x = ctx.x(i.datetime!);
      parts.push(`<path d="M${r1(x)} ${ctx.top}V${ctx.bottom}" ${stroke}/>`);
      if (label) {
        // Right of the line, or left of it when there is no room on the right.
        const flip = x + 5 + ctx.te.measure(label, fs) > ctx.right - 4;
        parts.push(
          text(flip ? x - 5 : x + 5, ctx.top + fs + 30, label, textColor, fs, flip ? 'end' : 'start'),
        );
      }
      break;
    }
    case 'Trend Line': {
      const [x1, y1, x2, y2] = [
        ctx.x(i.startDatetime!),
        ctx.y(i.startPrice!),
        ctx.x(i.endDatetime!),
        ctx.y(i.endPrice!),
      ];
      parts.push(`<path d="M${r1(x1)} ${r1(y1)}L${r1(x2)} ${r1(y2)}" ${stroke} stroke-linecap="round"/>`);
      if (label) parts.push(text((x1 + x2) / 2, (y1 + y2) / 2 - 6, label, textColor, fs, 'middle'));
      break;
    }
    case 'Rectangle': {
      const [x1, y1, x2, y2] = [
        ctx.x(i.startDatetime!),
        ctx.y(i.startPrice!),
        ctx.x(i.endDatetime!),
        ctx.y(i.endPrice!),
      ];
      const fill = o.backgroundColor ?? translucent(color, 0.15);
      parts.push(
        `<rect x="${r1(Math.min(x1, x2))}" y="${r1(Math.min(y1, y2))}" width="${r1(Math.abs(x2 - x1))}" height="${r1(Math.abs(y2 - y1))}" fill="${fill}" stroke="${color}" stroke-width="${lw}"${dash(o.linestyle, lw)}/>`,
      );
      if (label) parts.push(text(Math.min(x1, x2) + 4, Math.min(y1, y2) + fs + 2, label, textColor, fs));
      break;
    }
    case 'Fib Retracement': {
      const x1 = Math.min(ctx.x(i.startDatetime!), ctx.x(i.endDatetime!));
      const x2 = Math.max(ctx.x(i.startDatetime!), ctx.x(i.endDatetime!));
      const [p1, p2] = [i.startPrice!, i.endPrice!];
      parts.push(
        `<path d="M${r1(ctx.x(i.startDatetime!))} ${r1(ctx.y(p1))}L${r1(ctx.x(i.endDatetime!))} ${r1(ctx.y(p2))}" stroke="${ctx.palette.textMuted}" stroke-width="1" stroke-dasharray="4 4" fill="none"/>`,
      );
      let lastLabelY = Number.NaN;
      FIB_LEVELS.forEach(([level, c], k) => {
        const price = p2 + (p1 - p2) * level;
        const y = ctx.y(price);
        const lc = o.linecolor ?? c;
        const next = FIB_LEVELS[k + 1];
        if (next) {
          const y2 = ctx.y(p2 + (p1 - p2) * next[0]);
          parts.push(
            `<rect x="${r1(x1)}" y="${r1(Math.min(y, y2))}" width="${r1(x2 - x1)}" height="${r1(Math.abs(y2 - y))}" fill="${lc}" fill-opacity="0.08"/>`,
          );
        }
        parts.push(
          `<path d="M${r1(x1)} ${r1(y)}H${r1(x2)}" stroke="${lc}" stroke-width="${lw}"${dash(o.linestyle, lw)}/>`,
        );
        if (!(Math.abs(y - lastLabelY) < fs)) {
          parts.push(
            text(x1 + 4, y - 3, `${level} (${formatPrice(price)})`, o.textColor ?? lc, Math.round(fs * 0.9)),
          );
          lastLabelY = y;
        }
      });
      if (label) parts.push(text(x2, ctx.y(p2) - 6, label, textColor, fs, 'end'));
      break;
    }
    case 'Long Position':
    case 'Short Position': {
      const long = d.name === 'Long Position';
      const x1 = ctx.x(i.startDatetime!);
      const x2 =
        i.endDatetime !== undefined ? ctx.x(i.endDatetime) : Math.min(ctx.right - 4, x1 + ctx.slot * 25);
      const [ye, yt, ys] = [ctx.y(i.entryPrice!), ctx.y(i.targetPrice!), ctx.y(i.stopPrice!)];
      const w = r1(Math.max(2, x2 - x1));
      const profit = o.backgroundColor ?? 'rgba(8, 153, 129, 0.22)';
      const loss = 'rgba(242, 54, 69, 0.22)';
      parts.push(
        `<rect x="${r1(x1)}" y="${r1(Math.min(ye, yt))}" width="${w}" height="${r1(Math.abs(yt - ye))}" fill="${profit}"/>`,
        `<rect x="${r1(x1)}" y="${r1(Math.min(ye, ys))}" width="${w}" height="${r1(Math.abs(ys - ye))}" fill="${loss}"/>`,
        `<path d="M${r1(x1)} ${r1(ye)}H${r1(x1 + w)}" stroke="${o.linecolor ?? ctx.palette.textMuted}" stroke-width="${lw}"${dash(o.linestyle, lw)}/>`,
      );
      const pct = (p: number) => `${(((p - i.entryPrice!) / i.entryPrice!) * 100).toFixed(2)}%`;
      const rr = Math.abs(i.targetPrice! - i.entryPrice!) / Math.abs(i.entryPrice! - i.stopPrice!);
      const cx = x1 + w / 2;
      const small = Math.round(fs * 0.9);
      // Labels sit in boxes just outside the far edges of the zones, so they never overlap each other
      // or the entry line; the entry label only when the profit zone has room for it.
      // Near an edge of the plot the boxes move inside it.
      const boxed = (yEdge: number, above: boolean, s: string, bg: string) => {
        const fitted = fitText(ctx.te, s, small, ctx.right - ctx.left - 14);
        const bw2 = ctx.te.measure(fitted, small) + 10;
        const bh = small + 6;
        const top = clamp(above ? yEdge - bh - 2 : yEdge + 2, ctx.top, ctx.bottom - bh);
        const bx = clamp(cx - bw2 / 2, ctx.left + 2, ctx.right - 2 - bw2);
        return (
          `<rect x="${r1(bx)}" y="${r1(top)}" width="${r1(bw2)}" height="${bh}" rx="2" fill="${bg}"/>` +
          text(bx + bw2 / 2, top + bh - 4.5, fitted, '#FFFFFF', small, 'middle')
        );
      };
      parts.push(
        boxed(yt, long, `Target ${formatPrice(i.targetPrice!)} (${pct(i.targetPrice!)})`, '#089981'),
        boxed(ys, !long, `Stop ${formatPrice(i.stopPrice!)} (${pct(i.stopPrice!)})`, '#F23645'),
      );
      if (Math.abs(yt - ye) > small + 8) {
        const entry = `${label ?? (long ? 'Long' : 'Short')} ${formatPrice(i.entryPrice!)} · R/R ${rr.toFixed(2)}`;
        parts.push(text(cx, long ? ye - 5 : ye + small + 3, entry, textColor, small, 'middle'));
      }
      break;
    }
    case 'Text': {
      parts.push(
        text(
          ctx.x(i.datetime!),
          ctx.y(i.price!),
          label ?? '',
          o.textColor ?? o.linecolor ?? ctx.palette.text,
          fs,
          'middle',
        ),
      );
      break;
    }
    case 'Arrow Mark Up':
    case 'Arrow Mark Down': {
      const up = d.name === 'Arrow Mark Up';
      const c = o.linecolor ?? o.backgroundColor ?? (up ? ctx.palette.up : ctx.palette.down);
      const x = ctx.x(i.datetime!);
      const y = ctx.y(i.price!);
      const s = Math.max(7, Math.min(14, ctx.slot * 1.5));
      // The tip touches the price: below it for an up arrow, above it for a down arrow.
      const dir = up ? 1 : -1;
      const tip = y + dir * 3;
      const d2 = [
        `M${r1(x)} ${r1(tip)}`,
        `L${r1(x + s)} ${r1(tip + dir * s)}`,
        `L${r1(x + s * 0.4)} ${r1(tip + dir * s)}`,
        `L${r1(x + s * 0.4)} ${r1(tip + dir * s * 2)}`,
        `L${r1(x - s * 0.4)} ${r1(tip + dir * s * 2)}`,
        `L${r1(x - s * 0.4)} ${r1(tip + dir * s)}`,
        `L${r1(x - s)} ${r1(tip + dir * s)}Z`,
      ].join('');
      parts.push(`<path d="${d2}" fill="${c}"/>`);
      if (label) {
        const ty = up ? tip + s * 2 + fs + 3 : tip - s * 2 - 5;
        parts.push(text(x, ty, label, o.textColor ?? c, fs, 'middle'));
      }
      break;
    }
  }
  return parts.join('');
}

/** Prices a drawing spans, for autoscaling the price pane. */
export function drawingPrices(d: ResolvedDrawing): number[] {
  const i = d.input;
  return [i.price, i.startPrice, i.endPrice, i.entryPrice, i.targetPrice, i.stopPrice].filter(
    (p): p is number => p !== undefined,
  );
}

/** Drawings in the main pane; their price tags go on the axis later, over the axis labels. */
export function paintDrawings(l: Layout): { shapes: string; tags: string } {
  const tags: string[] = [];
  const ctx = drawContext(l);
  const shapes = l.drawings.map((d) => renderDrawing(d.drawing, ctx, tags, d.color)).join('');
  return { shapes, tags: tags.join('') };
}

export function drawContext(l: Layout): DrawContext {
  return {
    x: l.xOfTime,
    y: l.y,
    left: l.left,
    right: l.right,
    top: 0,
    bottom: l.mainBottom,
    palette: l.pal,
    fontSize: l.fs,
    slot: l.slotW,
    axisX: l.right + 1,
    axisWidth: l.axisW,
    te: l.te,
  };
}
