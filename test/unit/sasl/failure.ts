// For mechanism tests: the SASL condition a step (or start) was refused with.
import { SaslFailure } from '../../../src/sasl/mechanism.js';

/** The condition of the SaslFailure `p` rejects with; throws if it resolves or rejects otherwise. */
export async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SaslFailure) return e.condition;
    throw e;
  }
  throw new Error('expected a SaslFailure');
}
