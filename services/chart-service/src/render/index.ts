export { alignSeries, type CompareSeries, compareColor, MIN_SHARED_BARS } from './compare.js';
export { FONT_FAMILY, type FontSetup, fontSetup } from './fonts.js';
export { PoolBusyError, RenderPool, type RenderPoolOptions } from './pool.js';
export { type RenderedChart, renderChart, renderChartSync, svgToPng } from './render.js';
export { RenderError, type RenderInput, renderSvg, renderSvgDocument, SIZE_LIMITS } from './svg.js';
export { PALETTES, type Palette } from './theme.js';
