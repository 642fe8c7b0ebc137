/**
 * The well-known shapes of credentials the leak guard recognises without being told about them: a
 * key a shell command prints, a token a web page shows, a key the model makes up from a file it read.
 * Each pattern names its kind, which the redacted text shows (`[redacted: <kind>]`) so a reader knows
 * what was there without seeing it. Patterns err towards catching: a false positive costs a word in a
 * reply, a miss costs a credential.
 */

export interface LeakPattern {
  kind: string;
  /** Global regex. When it has a named group `secret`, only that part is replaced (the rest is context). */
  regex: RegExp;
}

export const LEAK_PATTERNS: readonly LeakPattern[] = [
  // PEM blocks first: their base64 body would otherwise look like other things. An unterminated block
  // (output cut by the tool's cap) is redacted to the end of the text.
  { kind: 'private key', regex: /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|$)/g },
  { kind: 'anthropic key', regex: /\bsk-ant-[A-Za-z0-9_-]{16,}/g },
  { kind: 'openai key', regex: /\bsk-(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_-]{20,}/g },
  { kind: 'aws access key', regex: /\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b/g },
  // The 40-character secret key has no shape of its own; it is caught next to its usual names.
  {
    kind: 'aws secret key',
    regex: /\b(?:aws_secret_access_key|AWS_SECRET_ACCESS_KEY|SecretAccessKey|secretAccessKey)["']?\s*[:=]\s*["']?(?<secret>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])/g,
  },
  { kind: 'github token', regex: /\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})/g },
  { kind: 'slack token', regex: /\b(?:xox[abposre]-[A-Za-z0-9-]{10,}|xapp-\d-[A-Za-z0-9-]{10,})/g },
  { kind: 'slack webhook', regex: /https:\/\/hooks\.slack\.com\/(?:services|workflows|triggers)\/[A-Za-z0-9/_-]{16,}/g },
  { kind: 'stripe key', regex: /\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}|\bwhsec_[A-Za-z0-9]{24,}/g },
  { kind: 'google api key', regex: /\bAIza[0-9A-Za-z_-]{35}/g },
  { kind: 'jwt', regex: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g },
  // `Authorization: Bearer …` and friends: the credential after the scheme, whatever its shape.
  { kind: 'bearer token', regex: /\b(?:Bearer|Basic|Token)\s+(?<secret>[A-Za-z0-9._~+/=-]{16,})/g },
  // scheme://user:password@host: only the password goes, so the reader still sees where it pointed.
  // From `://` on (the scheme is not needed to know a password when one is there), so a streamed URL
  // is caught even when its scheme was shown in an earlier piece.
  { kind: 'url password', regex: /:\/\/[^\s/:@'"<>]*:(?<secret>[^\s/@'"<>]+)@/g },
];

/**
 * How each pattern can begin, for streams (leak-guard.ts `streamRedactor`): a word that is, or could
 * still become, one of these at a word boundary is held back until the next piece says whether it is
 * a credential. Keep in step with LEAK_PATTERNS.
 */
export const SECRET_STARTS: readonly string[] = [
  'sk-', 'sk_', 'rk_', 'whsec_',
  'AKIA', 'ASIA', 'ABIA', 'ACCA', 'AGPA', 'AIDA', 'AROA', 'ANPA', 'ANVA', 'AIPA',
  'ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_', 'github_pat_',
  'xox', 'xapp-', 'AIza', 'eyJ', '://', '-----BEGIN',
];

/** Words after which the next word is the credential (`Bearer <token>`, `aws_secret_access_key = <key>`). */
export const SECRET_CONTEXT_WORDS: readonly string[] = ['Bearer', 'Basic', 'Token', 'aws_secret_access_key', 'AWS_SECRET_ACCESS_KEY', 'SecretAccessKey', 'secretAccessKey'];
