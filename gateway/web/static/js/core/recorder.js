// Voice messages: recording with MediaRecorder (Opus in WebM or Ogg, whichever the browser
// offers), bounded by the tenant's longest voice message, and playback where one plays at a time.
// The recorder owns the microphone only while recording.

const TYPES = ['audio/webm;codecs=opus', 'audio/ogg;codecs=opus', 'audio/webm', 'audio/ogg'];

/** supported says whether this browser can record voice messages (and if not, why: a t() key). */
export function recordingSupport() {
  if (!window.isSecureContext) return 'micInsecure';
  if (!navigator.mediaDevices?.getUserMedia || typeof MediaRecorder === 'undefined') return 'micUnsupported';
  return '';
}

/** errorKey turns a getUserMedia or MediaRecorder failure into the t() key that explains it. */
export function errorKey(err) {
  switch (err?.name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return 'micDenied';
    case 'NotFoundError':
    case 'OverconstrainedError':
      return 'micMissing';
    case 'NotReadableError':
      return 'micBusy';
    default:
      return 'micError';
  }
}

/**
 * VoiceRecorder records one voice message. onTick(seconds) runs every second; onDone(file,
 * durationMs) when stopped (never after cancel); it stops by itself at maxSeconds.
 */
export class VoiceRecorder {
  constructor({ maxSeconds = 120, onTick = () => {}, onStop = () => {}, onDone = () => {} }) {
    this.max = maxSeconds;
    this.onTick = onTick;
    this.onStop = onStop;
    this.onDone = onDone;
    this.chunks = [];
    this.cancelled = false;
  }

  /** start asks for the microphone and records; it rejects with the browser's error. */
  async start() {
    this.stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    const type = TYPES.find((t) => MediaRecorder.isTypeSupported(t)) || '';
    this.rec = new MediaRecorder(this.stream, type ? { mimeType: type } : undefined);
    this.rec.addEventListener('dataavailable', (e) => { if (e.data.size) this.chunks.push(e.data); });
    this.rec.addEventListener('stop', () => this.finish());
    this.started = performance.now();
    this.rec.start(250);
    this.timer = setInterval(() => {
      const s = this.elapsed() / 1000;
      this.onTick(Math.floor(s));
      if (s >= this.max) this.stop();
    }, 250);
  }

  elapsed() {
    return this.started ? Math.min(performance.now() - this.started, this.max * 1000) : 0;
  }

  /** stop ends the recording (by hand or at the limit) and hands the file to onDone. */
  stop() {
    if (this.stopped) return;
    this.stopped = true;
    this.onStop();
    this.duration = Math.round(this.elapsed());
    if (this.rec?.state === 'recording') this.rec.stop();
    else this.release();
  }

  /** cancel ends the recording and throws it away. */
  cancel() {
    this.cancelled = true;
    this.stop();
  }

  finish() {
    this.release();
    if (this.cancelled || !this.chunks.length) return;
    const type = (this.rec.mimeType || this.chunks[0].type || 'audio/webm').split(';')[0];
    const ext = type.includes('ogg') ? 'ogg' : 'webm';
    const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-');
    const file = new File(this.chunks, 'voice-' + stamp + '.' + ext, { type });
    this.onDone(file, this.duration);
  }

  release() {
    clearInterval(this.timer);
    this.stream?.getTracks().forEach((tr) => tr.stop());
    this.stream = null;
  }
}

/** clock formats seconds as m:ss. */
export function clock(sec) {
  sec = Math.max(0, Math.floor(sec));
  return Math.floor(sec / 60) + ':' + String(sec % 60).padStart(2, '0');
}

const players = new Set();

/** onePlayer makes audio one of the players of which only one plays at a time. */
export function onePlayer(audio) {
  players.add(audio);
  audio.addEventListener('play', () => {
    for (const p of players) {
      if (p !== audio && !p.paused) p.pause();
      if (!p.isConnected) players.delete(p);
    }
  });
}
