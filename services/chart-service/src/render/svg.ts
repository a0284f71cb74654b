import { renderComparisonSvg } from './compare.js';
import { FONT_ATTR, type Layout, layoutChart, type RenderInput } from './layout.js';
import { paintDrawings } from './paint/drawings.js';
import { paintGrid, paintPlotMask, paintPriceAxis, paintTimeLabels } from './paint/grid.js';
import { paintHeader, paintLastPriceTag, paintWatermark } from './paint/header.js';
import { paintBandFills, paintOverlayLines, paintVolume } from './paint/overlays.js';
import { paintPanes } from './paint/panes.js';
import { paintLastPriceLine, paintPriceSeries } from './paint/price.js';

export { RenderError, type RenderInput, SIZE_LIMITS } from './layout.js';

function documentStart(l: Layout): string {
  const { W, H, pal } = l;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ${FONT_ATTR} font-size="${l.fs}">` +
    `<defs><linearGradient id="area" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${pal.areaTop}"/><stop offset="1" stop-color="${pal.areaBottom}"/></linearGradient></defs>` +
    `<rect width="${W}" height="${H}" fill="${pal.background}"/>`
  );
}

/** Renders a chart as an SVG document. Throws CatalogueError/RenderError for invalid configs. */
export function renderSvg(input: RenderInput): string {
  return renderSvgDocument(input).svg;
}

/**
 * Renders a chart as an SVG document, with what it could not show (`warnings`, e.g. a drawing
 * outside the chart's price range): lays it out once, then paints the layers bottom to top.
 */
export function renderSvgDocument(input: RenderInput): { svg: string; warnings: string[] } {
  if (input.compare)
    return { svg: renderComparisonSvg(input.config, input.compare, input.synthetic), warnings: [] };
  const l = layoutChart(input);
  const drawings = paintDrawings(l);
  const panes = paintPanes(l);
  const svg = [
    documentStart(l),
    paintGrid(l),
    paintVolume(l),
    paintBandFills(l),
    paintPriceSeries(l),
    paintOverlayLines(l),
    drawings.shapes,
    paintLastPriceLine(l),
    paintWatermark(l),
    paintPlotMask(l),
    panes.body,
    paintPriceAxis(l),
    paintTimeLabels(l),
    panes.labels,
    drawings.tags,
    paintLastPriceTag(l),
    paintHeader(l),
    '</svg>',
  ].join('');
  return { svg, warnings: l.warnings };
}
