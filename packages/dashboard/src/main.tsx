import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./app.tsx";
import { takePortalTokenFromUrl } from "./portal-token.ts";
import "./styles.css";

const portalToken = takePortalTokenFromUrl();
const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <App portalToken={portalToken} />
    </StrictMode>,
  );
}
