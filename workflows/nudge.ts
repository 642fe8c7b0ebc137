/**
 * The channel's nudge: a channel speaks only through tools (`reply`, `skip`, spawning workers), so an
 * answer of bare text while tools were expected reaches nobody. The model is told so and asked again,
 * at most MAX_NUDGES_PER_TURN times per turn; after that the caller falls back (e.g. delivers the
 * text as the reply). Pure and deterministic: it runs in workflow code.
 */

export const MAX_NUDGES_PER_TURN = 2;

export interface NudgeInput {
  /** The model's text in this step. */
  text: string;
  /** How many tool calls the step made. */
  toolCallCount: number;
  /** Whether this step was supposed to act through tools (false e.g. for a final plain-text summary). */
  toolsExpected: boolean;
  /** Nudges already given in this turn. */
  nudgesThisTurn: number;
}

export type NudgeDecision =
  | { nudge: true; message: string; attempt: number }
  | { nudge: false; reason: 'used_tools' | 'no_text' | 'tools_not_expected' | 'limit_reached' };

export function decideNudge(input: NudgeInput): NudgeDecision {
  if (input.toolCallCount > 0) return { nudge: false, reason: 'used_tools' };
  if (!input.text.trim()) return { nudge: false, reason: 'no_text' };
  if (!input.toolsExpected) return { nudge: false, reason: 'tools_not_expected' };
  if (input.nudgesThisTurn >= MAX_NUDGES_PER_TURN) return { nudge: false, reason: 'limit_reached' };
  return { nudge: true, message: nudgeText(), attempt: input.nudgesThisTurn + 1 };
}

/** Added to the context as a user entry after the bare-text answer. */
export function nudgeText(replyTool = 'reply', skipTool = 'skip'): string {
  return `[System] You answered with plain text, but plain text is not sent to anyone. To answer the conversation, call ${replyTool} with your message; to stay silent, call ${skipTool}.`;
}
