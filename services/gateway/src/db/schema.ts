import type { Plan, Role } from '@chartwright/contracts';
import type { KitTables } from '@chartwright/kit';
import type { Generated } from 'kysely';

export interface UserTable {
  id: string;
  /** Normalised: trimmed and lower-case. */
  email: string;
  name: string | null;
  password_hash: string;
  role: Role;
  plan: Plan;
  /** Null until the owner of the address followed the sign-up link: such an account can't log in. */
  email_verified_at: Date | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

/** A pending sign-up: the sha256 of its mailed token, and the password and name it was made with. */
export interface EmailVerificationTable {
  token_hash: string;
  user_id: string;
  password_hash: string;
  name: string | null;
  expires_at: Date;
  created_at: Generated<Date>;
}

export interface ApiKeyTable {
  id: string;
  user_id: string;
  name: string;
  prefix: string;
  /** sha256 of the key: keys are long random strings, so a fast hash is enough. */
  key_hash: string;
  created_at: Generated<Date>;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export interface IdempotencyKeyTable {
  user_id: string;
  key: string;
  request_hash: string;
  /** `running`: its owner holds the lease; `pending`: the outcome is unknown (5xx, timeout, lost
   * answer) and the next retry resolves it through the services; `done`: the answer is kept. */
  state: 'running' | 'pending' | 'done';
  status_code: number | null;
  response_body: string | null;
  response_type: string | null;
  created_at: Generated<Date>;
  expires_at: Date;
  /** A `running` key whose lease has run out belongs to an attempt that died. */
  lease_until: Date | null;
  /** The attempt holding the lease. */
  owner: string | null;
  /** Passed to the services as the work's idempotency key (per item for bulk). */
  work_id: string | null;
}

export interface GatewayDb extends KitTables {
  users: UserTable;
  email_verifications: EmailVerificationTable;
  api_keys: ApiKeyTable;
  idempotency_keys: IdempotencyKeyTable;
}
