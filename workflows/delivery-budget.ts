/**
 * How many attempts a platform delivery gets before it is given up as `failed`. Shared by the retry
 * policy (workflows/activity-options.ts) and the delivery activity, which counts the attempts itself:
 * on its last one it marks the row failed and returns, so the turn ends normally instead of the
 * failure reaching the workflow (or, unbounded, stalling the conversation for ever).
 */
export const DELIVERY_MAX_ATTEMPTS = 8;
