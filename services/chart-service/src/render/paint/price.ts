import { r1 } from '../format.js';
import type { Layout } from '../layout.js';
import { linePath } from '../series.js';

/** The bars in the chart's style: candles, hollow candles, Heikin Ashi, OHLC bars, line or area. */
export function paintPriceSeries(l: Layout): string {
  const { config, candles, pal, x, y, slotW } = l;
  const out: string[] = [];
  const bw = Math.max(1, slotW * 0.7);
  if (config.style === 'line' || config.style === 'area') {
    const pts = candles.map((b, i) => [i, b.close] as [number, number]);
    const d = linePath(pts, x, y);
    if (config.style === 'area' && pts.length) {
      out.push(
        `<path d="${d}L${r1(x(pts.length - 1))} ${l.mainBottom}L${r1(x(0))} ${l.mainBottom}Z" fill="url(#area)"/>`,
      );
    }
    out.push(`<path d="${d}" stroke="${pal.line}" stroke-width="2" fill="none" stroke-linejoin="round"/>`);
    return out.join('');
  }
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
  return out.join('');
}

/** The dotted line at the last close. */
export function paintLastPriceLine(l: Layout): string {
  if (!l.lastBar) return '';
  return `<path d="M${l.left} ${r1(l.y(l.lastBar.close))}H${l.right}" stroke="${l.lastColor}" stroke-width="1" stroke-dasharray="2 3"/>`;
}
