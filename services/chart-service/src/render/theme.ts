import type { Theme } from '@chartwright/contracts';

export interface Palette {
  background: string;
  grid: string;
  text: string;
  textMuted: string;
  axisLine: string;
  paneSeparator: string;
  up: string;
  down: string;
  line: string;
  areaTop: string;
  areaBottom: string;
  volumeUp: string;
  volumeDown: string;
  levelLine: string;
  levelFill: string;
  watermark: string;
  labelText: string;
}

/** TradingView's default palettes. */
export const PALETTES: Record<Theme, Palette> = {
  light: {
    background: '#FFFFFF',
    grid: '#F0F3FA',
    text: '#131722',
    textMuted: '#787B86',
    axisLine: '#E0E3EB',
    paneSeparator: '#E0E3EB',
    up: '#089981',
    down: '#F23645',
    line: '#2962FF',
    areaTop: 'rgba(41, 98, 255, 0.28)',
    areaBottom: 'rgba(41, 98, 255, 0.02)',
    volumeUp: 'rgba(8, 153, 129, 0.35)',
    volumeDown: 'rgba(242, 54, 69, 0.35)',
    levelLine: '#9598A1',
    levelFill: 'rgba(126, 87, 194, 0.08)',
    watermark: 'rgba(242, 54, 69, 0.16)',
    labelText: '#FFFFFF',
  },
  dark: {
    background: '#131722',
    grid: '#1E222D',
    text: '#D1D4DC',
    textMuted: '#787B86',
    axisLine: '#2A2E39',
    paneSeparator: '#2A2E39',
    up: '#089981',
    down: '#F23645',
    line: '#2962FF',
    areaTop: 'rgba(41, 98, 255, 0.35)',
    areaBottom: 'rgba(41, 98, 255, 0.02)',
    volumeUp: 'rgba(8, 153, 129, 0.4)',
    volumeDown: 'rgba(242, 54, 69, 0.4)',
    levelLine: '#5D606B',
    levelFill: 'rgba(126, 87, 194, 0.1)',
    watermark: 'rgba(242, 54, 69, 0.2)',
    labelText: '#FFFFFF',
  },
};

/** Colours for repeated studies of the same kind (a second MA, a third EMA…). */
export const EXTRA_LINE_COLORS = [
  '#FF9800',
  '#E91E63',
  '#00BCD4',
  '#8BC34A',
  '#9C27B0',
  '#FFEB3B',
  '#795548',
];
