import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Built into dist/, which `hookline serve` serves at / (and /portal).
export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, sourcemap: true },
});
