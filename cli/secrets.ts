import type { ApiClient } from './api-client.js';
import { table } from './table.js';

/**
 * `spacebot secrets set|list|delete`. The value of `set` comes from standard input only: a command
 * line argument is visible to every user in `ps` and lands in shell history. At a terminal it is
 * read without echo; piped, the whole input is the value (one trailing newline dropped, so
 * `echo "$KEY" | spacebot secrets set NAME` stores what the variable holds).
 * Returns a usage problem, or undefined when done.
 */
export async function secrets(
  api: ApiClient,
  action: string,
  args: string[],
  print: (text: string) => void,
  input: NodeJS.ReadStream = process.stdin,
): Promise<string | undefined> {
  const [name] = args;
  if (action === 'list') {
    const { body } = await api.request<{ secrets: { name: string; updatedAt: string }[] }>('GET', '/v1/secrets');
    print(body.secrets.length ? table(body.secrets, ['name', 'updatedAt']) : 'no secrets stored');
    return undefined;
  }
  if (!name) return `secrets ${action} needs a secret name, e.g. OPENAI_KEY`;
  const route = `/v1/secrets/${encodeURIComponent(name)}`;
  if (action === 'delete') {
    await api.request('DELETE', route);
    print(`deleted secret ${name}`);
    return undefined;
  }
  if (args.length > 1) return 'secrets set takes the value from standard input, never from the command line';
  const value = input.isTTY ? await readHidden(input, `value for ${name} (not shown): `) : await readAll(input);
  if (!value) return `secrets set ${name}: the value on standard input is empty`;
  const { body } = await api.request<{ created: boolean }>('PUT', route, { value });
  print(`${body.created ? 'stored' : 'replaced'} secret ${name} (use it in spacebot.toml as "secret:${name}"; read at the next start)`);
  return undefined;
}

async function readAll(input: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** One line from the terminal in raw mode, echoing nothing; Ctrl-C aborts, backspace edits. */
function readHidden(input: NodeJS.ReadStream, prompt: string): Promise<string> {
  process.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let value = '';
    const done = (err?: Error) => {
      input.setRawMode(false);
      input.pause();
      input.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done();
        if (ch === '\u0003') return done(new Error('cancelled'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    input.setRawMode(true);
    input.resume();
    input.on('data', onData);
  });
}
