import type { EventType } from "../api-types.ts";

interface Props {
  idPrefix: string;
  catalog: EventType[] | undefined;
  selected: string[];
  onChange: (selected: string[]) => void;
  errorId?: string;
}

/** Checkboxes for the catalog's event types; none checked means every type. */
export function EventTypePicker({ idPrefix, catalog, selected, onChange, errorId }: Props) {
  const catalogNames = new Set(catalog?.map((type) => type.name));
  // Types the endpoint already has but the catalog lacks stay visible, so saving does not drop them.
  const options = [
    ...(catalog ?? []),
    ...selected.filter((name) => !catalogNames.has(name)).map((name) => ({ name, description: "", built_in: false })),
  ];

  function toggle(name: string, checked: boolean) {
    onChange(checked ? [...selected, name] : selected.filter((other) => other !== name));
  }

  return (
    <fieldset className="event-type-picker" aria-describedby={errorId}>
      <legend>Event types</legend>
      <p className="muted small">
        {selected.length === 0 ? "None checked: every event type is sent." : `${selected.length} selected.`}
      </p>
      {catalog === undefined && options.length === 0 && <p className="muted small">Loading the catalog…</p>}
      <ul className="checkbox-list">
        {options.map((type) => {
          const id = `${idPrefix}-type-${type.name}`;
          return (
            <li key={type.name}>
              <input
                type="checkbox"
                id={id}
                checked={selected.includes(type.name)}
                onChange={(event) => toggle(type.name, event.target.checked)}
                aria-describedby={type.description ? `${id}-description` : undefined}
              />
              <label htmlFor={id}>
                <span className="mono">{type.name}</span>
              </label>
              {type.description && (
                <span id={`${id}-description`} className="muted small checkbox-description">
                  {type.description}
                </span>
              )}
            </li>
          );
        })}
      </ul>
    </fieldset>
  );
}
