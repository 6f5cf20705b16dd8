// The record button and the recording bar shared by the widget and the console: a microphone
// button that explains itself when it cannot record, then a bar with a live timer, Cancel and
// Send while recording.

import { h, icon } from './dom.js';
import { VoiceRecorder, clock, errorKey, recordingSupport } from './recorder.js';

/**
 * voiceControls returns {button, bar}: put the button in the composer row and the bar over the
 * composer. maxSeconds() is read when recording starts; onFile(file, durationMs) sends the
 * recording; onError(text) shows why recording is not possible; onRecording(on) lets the page
 * hide its composer while the bar shows.
 */
export function voiceControls({ t, maxSeconds, onFile, onError, onRecording = () => {} }) {
  let rec = null;
  const timer = h('span', { class: 'fd-rec-time', role: 'timer', 'aria-live': 'off' }, '0:00');
  const limit = h('span', { class: 'fd-rec-limit muted' });
  const cancelBtn = h('button', { class: 'fd-rec-cancel', type: 'button' }, t('cancel'));
  const sendBtn = h('button', { class: 'fd-rec-send', type: 'button', 'aria-label': t('sendVoice') }, icon('send', 18), h('span', null, t('send')));
  const bar = h('div', { class: 'fd-rec-bar', hidden: true, role: 'group', 'aria-label': t('recording') },
    h('span', { class: 'fd-rec-dot', 'aria-hidden': 'true' }), h('span', { class: 'fd-rec-label' }, t('recording')), timer, limit, cancelBtn, sendBtn);
  const support = recordingSupport();
  const button = h('button', { class: 'fd-icon-btn fd-mic', type: 'button', 'aria-label': t('recordVoice'),
    title: support ? t(support) : t('recordVoice'), 'aria-disabled': support ? 'true' : null }, icon('mic', 20));
  const show = (on) => {
    bar.hidden = !on;
    onRecording(on);
  };
  button.addEventListener('click', async () => {
    // A button that cannot record says why instead of doing nothing.
    if (support) return onError(t(support));
    if (rec) return;
    const max = Math.max(1, maxSeconds() || 120);
    limit.textContent = '/ ' + clock(max);
    timer.textContent = '0:00';
    rec = new VoiceRecorder({
      maxSeconds: max,
      onTick: (s) => { timer.textContent = clock(s); },
      // Stopped at the limit too: the bar goes away and the recording is sent.
      onStop: () => {
        if (!rec) return;
        rec = null;
        show(false);
        button.focus();
      },
      onDone: (file, ms) => onFile(file, ms),
    });
    try {
      await rec.start();
    } catch (err) {
      rec.release();
      rec = null;
      onError(t(errorKey(err)));
      return;
    }
    show(true);
    sendBtn.focus();
  });
  const end = (cancel) => {
    if (!rec) return;
    if (cancel) rec.cancel();
    else rec.stop();
  };
  cancelBtn.addEventListener('click', () => end(true));
  sendBtn.addEventListener('click', () => end(false));
  bar.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') {
      ev.stopPropagation();
      end(true);
    }
  });
  return { button, bar, cancel: () => end(true) };
}
