import type { Environment } from "../api-types.ts";
import { navigate } from "../router.ts";
import { type AccountBase, type AccountSection, sectionPathIn } from "../routes.ts";

const ENVIRONMENTS: { value: Environment; label: string }[] = [
  { value: "test", label: "TEST" },
  { value: "live", label: "LIVE" },
];

/** TEST / LIVE as a two-option radio group: choosing one opens the same section in that environment. */
export function EnvironmentSwitch({ base, section }: { base: AccountBase; section: AccountSection }) {
  return (
    <fieldset className="environment-switch">
      <legend className="visually-hidden">Environment</legend>
      {ENVIRONMENTS.map(({ value, label }) => (
        <label key={value} className={`environment-option environment-${value}`}>
          <input
            type="radio"
            name="environment"
            className="environment-radio"
            value={value}
            checked={base.environment === value}
            onChange={() => navigate(sectionPathIn({ ...base, environment: value }, section))}
          />
          {label}
        </label>
      ))}
    </fieldset>
  );
}

/** A bar across the page that says which environment every action here affects. */
export function EnvironmentBar({ environment }: { environment: Environment }) {
  return (
    <div className={`environment-bar environment-bar-${environment}`}>
      {environment === "live" ? (
        <>
          <strong>LIVE environment</strong> — real events to real endpoints.
        </>
      ) : (
        <>
          <strong>TEST environment</strong> — safe to experiment; LIVE is separate.
        </>
      )}
    </div>
  );
}
