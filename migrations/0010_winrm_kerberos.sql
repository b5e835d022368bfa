-- Kerberos for WinRM: a credential type of its own, with the realm, the KDCs (host[:port];
-- none: DNS SRV _kerberos._tcp/_udp.REALM) and how the service principal is named (null:
-- HTTP/<device host name>; 'reverse': the IP's PTR name; otherwise a fixed SPN).
ALTER TABLE credential_profiles DROP CONSTRAINT credential_profiles_type_check;
ALTER TABLE credential_profiles ADD CONSTRAINT credential_profiles_type_check
  CHECK (type IN ('winrm_basic', 'winrm_ntlm', 'winrm_kerberos', 'wmi'));
ALTER TABLE credential_profiles ADD COLUMN kerberos_realm text;
ALTER TABLE credential_profiles ADD COLUMN kerberos_kdcs text[] NOT NULL DEFAULT '{}';
ALTER TABLE credential_profiles ADD COLUMN kerberos_spn text;
