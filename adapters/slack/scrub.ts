/**
 * Removes Slack secrets from text bound for logs, errors and `/health`: the instance's own tokens
 * (whatever their shape) and anything that looks like a Slack token, in case a library echoes one.
 */
const TOKEN_SHAPE = /\b(?:xox[abprse]|xapp)-[A-Za-z0-9-]+/g;

export type Scrubber = (text: string) => string;

export function makeScrubber(secrets: Array<string | undefined>): Scrubber {
  // Longest first, so a secret containing another is removed whole.
  const known = secrets.filter((s): s is string => typeof s === 'string' && s.length >= 4).sort((a, b) => b.length - a.length);
  return (text: string) => {
    let out = text;
    for (const secret of known) out = out.split(secret).join('[redacted]');
    return out.replace(TOKEN_SHAPE, '[redacted]');
  };
}
