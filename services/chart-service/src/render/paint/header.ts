import { splitSymbol } from '@chartwright/market';
import { formatCompact, formatPrice, r1 } from '../format.js';
import type { Layout } from '../layout.js';
import { lastVisible } from '../series.js';
import { fitRuns, fitText } from '../text.js';
import { drawContext, priceTag } from './drawings.js';
import { legend } from './panes.js';

/** `SYNTHETIC DATA` across the main pane. */
export function paintWatermark(l: Layout): string {
  if (!l.input.synthetic) return '';
  const { left, right, main } = l;
  // As wide as 90 % of the plot at most.
  const size = Math.round(
    Math.min(((right - left) * 0.9) / l.tw('SYNTHETIC DATA', 1, true), (l.mainBottom - l.headerH) / 4),
  );
  const wm = l.te.draw((left + right) / 2, (main.top + main.bottom) / 2 + size * 0.35, 'SYNTHETIC DATA', {
    size,
    fill: l.pal.watermark,
    anchor: 'middle',
    bold: true,
  });
  return `<g id="synthetic-watermark">${wm}</g>`;
}

/** The last close on the price axis. */
export function paintLastPriceTag(l: Layout): string {
  if (!l.lastBar) return '';
  const ctx = { ...drawContext(l), top: l.main.top - l.fs, bottom: l.mainBottom };
  return priceTag(ctx, l.lastBar.close, l.lastColor, formatPrice(l.lastBar.close, l.decimals));
}

/** Title, OHLC and overlay legends, over the chart's top-left corner. */
export function paintHeader(l: Layout): string {
  const { input, config, te, tw, fs, pal, left, right, titleSize, legendLine, lastBar, bars } = l;
  const out: string[] = [];
  const { exchange, ticker } = splitSymbol(config.symbol);
  const title = fitText(
    te,
    `${input.symbolLabel ?? ticker} · ${config.interval} · ${exchange}`,
    titleSize,
    right - left - 16,
    true,
  );
  const ty = titleSize + 6;
  out.push(
    `<g id="title">${te.draw(left + 8, ty, title, { size: titleSize, fill: pal.text, bold: true })}</g>`,
  );
  let cursor = left + 8 + tw(title, titleSize, true) + 12;
  if (input.synthetic) {
    const label = 'SYNTHETIC';
    const w = tw(label, fs - 1, true) + 10;
    out.push(
      `<rect x="${r1(cursor)}" y="${ty - fs}" width="${r1(w)}" height="${fs + 5}" rx="3" fill="${pal.down}"/>`,
      te.draw(cursor + 5, ty - 1, label, { size: fs - 1, fill: '#FFFFFF', bold: true }),
    );
    cursor += w + 12;
  }
  if (lastBar && input.valueLabel !== undefined) {
    const value = `${input.valueLabel} ${formatPrice(lastBar.close, l.decimals)}`;
    if (cursor + tw(value) < right - 8)
      out.push(te.draw(cursor, ty - 1, value, { size: fs, fill: l.lastColor }));
  } else if (lastBar) {
    const prev = bars[bars.length - 2];
    const change = prev ? lastBar.close - prev.close : 0;
    const pct = prev?.close ? (change / prev.close) * 100 : 0;
    const f = (v: number) => formatPrice(v, l.decimals);
    const ohlc = `O ${f(lastBar.open)}  H ${f(lastBar.high)}  L ${f(lastBar.low)}  C ${f(lastBar.close)}  ${change >= 0 ? '+' : ''}${f(change)} (${pct >= 0 ? '+' : ''}${pct.toFixed(2)}%)`;
    if (cursor + tw(ohlc) < right - 8) {
      out.push(te.draw(cursor, ty - 1, ohlc, { size: fs, fill: l.lastColor }));
    }
  }
  l.overlays.forEach((v, k) => {
    out.push(legend(l, v, titleSize + 12 + legendLine * (k + 1) - 4, left + 8));
  });
  if (l.volume) {
    const vp = l.volume.plots.find((p) => p.output.key === 'volume');
    const last = vp ? lastVisible(vp, l.start, l.slots) : null;
    const runs = [{ text: 'Vol  ', fill: pal.textMuted }];
    if (last !== null) runs.push({ text: formatCompact(last), fill: l.lastColor });
    out.push(
      te.draw(
        left + 8,
        titleSize + 12 + legendLine * (l.overlays.length + 1) - 4,
        fitRuns(te, runs, fs, right - left - 16),
        {
          size: fs,
          fill: pal.textMuted,
        },
      ),
    );
  }
  if (!bars.length) {
    out.push(
      te.draw((left + right) / 2, l.mainBottom / 2, 'No data', {
        size: fs,
        fill: pal.textMuted,
        anchor: 'middle',
      }),
    );
  }
  return out.join('');
}
