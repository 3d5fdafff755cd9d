// hls.js ships the light build (no subtitles, alternate audio or DRM, which Pasar does not use) without
// its own declaration; it has the same API as the full build.
declare module 'hls.js/light' {
  export * from 'hls.js';
  export { default } from 'hls.js';
}
