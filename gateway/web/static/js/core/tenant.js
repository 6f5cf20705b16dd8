// The tenant this page talks to the gateway for. A token from the tenant's own backend (a
// signed-in customer) does not always name its tenant, so every request says it: the socket
// URL's ?tenant= and the X-Frontdesk-Tenant header.

let current = '';

/** setTenant sets the tenant of every later request. */
export function setTenant(t) {
  current = String(t || '');
}

/** tenantHeaders returns the header naming the tenant (none when unset). */
export function tenantHeaders() {
  return current ? { 'X-Frontdesk-Tenant': current } : {};
}

/** withTenant adds ?tenant= to a URL object. */
export function withTenant(u) {
  if (current) u.searchParams.set('tenant', current);
  return u;
}
