export {
  AnthropicAnalyst,
  type AnthropicAnalystConfig,
  anthropicConfigFromEnv,
  DEFAULT_ANTHROPIC_MODEL,
} from './anthropic.js';
export { analyseBars, BUILTIN_MODEL, BuiltinAnalyst, MIN_BARS, pivotLevels, roundPrice } from './builtin.js';
export { AnalystError, type AnalystErrorCode } from './errors.js';
export { type GroundingContext, ground } from './grounding.js';
export { ANALYSIS_TOOL_NAME, buildUserText, SYSTEM_PROMPT } from './prompt.js';
export type { Analyst, AnalystAnswer, AnalystBar, AnalystInput, ChartMediaType } from './types.js';
