import type { AnalystOutput, TradingStyle } from '@chartwright/contracts';
import type { MarketSnapshot } from '@chartwright/market';

/** Image types a chart can arrive in. Vision models read raster images only. */
export type ChartMediaType = 'image/png' | 'image/jpeg' | 'image/gif' | 'image/webp' | 'image/svg+xml';

/** One OHLCV bar; `time` in ms since the epoch (UTC). Same shape as `@chartwright/market`'s `Bar`. */
export interface AnalystBar {
  time: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

export interface AnalystInput {
  /** A local file: analysts read files, never URLs. */
  imagePath: string;
  mediaType: ChartMediaType;
  symbol: string;
  interval: string;
  tradingStyle: TradingStyle;
  userPrompt?: string | undefined;
  /** Indicator readings computed from the chart's data, e.g. `{ 'RSI(14)': 61.2 }`. */
  readings?: Readonly<Record<string, number | string>> | undefined;
  /** The last bars (about 20), oldest first. */
  recentBars?: readonly AnalystBar[] | undefined;
  /** The whole series the chart was drawn from, oldest first, for analysts that compute their own readings. */
  bars?: readonly AnalystBar[] | undefined;
  /** `snapshot(bars)`, when the caller has it already (it is the costly part of the readings). */
  snapshot?: MarketSnapshot | undefined;
  /** Whether the user asked for stop loss / take profit reasoning in the text. Default true. */
  includeRiskManagement?: boolean | undefined;
  lastPrice?: number | undefined;
}

export interface AnalystAnswer {
  output: AnalystOutput;
  /** Input plus output tokens over every call this answer took. */
  tokensUsed: number;
  /** US dollars, when prices are configured. */
  costUsd?: number;
  /** The model that answered, as reported by the provider. */
  model: string;
  /** True when the first answer was invalid and a repair attempt produced this one. */
  repaired?: boolean;
}

export interface Analyst {
  readonly model: string;
  analyse(input: AnalystInput, signal?: AbortSignal): Promise<AnalystAnswer>;
}
