import { createContext, useContext } from "react";
import type { Session } from "./api-types.ts";

export interface SessionControls {
  session: Session;
  /** Ends the session on the server and forgets it here. */
  logOut: () => Promise<void>;
}

export const SessionContext = createContext<SessionControls | null>(null);

/** The live session; only pages rendered for a logged-in user call this. */
export function useSession(): SessionControls {
  const controls = useContext(SessionContext);
  if (!controls) throw new Error("useSession outside a session");
  return controls;
}
