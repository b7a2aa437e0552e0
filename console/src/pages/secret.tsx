/** A secret shown once (after creating or rotating a key), with copy and an "I stored it" confirmation. */
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { CopyButton } from "../ui.tsx";

/** The secret panel; onDone runs once the user confirms that the secret is stored. */
export function SecretOnce({ secret, clientId, onDone }: { secret: string; clientId?: string; onDone: () => void }): JSX.Element {
  const [stored, setStored] = useState(false);
  return (
    <div class="secret" role="region" aria-label="New secret">
      <p>
        <strong>This secret is shown once.</strong> Store it now: keyplane keeps only its hash and cannot show it again.
      </p>
      <label>
        Secret (x-api-key, and the HMAC key of the NWS4 scheme)
        <input readOnly value={secret} data-testid="secret" spellcheck={false} onFocus={(e) => e.currentTarget.select()} />
      </label>
      <CopyButton text={secret} label="Copy secret" />
      {clientId ? (
        <p>
          Client id (NWS4): <code>{clientId}</code>
        </p>
      ) : null}
      <label class="inline">
        <input type="checkbox" checked={stored} onChange={(e) => setStored(e.currentTarget.checked)} data-testid="stored" />I stored it
      </label>
      <button type="button" class="primary" disabled={!stored} onClick={onDone}>
        Done
      </button>
    </div>
  );
}
