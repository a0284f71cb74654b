export {
  addBars,
  type Bar,
  type BarsResult,
  barCountFor,
  barOpenTime,
  DEFAULT_BARS,
  intervalMonths,
  intervalMs,
  MAX_BARS,
  MAX_RANGE_BARS,
  type Series,
  splitSymbol,
} from './bars.js';
export {
  Color,
  DRAWING_NAMES,
  DRAWINGS,
  type DrawingDef,
  type DrawingInput,
  DrawingOverride,
  findDrawing,
  type ResolvedDrawing,
  resolveDrawing,
} from './drawings/catalogue.js';
export { CatalogueError, MarketDataError, type MarketDataErrorCode } from './errors.js';
export {
  type CleanBars,
  cleanBars,
  type Gap,
  type Skipped,
  type SkipReason,
  SPIKE_FACTOR,
} from './files/clean.js';
export {
  type FileFormat,
  type ParsedRows,
  parseCsvRows,
  parseJsonRows,
  parseTime,
  type RawBar,
} from './files/formats.js';
export { type FileName, parseFileName } from './files/names.js';
export { BarSeries } from './files/series.js';
export { aggregateBars } from './providers/aggregate.js';
export { BinanceProvider, type BinanceProviderOptions, parseKlines } from './providers/binance.js';
export { CachedProvider, type CachedProviderOptions } from './providers/cached.js';
export {
  FileProvider,
  type FileProviderOptions,
  type FileReport,
  type FileSeries,
} from './providers/file.js';
export { type BarsRequest, type MarketDataProvider, requestedBars } from './providers/provider.js';
export { RoutingProvider } from './providers/routing.js';
export {
  generateBars,
  SyntheticProvider,
  type SyntheticProviderOptions,
  seededRandom,
} from './providers/synthetic.js';
export {
  type ChartSeries,
  MarketData,
  type MarketDataConfig,
  MarketDataEnv,
  marketDataConfig,
  WARM_UP_BARS,
} from './setup.js';
export { type MarketSnapshot, SNAPSHOT_LOOKBACK, SNAPSHOT_WINDOW, snapshot } from './snapshot.js';
export { STUDIES, STUDY_NAMES } from './studies/catalogue.js';
export { lastValue } from './studies/compute.js';
export {
  computeStudy,
  findStudy,
  resolveStudies,
  resolveStudy,
  toChartImgInputs,
  toChartImgStudy,
} from './studies/resolve.js';
export type {
  FillDef,
  InputDef,
  InputValue,
  Line,
  OutputDef,
  Pane,
  PlotKind,
  ResolvedStudy,
  StudyDef,
  StudyLines,
} from './studies/types.js';
