/** Characters XML 1.0 forbids; a parser would reject the whole image. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly what we strip
const XML_INVALID = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;

/** Escapes user text (drawing text, symbols) for SVG text content and attribute values. */
export function esc(s: string): string {
  return s
    .replace(XML_INVALID, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Coordinates with one decimal: enough for anti-aliasing, short SVG. */
export const r1 = (v: number): number => Math.round(v * 10) / 10;

/** Decimals that show a price at its tick precision (5 significant digits, 2 at least above 1). */
export function priceDecimals(v: number): number {
  const a = Math.abs(v);
  if (a === 0 || !Number.isFinite(a)) return 2;
  if (a >= 1) return a >= 100_000 ? 1 : 2;
  return Math.min(10, 4 - Math.floor(Math.log10(a)));
}

const formats = new Map<number, Intl.NumberFormat>();

/** `12,345.67`. Number formats are cached: creating one costs more than a whole candle loop. */
export function formatPrice(v: number, decimals = priceDecimals(v)): string {
  let f = formats.get(decimals);
  if (!f) {
    f = new Intl.NumberFormat('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
    formats.set(decimals, f);
  }
  return f.format(v);
}

/** 1234567 → 1.23M; for volume and OBV. */
export function formatCompact(v: number): string {
  const a = Math.abs(v);
  const units: [number, string][] = [
    [1e12, 'T'],
    [1e9, 'B'],
    [1e6, 'M'],
    [1e3, 'K'],
  ];
  for (const [size, suffix] of units) if (a >= size) return `${(v / size).toFixed(2)}${suffix}`;
  return a >= 100 ? v.toFixed(0) : v.toFixed(2);
}

/** A study value: compact for big numbers, two decimals from 1, four significant digits below. */
export function formatValue(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e5) return formatCompact(v);
  if (a >= 1 || a === 0) return formatPrice(v, 2);
  return formatPrice(v, Math.min(10, 3 - Math.floor(Math.log10(a))));
}
