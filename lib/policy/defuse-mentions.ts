/**
 * Model-written text shown in a message the bot posts itself (an approval notice), made unable to
 * ping anyone on any platform: a zero-width space after every `@` breaks `@everyone`, `@here`,
 * `@channel` and Telegram `@username` mentions, and after every `<` breaks Discord's `<@id>`,
 * `<@&role>`, `<#channel>` and Slack's `<!channel>`, `<!here>`, `<@U…>`, `<!subteam^…>`. The text reads
 * the same to a person, and the notice need not rely on each platform's own escaping (Discord lets
 * user mentions through, Telegram's plain format has none).
 */
const ZERO_WIDTH_SPACE = '\u200b';

export function defuseMentions(text: string): string {
  return text.replace(/[@<＠﹫]/g, (c) => `${c}${ZERO_WIDTH_SPACE}`);
}
