import { decideNudge, MAX_NUDGES_PER_TURN, nudgeText } from '../../workflows/nudge.js';

const bare = { text: 'Sure, here is the answer.', toolCallCount: 0, toolsExpected: true, nudgesThisTurn: 0 };

describe('decideNudge', () => {
  it('nudges bare text while tools were expected, with the nudge text', () => {
    expect(decideNudge(bare)).toEqual({ nudge: true, message: nudgeText(), attempt: 1 });
    expect(nudgeText()).toMatch(/plain text is not sent to anyone.*call reply.*call skip/);
  });

  it('nudges at most twice per turn', () => {
    expect(MAX_NUDGES_PER_TURN).toBe(2);
    expect(decideNudge({ ...bare, nudgesThisTurn: 1 })).toEqual({ nudge: true, message: nudgeText(), attempt: 2 });
    expect(decideNudge({ ...bare, nudgesThisTurn: 2 })).toEqual({ nudge: false, reason: 'limit_reached' });
  });

  it('does not nudge when the model used tools, said nothing, or no tools were expected', () => {
    expect(decideNudge({ ...bare, toolCallCount: 1 })).toEqual({ nudge: false, reason: 'used_tools' });
    expect(decideNudge({ ...bare, text: '  \n' })).toEqual({ nudge: false, reason: 'no_text' });
    expect(decideNudge({ ...bare, toolsExpected: false })).toEqual({ nudge: false, reason: 'tools_not_expected' });
  });

  it('names other tools when asked', () => {
    expect(nudgeText('send_message', 'stay_silent')).toMatch(/call send_message.*call stay_silent/);
  });
});
