import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * A browser session for the codec endpoint. The Temporal UI calls the codec from the operator's
 * browser and can only add cookies ("Include cross-origin credentials"), not our bearer token; so
 * the operator signs in once at /v1/codec/login with the token and gets an HttpOnly cookie that the
 * codec routes accept. The cookie is `<expiry>.<HMAC(token, expiry)>`: no server state, and changing
 * the API token ends every session.
 */
export const CODEC_COOKIE = 'spacebot_codec';
export const SESSION_SECONDS = 12 * 60 * 60;

export function sessionCookie(token: string, request: FastifyRequest, now = Date.now()): string {
  const expires = Math.floor(now / 1000) + SESSION_SECONDS;
  const secure = request.protocol === 'https';
  // Cross-site (UI and API on different sites) needs SameSite=None, which browsers only take with
  // Secure (https); on one host (the embedded UI) Lax suffices: different ports are the same site.
  const sameSite = secure ? 'SameSite=None; Secure' : 'SameSite=Lax';
  return `${CODEC_COOKIE}=${expires}.${sign(token, expires)}; Path=/v1/codec; Max-Age=${SESSION_SECONDS}; HttpOnly; ${sameSite}`;
}

export function hasValidSession(token: string, request: FastifyRequest, now = Date.now()): boolean {
  const value = cookieValue(request.headers.cookie, CODEC_COOKIE);
  const match = value ? /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(value) : null;
  if (!match) return false;
  const expires = Number(match[1]);
  if (expires * 1000 <= now) return false;
  const expected = Buffer.from(sign(token, expires));
  const given = Buffer.from(match[2] as string);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function sign(token: string, expires: number): string {
  return createHmac('sha256', token).update(`spacebot codec session ${expires}`).digest('base64url');
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The sign-in page: the token goes from the password field into an Authorization header, never a URL. */
export function sendLoginPage(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-type', 'text/html; charset=utf-8')
    .header('content-security-policy', "default-src 'none'; script-src 'unsafe-inline'; connect-src 'self'; style-src 'unsafe-inline'")
    .header('cache-control', 'no-store')
    .send(LOGIN_PAGE);
}

const LOGIN_PAGE = `<!doctype html>
<meta charset="utf-8"><title>Spacebot codec sign-in</title>
<style>body{font:16px system-ui;max-width:36em;margin:3em auto}input{width:100%;padding:.4em}</style>
<h1>Spacebot codec sign-in</h1>
<p>Lets this browser's Temporal Web UI decode encrypted history for ${SESSION_SECONDS / 3600} hours.</p>
<form id="f"><input id="t" type="password" autocomplete="off" placeholder="API token"><p><button>Sign in</button></p></form>
<p id="m" role="status"></p>
<script>
document.getElementById('f').onsubmit = async (e) => {
  e.preventDefault();
  const res = await fetch('session', { method: 'POST', headers: { authorization: 'Bearer ' + document.getElementById('t').value } });
  document.getElementById('t').value = '';
  document.getElementById('m').textContent = res.ok ? 'Signed in: reload the Temporal UI.' : 'Refused (' + res.status + '): wrong token?';
};
</script>
`;
