/**
 * Models write CommonMark; Slack renders its own mrkdwn, where `**bold**` shows asterisks and
 * `[text](url)` shows brackets. This converts the common constructs and escapes `&`, `<` and `>`
 * as Slack requires, leaving code (fenced blocks and inline spans) untouched apart from escaping.
 * Fences are the same in both, so adapters/split.ts keeps blocks intact after conversion.
 */
const FENCE = /^ {0,3}(`{3,}|~{3,})/;

export function toSlackMrkdwn(markdown: string): string {
  let fence: string | null = null;
  return markdown
    .split('\n')
    .map((line) => {
      const match = FENCE.exec(line);
      if (fence) {
        if (match && match[1]!.startsWith(fence)) fence = null;
        return escape(line);
      }
      if (match) {
        fence = match[1]!;
        // Slack ignores a language tag and would show it as code text: keep only the fence.
        return '```';
      }
      return convertLine(line);
    })
    .join('\n');
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function convertLine(line: string): string {
  // Inline code spans are kept verbatim (escaped); formatting applies between them.
  return line
    .split(/(`[^`]+`)/)
    .map((segment, i) => (i % 2 === 1 ? escape(segment) : convertText(segment, i === 0)))
    .join('');
}

function convertText(text: string, atLineStart: boolean): string {
  let out = escape(text);
  if (atLineStart) {
    // Headings have no mrkdwn equivalent: render them bold.
    out = out.replace(/^ {0,3}#{1,6}\s+(.+?)\s*#*\s*$/, '**$1**');
    // Bullets written with "* " or "- " become the bullet character Slack renders as a list.
    out = out.replace(/^(\s*)[*-]\s+/, '$1• ');
  }
  // Links and images: [text](url) → <url|text>.
  out = out.replace(/!?\[([^\]]+)\]\((https?:\/\/[^\s)]+)\)/g, (_m, label: string, url: string) => `<${url}|${label.replace(/\|/g, '¦')}>`);
  // Italics with a single * → _ (first, while bold is still **); "2 * 3 * 4" is left alone.
  out = out.replace(/(^|[^*])\*(?![\s*])([^*\n]*?[^\s*])\*(?!\*)/g, '$1_$2_');
  // Bold (** or __) → *.
  out = out.replace(/\*\*(?!\s)([^*\n]+?)\*\*/g, '*$1*').replace(/__(?!\s)([^_\n]+?)__/g, '*$1*');
  out = out.replace(/~~([^~\n]+?)~~/g, '~$1~');
  return out;
}
