/** Autonomy levels and write tools: defined beside the workflows that also use them (no lib/ imports there). */
export { AUTONOMY_LEVELS, DEFAULT_AUTONOMY, WRITE_TOOLS, isWriteTool, strictest, type Autonomy } from '../../workflows/approval-policy.js';
