import { useEffect } from "react";
import { navigate } from "../router.ts";

/** Replaces the current history entry with `to` (no extra Back step). */
export function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, { replace: true }), [to]);
  return null;
}
