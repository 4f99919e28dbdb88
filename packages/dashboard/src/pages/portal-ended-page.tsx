const MESSAGES = {
  "invalid-link": "This link is invalid, expired or already used. Ask for a new one.",
  ended: "Your session has ended. Ask for a new link to come back.",
};

/** A portal visitor without a session: there is no login form for them, only a new link. */
export function PortalEndedPage({ reason }: { reason: keyof typeof MESSAGES }) {
  return (
    <section className="narrow">
      <h1>{reason === "invalid-link" ? "This link cannot be used" : "Session ended"}</h1>
      <p role="alert">{MESSAGES[reason]}</p>
    </section>
  );
}
