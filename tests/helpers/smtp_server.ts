/**
 * A real SMTP server for tests: tests/peers/smtp_server.py (Debian's python3-aiosmtpd, run with
 * /usr/bin/python3) with a certificate made for the test, STARTTLS on one loopback port and
 * implicit TLS on another, AUTH required on both. Accepted messages land as JSON in a temp dir.
 */
import { selfSignedServerCertificate } from "../../lib/tls_certificate.ts";
import { freePort } from "./ports.ts";

const PYTHON = "/usr/bin/python3";
const SCRIPT = new URL("../peers/smtp_server.py", import.meta.url).pathname;

export interface ReceivedMail {
  mode: "starttls" | "tls";
  mailFrom: string;
  rcptTos: string[];
  /** the raw message (headers and MIME body) */
  data: string;
  /** decoded by Python's email package */
  subject: string;
  from: string;
  to: string;
  messageId: string;
  references: string | null;
  /** lower-cased names */
  headers: Record<string, string>;
  text: string | null;
  html: string | null;
  tlsVersion: string | null;
  auth: { mechanism: string; login: string } | null;
}

export interface SmtpServer {
  starttlsPort: number;
  tlsPort: number;
  /** the server's certificate (PEM), for a client to trust */
  certPem: string;
  username: string;
  password: string;
  messages(): Promise<ReceivedMail[]>;
  close(): Promise<void>;
}

export async function startSmtpServer(
  username = "alerts",
  password = "smtp-pass-8842",
): Promise<SmtpServer> {
  const dir = await Deno.makeTempDir({ prefix: "nmslite-smtp-" });
  const pems = await selfSignedServerCertificate("localhost", 1);
  await Deno.writeTextFile(`${dir}/cert.pem`, pems.cert);
  await Deno.writeTextFile(`${dir}/key.pem`, pems.private);
  await Deno.mkdir(`${dir}/mail`);
  const [starttlsPort, tlsPort] = [await freePort(), await freePort()];
  const child = new Deno.Command(PYTHON, {
    args: [
      SCRIPT,
      JSON.stringify({
        dir: `${dir}/mail`,
        cert: `${dir}/cert.pem`,
        key: `${dir}/key.pem`,
        username,
        password,
        starttlsPort,
        tlsPort,
      }),
    ],
    env: { PATH: "/usr/bin:/bin" },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!out.includes("ready\n")) {
    const { value, done } = await reader.read();
    if (done) {
      await child.status;
      throw new Error(`smtp server did not start:\n${await stderr}`);
    }
    out += value;
  }
  const draining = (async () => {
    while (!(await reader.read()).done) { /* discard */ }
  })();

  return {
    starttlsPort,
    tlsPort,
    certPem: pems.cert,
    username,
    password,
    async messages() {
      const names: string[] = [];
      for await (const e of Deno.readDir(`${dir}/mail`)) {
        if (e.name.endsWith(".json")) names.push(e.name);
      }
      names.sort();
      return await Promise.all(
        names.map(async (n) => JSON.parse(await Deno.readTextFile(`${dir}/mail/${n}`))),
      );
    },
    async close() {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      await child.status;
      await draining.catch(() => {});
      await stderr.catch(() => "");
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
