import { afterEach } from 'vitest';
import { installSpecCheck, takeViolations } from './openapi-check.js';

// Every e2e file: the gateways' answers are checked against their OpenAPI document.
installSpecCheck();

afterEach(async () => {
  const violations = await takeViolations();
  if (violations.length)
    throw new Error(`answers that do not match the OpenAPI document:\n  ${violations.join('\n  ')}`);
});
