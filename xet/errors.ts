import { HubgateError } from '../src/domain/errors.js';

/**
 * A xorb, shard or hash that breaks the Xet format or does not match what it claims: the client
 * sent bad bytes, so the CAS answers 400 with this message (they are not retried).
 */
export class XetFormatError extends HubgateError {
  constructor(message: string) {
    super('invalid', message);
    this.name = 'XetFormatError';
  }
}
