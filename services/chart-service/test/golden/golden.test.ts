import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { npmFontDir } from '../../src/render/fonts.js';

// Text widths come from the font: always measure with the npm package's DejaVu Sans, so a machine
// with another copy of the font renders the same goldens. Set before the renderer loads any font.
process.env.CHART_FONT_DIR = npmFontDir();
const { renderSvg, svgToPng } = await import('../../src/render/index.js');
const { CASES } = await import('./cases.js');

const DIR = fileURLToPath(new URL('.', import.meta.url));
const UPDATE = process.env.UPDATE_GOLDENS === '1';
/** Also write each golden as PNG into this folder, to look at them. */
const PNG_DIR = process.env.GOLDEN_PNG_DIR;

/** One element a line, so a change shows as a readable line diff. */
const pretty = (svg: string) => `${svg.replace(/></g, '>\n<')}\n`;

describe('golden charts', () => {
  it('has at least 12 cases with distinct names', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(12);
    expect(new Set(CASES.map((c) => c.name)).size).toBe(CASES.length);
  });

  for (const c of CASES) {
    it(c.name, () => {
      const svg = renderSvg(c.input);
      const file = join(DIR, `${c.name}.svg`);
      if (PNG_DIR) {
        mkdirSync(PNG_DIR, { recursive: true });
        writeFileSync(join(PNG_DIR, `${c.name}.png`), svgToPng(svg));
      }
      if (UPDATE) {
        writeFileSync(file, pretty(svg));
        return;
      }
      if (!existsSync(file)) throw new Error(`${file} is missing: run with UPDATE_GOLDENS=1 to create it`);
      const want = readFileSync(file, 'utf8').split('\n');
      const got = pretty(svg).split('\n');
      const at = got.findIndex((line, i) => line !== want[i]);
      // The first differing element, not a diff of thousands of lines.
      expect(
        at === -1 && got.length === want.length ? null : { line: at + 1, want: want[at], got: got[at] },
        `${c.name} differs from ${file}; if the change is intended, run with UPDATE_GOLDENS=1`,
      ).toBeNull();
    });
  }
});
