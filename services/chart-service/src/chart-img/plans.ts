import { z } from 'zod';

export const ChartImgPlan = z.enum(['BASIC', 'PRO', 'MEGA', 'ULTRA', 'ENTERPRISE']);
export type ChartImgPlan = z.infer<typeof ChartImgPlan>;

export interface ChartImgPlanLimits {
  /** Requests a second and burst, for the client-side token bucket. */
  perSecond: number;
  burst: number;
  perDay: number;
  maxWidth: number;
  maxHeight: number;
  /** Studies plus drawings in one chart. */
  maxParameters: number;
  /** How long chart-img.com keeps a stored image. */
  storageDays: number;
}

/** chart-img.com's limits per plan (doc.chart-img.com, late 2025). */
export const CHART_IMG_PLANS: Record<ChartImgPlan, ChartImgPlanLimits> = {
  BASIC: {
    perSecond: 1,
    burst: 3,
    perDay: 50,
    maxWidth: 800,
    maxHeight: 600,
    maxParameters: 3,
    storageDays: 14,
  },
  PRO: {
    perSecond: 10,
    burst: 15,
    perDay: 500,
    maxWidth: 1920,
    maxHeight: 1080,
    maxParameters: 5,
    storageDays: 30,
  },
  MEGA: {
    perSecond: 15,
    burst: 25,
    perDay: 1000,
    maxWidth: 1920,
    maxHeight: 1600,
    maxParameters: 10,
    storageDays: 60,
  },
  ULTRA: {
    perSecond: 35,
    burst: 50,
    perDay: 3000,
    maxWidth: 2048,
    maxHeight: 1920,
    maxParameters: 25,
    storageDays: 90,
  },
  ENTERPRISE: {
    perSecond: 35,
    burst: 50,
    perDay: 5000,
    maxWidth: 2048,
    maxHeight: 1920,
    maxParameters: 50,
    storageDays: 120,
  },
};
