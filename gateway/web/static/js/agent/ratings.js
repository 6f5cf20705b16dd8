// How the console words a customer's rating (the rated frame): stars out of five or a thumb.

import { Scale } from '../core/protocol.js';

/** ratingLabel is a rating's score as the console shows it: "4/5", 👍 or 👎. */
export function ratingLabel(t, r) {
  if (!r) return '';
  if (r.scale === Scale.Thumbs) return r.score >= 2 ? t('ratedUp') : t('ratedDown');
  return t('ratedStars', { n: r.score });
}

/** ratedText is the toast for a rated frame: who rated, how, and their comment. */
export function ratedText(t, f, name) {
  const c = f.rating?.comment ? ' — “' + f.rating.comment + '”' : '';
  return t('rated', { name, score: ratingLabel(t, f.rating) }) + c;
}
