/** /credentials : credential profiles (passwords are never sent to the page). */
import { canEdit, type Page } from "./view.tsx";
import { Island } from "../../components/Island.tsx";
import { islands } from "./islands.ts";
import { credentialProfilesRepo } from "../../lib/db/credential_profiles.ts";

export const credentialsPage: Page = {
  path: "/credentials",
  async get(c, view) {
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
      kerberos_realm: p.kerberos_realm,
      kerberos_kdcs: p.kerberos_kdcs,
      kerberos_spn: p.kerberos_spn,
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
        <Island of={islands.CredentialProfiles} props={{ rows, canEdit: canEdit(c) }} />
      </>,
    );
  },
};
