// Reading (not verifying) a JWT's claims, to show the signed-in user and to renew a token
// shortly before it expires. The gateway verifies every token.

/** claims returns the payload of a JWT, or null when it is not one. */
export function claims(token) {
  const part = String(token || '').split('.')[1];
  if (!part) return null;
  try {
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    const json = new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
    const c = JSON.parse(json);
    return c && typeof c === 'object' ? c : null;
  } catch {
    return null;
  }
}

/** expired reports whether the token expires within `marginS` seconds. */
export function expired(token, marginS = 60) {
  const c = claims(token);
  if (!c) return true;
  return typeof c.exp === 'number' && c.exp * 1000 < Date.now() + marginS * 1000;
}
