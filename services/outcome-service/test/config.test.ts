import { ConfigError } from '@chartwright/kit';
import { describe, expect, it } from 'vitest';
import { loadOutcomeConfig } from '../src/index.js';

describe('outcome-service config', () => {
  it('has the issue horizons by default and lets some be overridden', () => {
    expect(loadOutcomeConfig({}).horizons).toEqual({
      scalping: 24,
      day_trading: 48,
      swing_trading: 30,
      position_trading: 60,
    });
    expect(loadOutcomeConfig({ OUTCOME_HORIZONS_JSON: '{"swing_trading":40}' }).horizons.swing_trading).toBe(
      40,
    );
  });

  it('names the variable that is wrong', () => {
    for (const env of [
      { OUTCOME_HORIZONS_JSON: 'nope' },
      { OUTCOME_HORIZONS_JSON: '{"swing":40}' },
      { OUTCOME_HORIZONS_JSON: '{"scalping":0}' },
      { OUTCOME_CHECK_INTERVAL_MS: '1' },
    ])
      expect(() => loadOutcomeConfig(env)).toThrow(
        expect.objectContaining({ issues: [expect.objectContaining({ variable: Object.keys(env)[0] })] }),
      );
    expect(() => loadOutcomeConfig({ MARKET_DATA: 'file' })).toThrow(ConfigError);
  });
});
