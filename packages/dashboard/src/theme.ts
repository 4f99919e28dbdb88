import type { Theme } from "./api-types.ts";

export interface AppliedTheme {
  productName: string;
  accentColor: string | null;
  /** Black or white, whichever reads better on the accent colour. */
  accentTextColor: string | null;
  logoUrl: string | null;
}

const DEFAULT_PRODUCT_NAME = "Hookline";

/** Only https logos (the CSP loads images over https): a `javascript:` or `data:` URL from a theme is never used. */
function safeLogoUrl(value: string | null | undefined): string | null {
  if (!value) return null;
  try {
    const url = new URL(value);
    return url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

function isCssColor(value: string | null | undefined): value is string {
  return typeof value === "string" && value.length <= 64 && CSS.supports("color", value);
}

/** Relative luminance of a #rgb / #rrggbb colour, or null for other notations. */
function luminance(color: string): number | null {
  const hex = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(color)?.[1];
  if (!hex) return null;
  const full = hex.length === 3 ? [...hex].map((digit) => digit + digit).join("") : hex;
  const [red, green, blue] = [0, 2, 4].map((start) => {
    const channel = Number.parseInt(full.slice(start, start + 2), 16) / 255;
    return channel <= 0.03928 ? channel / 12.92 : ((channel + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  return 0.2126 * red + 0.7152 * green + 0.0722 * blue;
}

export function resolveTheme(theme: Theme | null | undefined): AppliedTheme {
  const accentColor = isCssColor(theme?.accent_color) ? theme.accent_color : null;
  const accentLuminance = accentColor ? luminance(accentColor) : null;
  return {
    productName: theme?.product_name?.trim() || DEFAULT_PRODUCT_NAME,
    accentColor,
    accentTextColor: accentLuminance === null ? null : accentLuminance > 0.4 ? "#111" : "#fff",
    logoUrl: safeLogoUrl(theme?.logo_url),
  };
}

/** Sets the accent as CSS variables on the document, so buttons and links follow it. */
export function applyTheme(theme: AppliedTheme): void {
  const style = document.documentElement.style;
  if (theme.accentColor) style.setProperty("--accent", theme.accentColor);
  else style.removeProperty("--accent");
  if (theme.accentTextColor) style.setProperty("--accent-text", theme.accentTextColor);
  else style.removeProperty("--accent-text");
  document.title = theme.productName;
}
