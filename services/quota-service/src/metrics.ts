import { lazy, meter } from '@chartwright/kit';

/**
 * Reservations by outcome: `granted` / `denied` when asked for, then `committed` / `released`
 * as the flow that made them ends (`expired` when nobody did).
 */
export const quotaReservations = lazy(() =>
  meter().createCounter('chartwright.quota.reservations', {
    description: 'Quota reservations, by outcome',
  }),
);

/** Counts a commit or release that changed the reservation, and passes its state on. */
export function settled(state: string): string {
  if (state === 'committed' || state === 'released') quotaReservations().add(1, { outcome: state });
  return state;
}
