import { defineConfig } from 'vite';

// The portal is a static single-page app: `glasshouse portal serve` hands out
// dist/ and proxies the services' public endpoints under /svc/ (same origin).
// The `browser` export condition (Vite's default for client builds) picks
// @glasshouse/crypto's @noble engine.
export default defineConfig({
  base: './',
  esbuild: { jsx: 'automatic', jsxDev: false },
  // Always React's production build, whatever NODE_ENV the caller has (vitest sets "test").
  define: { 'process.env.NODE_ENV': JSON.stringify('production') },
  build: {
    target: 'es2022',
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
  },
});
