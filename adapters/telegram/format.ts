/**
 * Renders the model's Markdown as Telegram's HTML parse mode. HTML was chosen over MarkdownV2
 * deliberately: MarkdownV2 makes eighteen punctuation characters reserved everywhere, so any text the
 * model writes would need escaping that also breaks its intended formatting, while HTML needs only
 * `&`, `<` and `>` escaped. Telegram counts the 4,096-character limit on the text after entity
 * parsing, so a Markdown part that fits renders to HTML that fits too (markup only shrinks).
 *
 * Each part of a split reply is rendered on its own; adapters/split.ts keeps code fences balanced per
 * part, so every part is well-formed HTML.
 */

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w#+.-]*)[^\n]*$/;

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function escapeAttribute(text: string): string {
  return escapeHtml(text).replace(/"/g, '&quot;');
}

export function markdownToTelegramHtml(markdown: string): string {
  const out: string[] = [];
  const lines = markdown.split('\n');
  let prose: string[] = [];
  const flushProse = () => {
    if (prose.length) out.push(renderProse(prose.join('\n')));
    prose = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (!open) {
      prose.push(lines[i]!);
      continue;
    }
    const marker = open[1]!;
    const close = lines.findIndex((line, j) => j > i && line.trim().startsWith(marker) && line.trim().replace(/[`~]/g, '') === '');
    if (close === -1) {
      // An unclosed fence (the model stopped mid-block): treat the rest as code.
      flushProse();
      out.push(renderCode(lines.slice(i + 1).join('\n'), open[2] ?? ''));
      return out.join('\n');
    }
    flushProse();
    out.push(renderCode(lines.slice(i + 1, close).join('\n'), open[2] ?? ''));
    i = close;
  }
  flushProse();
  return out.join('\n');
}

function renderCode(code: string, language: string): string {
  const cls = language ? ` class="language-${escapeAttribute(language)}"` : '';
  return `<pre><code${cls}>${escapeHtml(code)}</code></pre>`;
}

function renderProse(text: string): string {
  // Inline code first, swapped for placeholders, so emphasis markers inside it stay literal.
  const spans: string[] = [];
  let html = text.replace(/`([^`\n]+)`/g, (_m, code: string) => {
    spans.push(`<code>${escapeHtml(code)}</code>`);
    return `\u0000${spans.length - 1}\u0000`;
  });
  html = escapeHtml(html);
  html = html.replace(/\[([^\]\n]+)\]\((https?:\/\/[^\s)]+)\)/g, (_m, label: string, url: string) => `<a href="${url.replace(/"/g, '&quot;')}">${label}</a>`);
  html = html.replace(/^#{1,6}\s+(.+)$/gm, '<b>$1</b>');
  html = html.replace(/\*\*(?=\S)([^\n]*?\S)\*\*/g, '<b>$1</b>');
  html = html.replace(/__(?=\S)([^\n]*?\S)__/g, '<b>$1</b>');
  html = html.replace(/~~(?=\S)([^\n]*?\S)~~/g, '<s>$1</s>');
  html = html.replace(/(^|[^\w*])\*(?=[^\s*])([^*\n]*?[^\s*])\*(?![\w*])/g, '$1<i>$2</i>');
  html = html.replace(/(^|[^\w_])_(?=[^\s_])([^_\n]*?[^\s_])_(?![\w_])/g, '$1<i>$2</i>');
  // eslint-disable-next-line no-control-regex -- the placeholders are NUL-delimited on purpose
  return html.replace(/\u0000(\d+)\u0000/g, (_m, index: string) => spans[Number(index)] ?? '');
}
