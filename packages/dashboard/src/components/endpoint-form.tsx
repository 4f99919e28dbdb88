import { type FormEvent, useState } from "react";
import type { Environment, EventType } from "../api-types.ts";
import { type EndpointField, type EndpointFormValues, fieldOfError, isLocalUrl } from "../endpoint-form-values.ts";
import { EventTypePicker } from "./event-type-picker.tsx";
import { ErrorText } from "./messages.tsx";

interface Props {
  idPrefix: string;
  environment: Environment;
  /** The values as saved; the form shows them until the user edits, so polling never overwrites typing. */
  saved: EndpointFormValues;
  catalog: EventType[] | undefined;
  submitLabel: string;
  /** The `hookline listen` endpoint's URL is fixed. */
  urlReadOnly?: boolean;
  /** `edited`: only the fields the user changed, so a save never resends a value that changed meanwhile. */
  onSubmit: (values: EndpointFormValues, edited: Partial<EndpointFormValues>) => Promise<void>;
}

export function EndpointForm({ idPrefix, environment, saved, catalog, submitLabel, urlReadOnly, onSubmit }: Props) {
  const [draft, setDraft] = useState<Partial<EndpointFormValues> | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<{ field: EndpointField | null; error: Error } | null>(null);
  const values = { ...saved, ...draft };
  const id = (name: string) => `${idPrefix}-${name}`;
  const errorFor = (field: EndpointField | null) => (error && error.field === field ? error.error : null);

  function change(update: Partial<EndpointFormValues>) {
    setDraft({ ...draft, ...update });
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onSubmit(values, draft ?? {});
      setDraft(null);
    } catch (failure) {
      setError({ field: fieldOfError(failure), error: failure as Error });
    } finally {
      setBusy(false);
    }
  }

  const urlError = errorFor("url");
  const descriptionError = errorFor("description");
  const eventTypesError = errorFor("event_types");

  return (
    <form className="stack" onSubmit={submit}>
      <div className="field">
        <label htmlFor={id("url")}>URL</label>
        <input
          id={id("url")}
          type="url"
          inputMode="url"
          required
          readOnly={urlReadOnly}
          placeholder="https://example.com/webhooks"
          value={values.url}
          onChange={(event) => change({ url: event.target.value })}
          aria-invalid={urlError ? true : undefined}
          aria-describedby={urlError ? id("url-error") : undefined}
        />
        {urlReadOnly && (
          <p className="muted small">
            The URL of the <code>hookline listen</code> endpoint cannot change.
          </p>
        )}
        <ErrorText error={urlError} id={id("url-error")} />
        {environment === "test" && isLocalUrl(values.url) && (
          <p className="hint">
            TEST accepts local URLs. To receive events on your laptop without exposing it, run{" "}
            <code>hookline listen</code>.
          </p>
        )}
      </div>
      <div className="field">
        <label htmlFor={id("description")}>Description</label>
        <input
          id={id("description")}
          maxLength={1024}
          value={values.description}
          onChange={(event) => change({ description: event.target.value })}
          aria-invalid={descriptionError ? true : undefined}
          aria-describedby={descriptionError ? id("description-error") : undefined}
        />
        <ErrorText error={descriptionError} id={id("description-error")} />
      </div>
      <EventTypePicker
        idPrefix={idPrefix}
        catalog={catalog}
        selected={values.eventTypes}
        onChange={(eventTypes) => change({ eventTypes })}
        errorId={eventTypesError ? id("event-types-error") : undefined}
      />
      <ErrorText error={eventTypesError} id={id("event-types-error")} />
      <div className="checkbox-field">
        <input
          id={id("enabled")}
          type="checkbox"
          checked={values.enabled}
          onChange={(event) => change({ enabled: event.target.checked })}
        />
        <label htmlFor={id("enabled")}>Enabled</label>
      </div>
      <div className="row">
        <button type="submit" disabled={busy}>
          {submitLabel}
        </button>
        {draft && (
          <button type="button" className="secondary" onClick={() => setDraft(null)} disabled={busy}>
            Discard changes
          </button>
        )}
      </div>
      <ErrorText error={errorFor(null)} />
    </form>
  );
}
