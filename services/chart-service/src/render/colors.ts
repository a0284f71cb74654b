import type { ResolvedDrawing } from '@chartwright/market';
import type { StudyView } from './series.js';

/** Line colours that overlays and drawings without a colour of their own take, in this order. */
export const LINE_PALETTE = [
  '#2962FF',
  '#FF9800',
  '#E91E63',
  '#00BCD4',
  '#8BC34A',
  '#9C27B0',
  '#795548',
  '#607D8B',
  '#3F51B5',
  '#FFEB3B',
] as const;

/** The colour a line drawing gets when it names none (before the palette makes it distinct). */
export const DRAWING_COLOR = '#2962FF';

/** Drawings drawn as one coloured line or outline; the others have colours of their own. */
const LINE_DRAWINGS = new Set(['Horizontal Line', 'Vertical Line', 'Trend Line', 'Rectangle']);

const key = (c: string) => c.toLowerCase().replace(/\s+/g, '');

/**
 * Gives each overlay line and line drawing without a colour of its own a distinct one. Colours
 * given in the config, multi-line overlays' own schemes (Bollinger, Ichimoku…) and `reserved` (the
 * price line) are kept and taken first; the others keep their usual colour when it is still free,
 * else take the next free colour of LINE_PALETTE, overlays first, then drawings, in config order.
 * Returns each drawing's line colour, by drawing.
 */
export function assignLineColors(
  overlays: StudyView[],
  drawings: readonly ResolvedDrawing[],
  reserved: readonly string[] = [],
): string[] {
  const taken = new Set(reserved.map(key));
  const defaults = overlays.filter((v) => v.plots.length === 1 && !v.plots[0]!.explicit);
  for (const v of overlays) {
    if (defaults.includes(v)) continue;
    for (const p of v.plots) taken.add(key(p.color));
  }
  for (const d of drawings) if (d.override.linecolor) taken.add(key(d.override.linecolor));

  let cursor = 0;
  const pick = (usual: string): string => {
    if (!taken.has(key(usual))) {
      taken.add(key(usual));
      return usual;
    }
    const next = LINE_PALETTE.find((c) => !taken.has(key(c)));
    // More lines than colours: reuse the palette in turn.
    const color = next ?? LINE_PALETTE[cursor++ % LINE_PALETTE.length]!;
    taken.add(key(color));
    return color;
  };
  for (const v of defaults) v.plots[0]!.color = pick(v.plots[0]!.color);
  return drawings.map(
    (d) => d.override.linecolor ?? (LINE_DRAWINGS.has(d.name) ? pick(DRAWING_COLOR) : DRAWING_COLOR),
  );
}
