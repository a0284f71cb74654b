import type { Bar } from '../bars.js';

export type Pane = 'overlay' | 'separate' | 'volume';
export type InputValue = number | string | boolean;

export const SOURCES = ['open', 'high', 'low', 'close', 'hl2', 'hlc3', 'ohlc4'] as const;
export type Source = (typeof SOURCES)[number];

export interface InputDef {
  /** Our canonical name (the design document's style: `period`, `stddev`, `fast`…). */
  key: string;
  label: string;
  type: 'int' | 'number' | 'source' | 'enum' | 'boolean';
  default: InputValue;
  min?: number;
  max?: number;
  options?: readonly string[];
  /** Other accepted names, chart-img.com's among them. */
  aliases: readonly string[];
  /** chart-img.com's name for this input; absent when chart-img.com has no such input. */
  chartImg?: string;
  /** Why the built-in renderer treats this input specially, when it does. */
  note?: string;
}

export type PlotKind = 'line' | 'histogram' | 'dots' | 'step';

export interface OutputDef {
  key: string;
  label: string;
  plot: PlotKind;
  color: string;
  /** Histograms coloured per bar: by the bar's direction (volume) or by the value's sign (MACD). */
  colorBy?: 'direction' | 'sign';
  /** Plotted in the legend and on the chart? Hidden outputs are still computed (e.g. for snapshots). */
  hidden?: boolean;
}

export interface FillDef {
  upper: string;
  lower: string;
  color: string;
  /** Colour where `upper` < `lower` (Ichimoku's bearish cloud); default `color`. */
  colorInverted?: string;
}

/** One value per bar, `null` while the indicator warms up. */
export type Line = (number | null)[];
export type StudyLines = Record<string, Line>;

export interface StudyDef {
  /** chart-img.com's name, e.g. `Relative Strength Index`. */
  name: string;
  /** Short legend name, e.g. `RSI`. */
  short: string;
  /** Other names accepted for convenience (`RSI`, `EMA`…), case-insensitive. */
  aliases: readonly string[];
  pane: Pane;
  inputs: readonly InputDef[];
  outputs: readonly OutputDef[];
  /** Horizontal guide levels for separate panes (RSI 30/70). */
  levels?: readonly number[];
  /** Fixed value range for bounded oscillators. */
  range?: readonly [number, number];
  fills?: readonly FillDef[];
  compute(bars: readonly Bar[], inputs: Readonly<Record<string, InputValue>>): StudyLines;
  /** Bars to shift an output when plotting (Ichimoku's displaced spans, a moving average's offset). */
  offsets?(inputs: Readonly<Record<string, InputValue>>): Record<string, number>;
}

export interface ResolvedStudy {
  def: StudyDef;
  /** Canonical inputs: every declared input, defaults filled in. */
  inputs: Record<string, InputValue>;
  override: Record<string, unknown>;
  /** Legend title, e.g. `RSI 14`, `BB 20 2`. */
  title: string;
}
