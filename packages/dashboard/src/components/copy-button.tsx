import { useEffect, useState } from "react";

/** Copies `text` to the clipboard and says so for a moment. */
export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  const [result, setResult] = useState<"copied" | "failed" | null>(null);

  useEffect(() => {
    if (result === null) return;
    const timer = setTimeout(() => setResult(null), 2000);
    return () => clearTimeout(timer);
  }, [result]);

  async function copy() {
    try {
      await navigator.clipboard.writeText(text);
      setResult("copied");
    } catch {
      setResult("failed");
    }
  }

  return (
    <>
      <button type="button" className="secondary" onClick={copy}>
        {label}
      </button>
      <span className="muted" aria-live="polite">
        {result === "copied" ? "Copied" : result === "failed" ? "Copy failed: select the text and copy it" : ""}
      </span>
    </>
  );
}
