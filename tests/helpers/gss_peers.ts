/**
 * Runs the independent Kerberos peers in tests/peers (MIT GSSAPI from Debian's python3-gssapi,
 * pywinrm with requests-kerberos) against loopback endpoints. Python packages are Debian's, so
 * they run with /usr/bin/python3, never the python3 first on PATH.
 *
 *   await using acc = await startGssAcceptor({ keytab: svc.keytabPath, env: kdc.env });
 *   const r = await runGssClient(acc.url, { spn: "HTTP/win-01.nmslite.test", env: kdc.envFor(cc), encrypt: true });
 *   await acc.waitFor((e) => e.event === "decrypted");
 */
import { selfSignedServerCertificate } from "../../lib/tls_certificate.ts";

export const PYTHON = "/usr/bin/python3";
const PEERS = new URL("../peers/", import.meta.url).pathname;

/** One JSON line the acceptor logged (see tests/peers/gss_winrm_acceptor.py). */
export type AcceptorEvent = { event: string } & Record<string, unknown>;

export interface AcceptorOptions {
  /** The service keytab (Kdc.addService(...).keytabPath). */
  keytab: string;
  /** KRB5_CONFIG and KRB5RCACHEDIR (Kdc.env). */
  env: Record<string, string>;
  /** Serve HTTPS with this certificate (PEM); see tlsCertificate(). */
  tls?: { certPath: string; keyPath: string };
  /** off | accept (default, Windows' Relaxed) | require. */
  cbt?: "off" | "accept" | "require";
  allowUnencrypted?: boolean;
  /** Accept only this principal (default: any in the keytab). */
  spn?: string;
  /** Forward plaintext SOAP to this Basic-auth WinRM URL (a winsim host) instead of the fixed one. */
  upstream?: { url: string; user: string; password: string };
}

export interface GssAcceptor extends AsyncDisposable {
  port: number;
  /** http(s)://127.0.0.1:port/wsman */
  url: string;
  /** The `listening` event: cert_hash / cert_hash_algorithm over TLS. */
  listening: AcceptorEvent;
  /** Events so far (the `listening` one excluded). */
  events: AcceptorEvent[];
  /** Resolves with the first event (new or already seen) matching; rejects if the peer exits. */
  waitFor(match: (e: AcceptorEvent) => boolean): Promise<AcceptorEvent>;
  stop(): Promise<void>;
}

export async function startGssAcceptor(opts: AcceptorOptions): Promise<GssAcceptor> {
  const args = [`${PEERS}gss_winrm_acceptor.py`, "--keytab", opts.keytab, "--port", "0"];
  if (opts.tls) args.push("--cert", opts.tls.certPath, "--key", opts.tls.keyPath);
  if (opts.cbt) args.push("--cbt", opts.cbt);
  if (opts.allowUnencrypted) args.push("--allow-unencrypted");
  if (opts.spn) args.push("--spn", opts.spn);
  if (opts.upstream) {
    args.push("--upstream", opts.upstream.url, "--upstream-user", opts.upstream.user);
  }
  const child = new Deno.Command(PYTHON, {
    args,
    env: { ...pyEnv(opts.env), UPSTREAM_PASSWORD: opts.upstream?.password ?? "" },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const events: AcceptorEvent[] = [];
  let wake = () => {};
  let ended = false;
  const reading = (async () => {
    let buf = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim()) events.push(JSON.parse(line));
      }
      wake();
    }
    ended = true;
    wake();
  })();
  const waitFor = async (match: (e: AcceptorEvent) => boolean): Promise<AcceptorEvent> => {
    while (true) {
      const hit = events.find(match);
      if (hit) return hit;
      if (ended) {
        throw new Error(`gss_winrm_acceptor exited: ${(await stderr).slice(-800)}`);
      }
      await new Promise<void>((r) => wake = r);
    }
  };
  const listening = await waitFor((e) => e.event === "listening");
  events.splice(events.indexOf(listening), 1);
  const port = listening.port as number;
  let stopped: Promise<void> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      await child.status;
      await reading;
      await stderr;
    })();
  return {
    port,
    url: `${opts.tls ? "https" : "http"}://127.0.0.1:${port}/wsman`,
    listening,
    events,
    waitFor,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

export interface GssClientOptions {
  /** HTTP/host or HTTP/host@REALM. */
  spn: string;
  /** Kdc.envFor(ccache). */
  env: Record<string, string>;
  encrypt?: boolean;
  cbt?: boolean;
  mech?: "spnego" | "krb5";
  /** MIME label for sealed bodies (default follows the mech). */
  label?: "kerberos" | "spnego";
  op?: "identify" | "wql";
  query?: string;
  /** Requests on the one connection (sequence numbers advance). */
  repeat?: number;
  noMutual?: boolean;
  /** Bind to a wrong certificate hash (what a TLS man in the middle would produce). */
  cbtCorrupt?: boolean;
  /** Flip a bit of each sealed body. */
  tamper?: boolean;
}

export interface GssClientItem {
  element: string;
  props: Record<string, string>;
}

export interface GssClientResult {
  auth?: {
    complete: boolean;
    mutual: boolean;
    server_token: boolean;
    flags: string[];
    mech: string;
    target: string;
  };
  responses: {
    status: number;
    encrypted: boolean;
    items?: GssClientItem[];
    identify?: Record<string, string>;
    fault?: { code: string; message: string };
    relates_ok?: boolean;
  }[];
  error?: string;
}

/** tests/peers/gss_winrm_client.py; `error` is set (and exit code 1) when anything failed. */
export async function runGssClient(url: string, o: GssClientOptions): Promise<GssClientResult> {
  const args = [`${PEERS}gss_winrm_client.py`, url, "--spn", o.spn];
  if (o.encrypt) args.push("--encrypt");
  if (o.cbt) args.push("--cbt");
  if (o.mech) args.push("--mech", o.mech);
  if (o.label) args.push("--label", o.label);
  if (o.op) args.push("--op", o.op);
  if (o.query) args.push("--query", o.query);
  if (o.repeat) args.push("--repeat", String(o.repeat));
  if (o.noMutual) args.push("--no-mutual");
  if (o.cbtCorrupt) args.push("--cbt-corrupt");
  if (o.tamper) args.push("--tamper");
  return await runJson(args, o.env);
}

export interface PywinrmResult {
  results: ({ items: GssClientItem[] } | { error: string; message: string })[];
}

/** pywinrm + requests-kerberos (tests/peers/pywinrm_kerberos.py) with the ticket cache in env. */
export async function runPywinrmKerberos(
  url: string,
  o: { env: Record<string, string>; hostnameOverride?: string; query?: string; repeat?: number },
): Promise<PywinrmResult> {
  const args = [`${PEERS}pywinrm_kerberos.py`, url];
  if (o.hostnameOverride) args.push("--hostname-override", o.hostnameOverride);
  if (o.query) args.push("--query", o.query);
  if (o.repeat) args.push("--repeat", String(o.repeat));
  return await runJson(args, o.env);
}

/** A self-signed certificate and key written as PEM files in dir. */
export async function tlsCertificate(dir: string): Promise<{ certPath: string; keyPath: string }> {
  const pems = await selfSignedServerCertificate("win-01.nmslite.test", 30);
  const certPath = `${dir}/acceptor-cert.pem`;
  const keyPath = `${dir}/acceptor-key.pem`;
  await Deno.writeTextFile(certPath, pems.cert);
  await Deno.writeTextFile(keyPath, pems.private, { mode: 0o600 });
  return { certPath, keyPath };
}

function pyEnv(env: Record<string, string>): Record<string, string> {
  return {
    PATH: "/usr/bin:/bin",
    HOME: Deno.env.get("HOME") ?? "/tmp",
    // requests would honour proxies and CA bundles from the environment (pywinrm 0.3 ignores
    // server_cert_validation='ignore' when REQUESTS_CA_BUNDLE is set).
    NO_PROXY: "*",
    no_proxy: "*",
    ...env,
  };
}

// deno-lint-ignore no-explicit-any
async function runJson(args: string[], env: Record<string, string>): Promise<any> {
  const out = await new Deno.Command(PYTHON, {
    args,
    env: pyEnv(env),
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(
      `${args[0].split("/").pop()} printed no JSON (exit ${out.code}): ${
        new TextDecoder().decode(out.stderr).slice(-800)
      }`,
    );
  }
}

/** Hex strings throughout; see tests/peers/gss_wrap_vectors.py. */
export interface GssVectors {
  mech: "krb5" | "spnego";
  initiator: string;
  target: string;
  /** The initial context token (raw krb5 or SPNEGO) and the acceptor's answer. */
  ap_req: string;
  ap_rep: string;
  /** The context key both sides wrap with (MIT's acceptor subkey) and its enctype number. */
  context_key: string;
  context_enctype: number;
  /** gss_wrap_iov(header, data, padding) as MS-WSMV frames it: header and sealed data. */
  initiator_to_acceptor: { plaintext: string; header: string; sealed: string }[];
  acceptor_to_initiator: { plaintext: string; header: string; sealed: string }[];
  /** Plain gss_wrap tokens (RFC 4121 layout, no rotation) for comparison. */
  gss_wrap_initiator: { plaintext: string; token: string }[];
  gss_wrap_acceptor: { plaintext: string; token: string }[];
}

/**
 * One exchange made entirely by MIT in one process (initiator from the ccache in env, acceptor
 * from the keytab): known-answer vectors for a TypeScript AP-REQ/AP-REP and RFC 4121 wrap.
 */
export async function recordGssVectors(o: {
  spn: string;
  keytab: string;
  env: Record<string, string>;
  mech?: "krb5" | "spnego";
  plaintexts?: string[];
}): Promise<GssVectors> {
  const args = [`${PEERS}gss_wrap_vectors.py`, "--spn", o.spn, "--keytab", o.keytab];
  if (o.mech) args.push("--mech", o.mech);
  for (const p of o.plaintexts ?? []) args.push("--plaintext", p);
  return await runJson(args, o.env);
}
