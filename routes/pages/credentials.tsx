/** /credentials : credential profiles (passwords are never sent to the page). */
import type { Hono } from "hono";
import type { AppEnv } from "../http/env.ts";
import { canEdit, type View } from "./view.tsx";
import { Island } from "../../components/Island.tsx";
import CredentialProfiles from "../../islands/CredentialProfiles.tsx";
import { credentialProfilesRepo } from "../../lib/db/credential_profiles.ts";

export function registerCredentialsPage(app: Hono<AppEnv>, view: View): void {
  app.get("/credentials", async (c) => {
    const page = await credentialProfilesRepo.list(c.get("app").db, {
      limit: 500,
      offset: 0,
      sort: "name",
      order: "asc",
    });
    const rows = page.items.map((p) => ({
      id: p.id,
      name: p.name,
      type: p.type,
      username: p.username,
      domain: p.domain,
      port: p.port,
      use_ssl: p.use_ssl,
      tls_verify: p.tls_verify,
      allow_unencrypted: p.allow_unencrypted,
    }));
    return view.page(
      c,
      "Credential profiles",
      <>
        <h1>Credential profiles</h1>
        <p class="muted">
          The accounts NMSlite uses to log in to Windows hosts. Passwords are stored encrypted and
          are never shown again.
        </p>
        <Island
          name="CredentialProfiles"
          component={CredentialProfiles}
          props={{ rows, canEdit: canEdit(c) }}
        />
      </>,
    );
  });
}
