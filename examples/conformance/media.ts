// Tiny, valid media samples for the content-type scenarios: a 1x1 PNG and a 1 ms 16-bit mono WAV.

/** A 1x1 RGBA PNG (one blue pixel). */
export const PNG_1X1 =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGPQztnwHwAEVAJHnALJDgAAAABJRU5ErkJggg==';

/** Eight samples of a sine wave at 8 kHz, PCM 16-bit mono, in a RIFF/WAVE container. */
export const WAV_TONE = 'UklGRjQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YRAAAAAAABkWQB8ZFgAA5+nA4Ofp';
