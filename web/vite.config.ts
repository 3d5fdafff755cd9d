import { defineConfig } from 'vite';

// Builds into the server's git-ignored wwwroot/dist; Pasar.Server serves it (Web/WebModule.cs).
export default defineConfig({
  base: '/',
  build: {
    outDir: '../src/Pasar.Server/wwwroot/dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
    manifest: true,
    chunkSizeWarningLimit: 600,
  },
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  server: {
    proxy: {
      '/api': 'http://localhost:5080',
      '/hubs': { target: 'http://localhost:5080', ws: true },
      '/hls': 'http://localhost:5080',
      '/s/': 'http://localhost:5080',
    },
  },
});
