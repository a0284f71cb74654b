export {
  AT_CLOSE_TOLERANCE,
  DEFAULT_HORIZONS,
  type Outcome,
  type OutcomeBar,
  type OutcomeStatus,
  resolveOutcome,
  rMultiple,
  type Signal,
  tradeOf,
} from './rules.js';
export {
  CALIBRATION_BUCKETS,
  type CalibrationBucket,
  equityCurve,
  maxDrawdown,
  type Scorecard,
  type ScoredSignal,
  scorecard,
} from './scorecard.js';
