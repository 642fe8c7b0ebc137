import { z } from 'zod';

/** Upper-case like environment variables, so `secret:NAME` reads like the variable it replaces. */
export const SECRET_NAME_PATTERN = /^[A-Z][A-Z0-9_]{0,63}$/;

export const secretNameSchema = z
  .string()
  .regex(SECRET_NAME_PATTERN, 'a secret name is an upper-case letter, then up to 63 upper-case letters, digits or "_" (like OPENAI_KEY)');

/** Large enough for a PEM key or a service-account JSON; a bigger value is a mistake, not a secret. */
export const MAX_SECRET_BYTES = 64 * 1024;

export const secretValueSchema = z
  .string()
  .min(1, 'the value is empty')
  .refine((v) => Buffer.byteLength(v) <= MAX_SECRET_BYTES, `the value is larger than ${MAX_SECRET_BYTES} bytes`);
