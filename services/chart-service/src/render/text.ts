import { readFileSync } from 'node:fs';
import opentype, { type Font, type PathCommand } from 'opentype.js';
import { FONT_FAMILY, fontSetup } from './fonts.js';
import { esc, r1 } from './format.js';

export interface TextRun {
  text: string;
  fill: string;
}

export interface TextStyle {
  size: number;
  fill: string;
  anchor?: 'start' | 'middle' | 'end';
  bold?: boolean;
  /** A background-coloured outline that keeps labels legible over candles. */
  halo?: string;
}

/** Lays out and draws text; the chart code does not care whether it ends up as glyphs or outlines. */
export interface TextEngine {
  measure(text: string, size: number, bold?: boolean): number;
  /** Draws at baseline `y`; `runs` lets one label mix colours (legend values). */
  draw(x: number, y: number, content: string | TextRun[], style: TextStyle): string;
}

interface CachedGlyph {
  advance: number;
  /** Outline in font units (y down) with relative commands after its first moveto, or '' if blank. */
  d: string;
  startX: number;
  startY: number;
  /** Pen position after the outline, relative to its start, so the next glyph can continue from it. */
  endX: number;
  endY: number;
}

class OutlineFont {
  readonly #font: Font;
  readonly #glyphs = new Map<string, CachedGlyph>();
  readonly unitsPerEm: number;

  constructor(file: string) {
    const buf = readFileSync(file);
    this.#font = opentype.parse(
      buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer,
    );
    this.unitsPerEm = this.#font.unitsPerEm;
  }

  glyph(ch: string): CachedGlyph {
    let g = this.#glyphs.get(ch);
    if (!g) {
      const glyph = this.#font.charToGlyph(ch);
      g = toRelative(
        glyph.getPath(0, 0, this.unitsPerEm).commands,
        glyph.advanceWidth ?? this.unitsPerEm / 2,
      );
      this.#glyphs.set(ch, g);
    }
    return g;
  }

  width(text: string, size: number): number {
    let w = 0;
    for (const ch of text) w += this.glyph(ch).advance;
    return (w * size) / this.unitsPerEm;
  }
}

function toRelative(commands: PathCommand[], advance: number): CachedGlyph {
  let d = '';
  let cx = 0;
  let cy = 0;
  let sx = 0;
  let sy = 0;
  let first: [number, number] | undefined;
  const n = (v: number) => Math.round(v);
  for (const c of commands) {
    if (c.type === 'Z') {
      d += 'z';
      cx = sx;
      cy = sy;
      continue;
    }
    const x = n(c.x);
    const y = n(c.y);
    if (!first) {
      first = [x, y];
    } else if (c.type === 'M') {
      d += `m${x - cx} ${y - cy}`;
    } else if (c.type === 'L') {
      d += `l${x - cx} ${y - cy}`;
    } else if (c.type === 'Q') {
      d += `q${n(c.x1) - cx} ${n(c.y1) - cy} ${x - cx} ${y - cy}`;
    } else if (c.type === 'C') {
      d += `c${n(c.x1) - cx} ${n(c.y1) - cy} ${n(c.x2) - cx} ${n(c.y2) - cy} ${x - cx} ${y - cy}`;
    }
    if (c.type === 'M') {
      sx = x;
      sy = y;
    }
    cx = x;
    cy = y;
  }
  const [fx, fy] = first ?? [0, 0];
  return { advance, d, startX: fx, startY: fy, endX: cx - fx, endY: cy - fy };
}

/**
 * Draws text as glyph outlines. resvg shapes every glyph of every <text> anew (≈70 µs a glyph, most
 * of a chart's render time), whereas outlines cached per character cost next to nothing. Layout is
 * simple left-to-right without kerning or shaping, which suits labels and numbers; characters the
 * font lacks show as its .notdef box.
 */
class OutlineTextEngine implements TextEngine {
  constructor(
    private readonly regular: OutlineFont,
    private readonly bold: OutlineFont,
  ) {}

  measure(text: string, size: number, bold = false): number {
    return (bold ? this.bold : this.regular).width(text, size);
  }

  draw(x: number, y: number, content: string | TextRun[], style: TextStyle): string {
    const runs = typeof content === 'string' ? [{ text: content, fill: style.fill }] : content;
    const font = style.bold ? this.bold : this.regular;
    const total = runs.reduce((w, r) => w + font.width(r.text, style.size), 0);
    const x0 = style.anchor === 'middle' ? x - total / 2 : style.anchor === 'end' ? x - total : x;
    const scale = style.size / font.unitsPerEm;
    let out = '';
    let pen = 0;
    for (const run of runs) {
      let d = '';
      let cx = 0;
      let cy = 0;
      let started = false;
      for (const ch of run.text) {
        const g = font.glyph(ch);
        if (g.d || g.startX || g.startY) {
          const gx = pen + g.startX;
          const gy = g.startY;
          d += started ? `m${gx - cx} ${gy - cy}` : `M${gx} ${gy}`;
          d += g.d;
          started = true;
          cx = gx + g.endX;
          cy = gy + g.endY;
        }
        pen += g.advance;
      }
      if (d) {
        const halo = style.halo
          ? ` stroke="${style.halo}" stroke-width="${Math.round(3 / scale)}" stroke-linejoin="round" paint-order="stroke"`
          : '';
        out += `<path transform="matrix(${scale.toFixed(6)} 0 0 ${scale.toFixed(6)} ${r1(x0)} ${r1(y)})" d="${d}" fill="${run.fill}"${halo}/>`;
      }
    }
    return out;
  }
}

/** Plain SVG text: for SVG output (selectable, small) and as the fallback when no font file exists. */
class SvgTextEngine implements TextEngine {
  constructor(private readonly metrics?: { regular: OutlineFont; bold: OutlineFont }) {}

  measure(text: string, size: number, bold = false): number {
    if (this.metrics) return (bold ? this.metrics.bold : this.metrics.regular).width(text, size);
    return text.length * size * 0.6;
  }

  draw(x: number, y: number, content: string | TextRun[], style: TextStyle): string {
    const anchor = style.anchor && style.anchor !== 'start' ? ` text-anchor="${style.anchor}"` : '';
    const weight = style.bold ? ' font-weight="bold"' : '';
    const halo = style.halo
      ? ` stroke="${style.halo}" stroke-width="3" stroke-linejoin="round" paint-order="stroke"`
      : '';
    const body =
      typeof content === 'string'
        ? esc(content)
        : content
            .map((r) =>
              r.fill === style.fill ? esc(r.text) : `<tspan fill="${r.fill}">${esc(r.text)}</tspan>`,
            )
            .join('');
    return `<text x="${r1(x)}" y="${r1(y)}" font-size="${style.size}" fill="${style.fill}"${anchor}${weight}${halo}>${body}</text>`;
  }
}

let fonts: { regular: OutlineFont; bold: OutlineFont } | null | undefined;

function loadFonts(): { regular: OutlineFont; bold: OutlineFont } | null {
  if (fonts !== undefined) return fonts;
  const { files } = fontSetup();
  try {
    const regular = files[0] ? new OutlineFont(files[0]) : null;
    fonts = regular ? { regular, bold: files[1] ? new OutlineFont(files[1]) : regular } : null;
  } catch {
    fonts = null;
  }
  return fonts;
}

/** The engine for an output format: outlines for PNG when fonts load, SVG text otherwise. */
export function textEngine(format: 'png' | 'svg'): TextEngine {
  const f = loadFonts();
  if (format === 'png' && f) return new OutlineTextEngine(f.regular, f.bold);
  return new SvgTextEngine(f ?? undefined);
}

export { FONT_FAMILY };

/** `text`, cut short with an ellipsis when it is wider than `maxWidth`. */
export function fitText(te: TextEngine, text: string, size: number, maxWidth: number, bold = false): string {
  if (te.measure(text, size, bold) <= maxWidth) return text;
  const chars = [...text];
  let lo = 0;
  let hi = chars.length;
  // The longest prefix that fits with its ellipsis.
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (te.measure(`${chars.slice(0, mid).join('')}…`, size, bold) <= maxWidth) lo = mid;
    else hi = mid - 1;
  }
  return lo === 0 ? '' : `${chars.slice(0, lo).join('').trimEnd()}…`;
}

/** Runs of text (a legend) that fit `maxWidth`: the first cut short if need be, later ones dropped. */
export function fitRuns(te: TextEngine, runs: TextRun[], size: number, maxWidth: number): TextRun[] {
  const out: TextRun[] = [];
  let used = 0;
  for (const [k, run] of runs.entries()) {
    const w = te.measure(run.text, size);
    if (used + w <= maxWidth) {
      out.push(run);
      used += w;
    } else {
      if (k === 0) out.push({ ...run, text: fitText(te, run.text, size, maxWidth) });
      break;
    }
  }
  return out;
}
