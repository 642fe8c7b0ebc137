/**
 * reactions.add takes an emoji *name* ("thumbsup"), while the react tool may be given either a name,
 * a `:name:` shortcode or the emoji character itself. Characters the model uses most map to Slack's
 * names; anything else passes through as a name (Slack answers invalid_name for unknown ones).
 */
const BY_CHARACTER: Record<string, string> = {
  '👍': 'thumbsup',
  '👎': 'thumbsdown',
  '❤️': 'heart',
  '❤': 'heart',
  '😂': 'joy',
  '😄': 'smile',
  '😊': 'blush',
  '🙂': 'slightly_smiling_face',
  '😉': 'wink',
  '😢': 'cry',
  '😮': 'open_mouth',
  '🤔': 'thinking_face',
  '🙏': 'pray',
  '👀': 'eyes',
  '👏': 'clap',
  '🙌': 'raised_hands',
  '🎉': 'tada',
  '🔥': 'fire',
  '🚀': 'rocket',
  '💯': '100',
  '✅': 'white_check_mark',
  '✔️': 'heavy_check_mark',
  '❌': 'x',
  '⚠️': 'warning',
  '👋': 'wave',
  '💡': 'bulb',
  '⭐': 'star',
  '✨': 'sparkles',
  '🤖': 'robot_face',
  '👌': 'ok_hand',
  '💪': 'muscle',
  '😅': 'sweat_smile',
  '🥳': 'partying_face',
  '⏳': 'hourglass_flowing_sand',
};

export function slackEmojiName(emoji: string): string {
  const trimmed = emoji.trim();
  const mapped = BY_CHARACTER[trimmed] ?? BY_CHARACTER[trimmed.replace(/\uFE0F/g, '')];
  if (mapped) return mapped;
  return trimmed.replace(/^:/, '').replace(/:$/, '');
}

/** Names Slack uses for emoji that have no entry above, or a second name for one that has. */
const NAME_ALIASES: Record<string, string> = {
  '+1': '👍',
  '-1': '👎',
  heavy_multiplication_x: '✖️',
  no_entry_sign: '🚫',
};

const BY_NAME: Record<string, string> = Object.fromEntries(Object.entries(BY_CHARACTER).map(([character, name]) => [name, character]));

/**
 * A reaction's emoji as Slack names it ("white_check_mark", "+1::skin-tone-3") turned into the
 * character, so reactions read the same on every platform; an unknown or custom name stays `:name:`.
 */
export function emojiFromSlackName(name: string): string {
  const base = name.replace(/::skin-tone-\d$/, '');
  return NAME_ALIASES[base] ?? BY_NAME[base] ?? `:${base}:`;
}
