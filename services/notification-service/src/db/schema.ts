import type { KitTables } from '@chartwright/kit';
import type { Generated } from 'kysely';

export interface EndpointTable {
  id: string;
  user_id: string;
  url: string;
  /** Event types, or `["*"]`. */
  events: string[];
  description: string | null;
  enabled: boolean;
  /** `whsec_…` */
  secret: string;
  /** The secret before the last rotation; deliveries are signed with both until it expires. */
  previous_secret: string | null;
  previous_secret_expires_at: Date | null;
  /** First failed attempt since the last success (null: not failing). */
  failing_since: Date | null;
  disabled_reason: string | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export type DeliveryState = 'pending' | 'succeeded' | 'failed';

/** One per (endpoint, event id): the unique key makes a redelivered event change nothing. */
export interface DeliveryTable {
  id: string;
  endpoint_id: string;
  user_id: string;
  event_id: string;
  event_type: string;
  /** The exact JSON body sent (and signed) on every attempt. */
  body: string;
  status: DeliveryState;
  attempts: Generated<number>;
  /** When the next attempt is due (null once settled). */
  next_attempt_at: Date | null;
  /** A replica working on it holds it until then; past it (a crash), another takes over. */
  locked_until: Date | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: Generated<Date>;
  succeeded_at: Date | null;
}

export interface AttemptTable {
  id: Generated<number>;
  delivery_id: string;
  at: Date;
  status_code: number | null;
  duration_ms: number;
  error: string | null;
  response_body: string | null;
}

/** Who a user is, for mail: learnt from `user.registered`. */
export interface RecipientTable {
  user_id: string;
  email: string;
  name: string | null;
}

export interface PreferenceTable {
  user_id: string;
  analysis_completed: boolean;
  analysis_failed: boolean;
  quota_warnings: boolean;
  webhook_disabled: boolean;
  updated_at: Generated<Date>;
}

export type EmailState = 'pending' | 'sent' | 'failed';

/** Mails to send, kept until sent: SMTP outages and restarts lose none. */
export interface EmailTable {
  id: string;
  /** What the mail is about (event id and kind): the same one is never queued twice. */
  dedupe_key: string;
  user_id: string;
  to_address: string;
  subject: string;
  text: string;
  html: string;
  /** Extra headers (List-Unsubscribe). */
  headers: Record<string, string>;
  status: EmailState;
  attempts: Generated<number>;
  next_attempt_at: Date | null;
  locked_until: Date | null;
  last_error: string | null;
  /** Where the .eml was written, without SMTP. */
  file_path: string | null;
  created_at: Generated<Date>;
  sent_at: Date | null;
}

export interface NotificationDb extends KitTables {
  endpoints: EndpointTable;
  deliveries: DeliveryTable;
  delivery_attempts: AttemptTable;
  recipients: RecipientTable;
  preferences: PreferenceTable;
  emails: EmailTable;
}
