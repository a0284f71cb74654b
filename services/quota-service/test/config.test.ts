import { describe, expect, it } from 'vitest';
import { loadQuotaConfig } from '../src/config.js';
import { DEFAULT_PLANS } from '../src/plans.js';

describe('QUOTA_PLANS_JSON', () => {
  it("overrides only the plans and limits it names; the rest keep the design document's", () => {
    expect(loadQuotaConfig({}).plans).toEqual(DEFAULT_PLANS);
    const { plans } = loadQuotaConfig({ QUOTA_PLANS_JSON: '{"pro":{"analyses":80},"free":{"charts":null}}' });
    expect(plans).toEqual({
      free: { charts: null, analyses: 3 },
      pro: { charts: 100, analyses: 80 },
      enterprise: { charts: null, analyses: null },
    });
    expect(DEFAULT_PLANS.pro.analyses).toBe(50);
  });

  it('stops with a message naming the variable on bad JSON, unknown plans or fields, or negative limits', () => {
    for (const bad of ['{', '{"gold":{"charts":1}}', '{"pro":{"chart":1}}', '{"pro":{"charts":-1}}'])
      expect(() => loadQuotaConfig({ QUOTA_PLANS_JSON: bad }), bad).toThrow(/QUOTA_PLANS_JSON/);
  });
});
