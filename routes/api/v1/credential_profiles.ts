import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/env.ts";
import { errors, searchQuery, Timestamp } from "./schemas.ts";
import { resourceRoutes } from "./resource.ts";

const TYPES = ["winrm_basic", "winrm_ntlm", "winrm_kerberos", "wmi"] as const;
const TLS_VERIFY = ["system", "pinned", "insecure"] as const;

const CredentialProfile = z.object({
  id: z.number().int(),
  name: z.string(),
  type: z.enum(TYPES),
  username: z.string(),
  domain: z.string().nullable(),
  port: z.number().int(),
  use_ssl: z.boolean(),
  tls_verify: z.enum(TLS_VERIFY),
  tls_ca_pem: z.string().nullable(),
  allow_unencrypted: z.boolean(),
  kerberos_realm: z.string().nullable(),
  kerberos_kdcs: z.array(z.string()),
  kerberos_spn: z.string().nullable(),
  created_at: Timestamp,
  updated_at: Timestamp,
}).openapi("CredentialProfile");

const pem = z.string().max(65_536).regex(
  /-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----/,
  "must be a PEM certificate",
);

const CreateBody = z.object({
  name: z.string().trim().min(1).max(100).openapi({ example: "Windows admins" }),
  type: z.enum(TYPES).openapi({ example: "winrm_ntlm" }),
  username: z.string().trim().min(1).max(256).openapi({ example: "Administrator" }),
  password: z.string().min(1).max(1024).openapi({ example: "P@ssw0rd!", writeOnly: true }),
  domain: z.string().trim().max(256).nullable().optional().openapi({ example: "CORP" }),
  port: z.number().int().min(1).max(65535).optional().openapi({
    description:
      "defaults to 5986 with use_ssl, 5985 without; for type wmi 135 (DCOM activation, then the host's dynamic RPC port)",
  }),
  use_ssl: z.boolean().optional(),
  tls_verify: z.enum(TLS_VERIFY).optional().openapi({
    description: "system CAs, a pinned CA/certificate (tls_ca_pem), or no verification",
  }),
  tls_ca_pem: pem.nullable().optional(),
  allow_unencrypted: z.boolean().optional().openapi({
    description: "allow Basic authentication over plain HTTP",
  }),
  kerberos_realm: z.string().trim().max(256).nullable().optional().openapi({
    example: "CORP.EXAMPLE.COM",
    description: "winrm_kerberos: the realm (default: the part after @ in username)",
  }),
  kerberos_kdcs: z.array(z.string().trim().min(1).max(260)).max(16).optional().openapi({
    example: ["dc1.corp.example.com", "dc2.corp.example.com:88"],
    description:
      "winrm_kerberos: KDCs as host[:port]; empty: found by DNS SRV (_kerberos._tcp.REALM)",
  }),
  kerberos_spn: z.string().trim().max(300).nullable().optional().openapi({
    example: "HTTP/server.corp.example.com",
    description:
      'winrm_kerberos: null names the service HTTP/<device host name>; "reverse" uses the IP\'s reverse DNS name; anything else is a fixed SPN',
  }),
}).strict().openapi("CredentialProfileCreate");

const UpdateBody = CreateBody.partial().strict().openapi("CredentialProfileUpdate");

export function registerCredentialProfileRoutes(app: OpenAPIHono<AppEnv>): void {
  resourceRoutes(app, {
    noun: "credential profile",
    schema: CredentialProfile,
    service: (s) => s.credentialProfiles,
    list: {
      summary: "List credential profiles (passwords are never returned)",
      query: searchQuery(["id", "name", "type", "created_at"]),
    },
    create: {
      summary: "Create a credential profile; the password is encrypted at rest",
      body: CreateBody,
    },
    get: {},
    update: {
      summary: "Update a credential profile; fields left out keep their value (the password too)",
      errors: errors.conflict,
      body: UpdateBody,
    },
    delete: {
      summary: "Delete a credential profile not used by any monitor or discovery profile",
      errors: errors.inUse,
    },
  });
}
