import { ApplicationFailure } from '@temporalio/common';

/**
 * SQLSTATEs PostgreSQL answers for text it cannot store: 22021 character_not_in_repertoire (a NUL
 * in `text`, bytes that are not UTF-8) and 22P05 untranslatable_character (`\u0000` inside jsonb).
 * The same row fails the same way on every retry, so such an error must never be retried.
 */
const ENCODING_SQLSTATES = new Set(['22021', '22P05']);

/** Failure type of a write refused for its characters (listed as non-retryable in the storage retry policy). */
export const INVALID_TEXT_FAILURE = 'InvalidText';

export function isDatabaseEncodingError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && ENCODING_SQLSTATES.has(code);
}

/** Runs a database write; an encoding error becomes a non-retryable failure that says what happened. */
export async function refuseEncodingErrors<T>(what: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (!isDatabaseEncodingError(err)) throw err;
    throw ApplicationFailure.create({ type: INVALID_TEXT_FAILURE, nonRetryable: true, message: `${what} could not be stored: it holds characters the database refuses (${(err as Error).message})` });
  }
}
