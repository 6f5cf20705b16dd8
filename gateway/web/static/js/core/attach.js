// Attachments: upload (POST /v1/attachments, multipart) and authenticated download. Attachment
// URLs are served to participants only, so images are fetched with the token and shown from a
// blob: URL rather than pointing <img> at the gateway.

import { tenantHeaders } from './tenant.js';

const cache = new Map();

/** upload sends one file; resolves to the attachment {id,url,type,size,name}. */
export async function upload(base, token, file, conv) {
  // conv goes first (in the query and the form) so the gateway refuses a non-participant before
  // reading the file.
  const form = new FormData();
  if (conv) form.append('conv', conv);
  form.append('file', file, file.name || 'upload');
  const url = new URL('/v1/attachments', base);
  if (conv) url.searchParams.set('conv', conv);
  const res = await fetch(url, {
    method: 'POST',
    headers: { Authorization: 'Bearer ' + token, ...tenantHeaders() },
    body: form,
  });
  if (!res.ok) {
    const err = new Error('upload failed: ' + res.status);
    err.status = res.status;
    throw err;
  }
  const a = await res.json();
  return { name: file.name, type: file.type, size: file.size, ...a };
}

/** blobURL fetches an attachment with the token and returns an object URL (cached per page). */
export function blobURL(base, token, att) {
  const url = new URL(att.url || '/v1/attachments/' + encodeURIComponent(att.id), base).toString();
  if (!cache.has(url)) {
    const p = fetch(url, { headers: { Authorization: 'Bearer ' + token, ...tenantHeaders() } }).then((r) => {
      if (!r.ok) throw new Error('download failed: ' + r.status);
      return r.blob();
    }).then((b) => URL.createObjectURL(b));
    p.catch(() => cache.delete(url));
    cache.set(url, p);
  }
  return cache.get(url);
}

/** isImage says whether an attachment or a file should be previewed as an image. */
export function isImage(a) {
  return /^image\/(png|jpe?g|gif|webp|avif|bmp)$/i.test(a?.type || '');
}
