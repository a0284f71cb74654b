import { Resvg } from '@resvg/resvg-js';
import { FONT_FAMILY, fontSetup } from './fonts.js';
import { type RenderInput, renderSvgDocument } from './svg.js';

export interface RenderedChart {
  data: Buffer;
  contentType: 'image/png' | 'image/svg+xml';
  width: number;
  height: number;
  /** What the chart could not show, e.g. a drawing outside its price range. */
  warnings: string[];
}

/** Rasterises an SVG with the bundled fonts (see fonts.ts). */
export function svgToPng(svg: string): Buffer {
  const fonts = fontSetup();
  const resvg = new Resvg(svg, {
    font: {
      fontFiles: fonts.files,
      loadSystemFonts: fonts.origin === 'none',
      defaultFontFamily: FONT_FAMILY,
      sansSerifFamily: FONT_FAMILY,
    },
    logLevel: 'off',
  });
  return resvg.render().asPng();
}

/** Renders in the calling thread; see RenderPool for rendering on worker threads. */
export function renderChartSync(input: RenderInput): RenderedChart {
  const { svg, warnings } = renderSvgDocument(input);
  const { width, height, format } = input.config;
  if (format === 'svg')
    return { data: Buffer.from(svg), contentType: 'image/svg+xml', width, height, warnings };
  return { data: svgToPng(svg), contentType: 'image/png', width, height, warnings };
}

/**
 * Renders a chart as SVG or PNG. Throws CatalogueError (unknown study or drawing, bad input) or
 * RenderError (bad size), both with `code: 'VALIDATION_ERROR'`.
 */
export async function renderChart(input: RenderInput): Promise<RenderedChart> {
  return renderChartSync(input);
}
