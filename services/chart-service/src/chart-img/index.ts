export { PostgresDailyAllowance } from './allowance.js';
export {
  ChartImgClient,
  type ChartImgOptions,
  type ChartImgRequest,
  type ChartImgStored,
  catalogueToServiceError,
  chartImgError,
  type DailyAllowance,
} from './client.js';
export { TokenBucket } from './limiter.js';
export { CHART_IMG_DRAWINGS, CHART_IMG_STUDIES } from './names.js';
export { CHART_IMG_PLANS, ChartImgPlan, type ChartImgPlanLimits } from './plans.js';
