/** Helpers for the simulator's own tests: a raw HTTP/1.1 client, request envelopes, a sim. */
import { startWinsim, type Winsim, type WinsimOptions } from "../../winsim/mod.ts";

export const PASSWORD = "Secret!1";
export const BASIC = { Authorization: "Basic " + btoa(`Administrator:${PASSWORD}`) };
export const SOAP = { ...BASIC, "Content-Type": "application/soap+xml;charset=UTF-8" };

export const header = (r: { headers: Array<[string, string]> }, name: string): string[] =>
  r.headers.filter(([k]) => k === name).map(([, v]) => v);

/** Three WinRM hosts on 127.0.50.x and one TCP-only host, on free ports, closed afterwards. */
export async function withSim(
  fn: (sim: Winsim) => Promise<void>,
  opts: Partial<WinsimOptions> = {},
): Promise<void> {
  const sim = await startWinsim({
    hosts: 3,
    base: "127.0.50.1",
    password: PASSWORD,
    httpPort: 0,
    httpsPort: null,
    tcpOnly: ["127.0.51.1"],
    rpcPort: 0,
    ...opts,
  });
  try {
    await fn(sim);
  } finally {
    await sim.close();
  }
}

export interface RawResponse {
  status: number;
  /** header lines as sent, names lower-cased, repeats kept */
  headers: Array<[string, string]>;
  body: Uint8Array;
  text: string;
}

export class RawClient {
  #buf = new Uint8Array(0);
  private constructor(readonly conn: Deno.Conn) {}

  static async connect(hostname: string, port: number): Promise<RawClient> {
    return new RawClient(await Deno.connect({ hostname, port }));
  }

  /** Over an already open connection (e.g. Deno.connectTls). */
  static wrap(conn: Deno.Conn): RawClient {
    return new RawClient(conn);
  }

  async request(
    method: string,
    headers: Record<string, string>,
    body: Uint8Array | string = "",
  ): Promise<RawResponse> {
    const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
    let head = `${method} /wsman HTTP/1.1\r\nHost: winsim\r\nContent-Length: ${bytes.length}\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    const h = new TextEncoder().encode(head + "\r\n");
    const msg = new Uint8Array(h.length + bytes.length);
    msg.set(h);
    msg.set(bytes, h.length);
    await this.conn.write(msg);
    return await this.read();
  }

  async read(): Promise<RawResponse> {
    let end: number;
    while ((end = find(this.#buf, "\r\n\r\n")) < 0) await this.#fill();
    const lines = new TextDecoder().decode(this.#buf.subarray(0, end)).split("\r\n");
    this.#buf = this.#buf.subarray(end + 4);
    const headers = lines.slice(1).map((l): [string, string] => {
      const i = l.indexOf(":");
      return [l.slice(0, i).toLowerCase(), l.slice(i + 1).trim()];
    });
    const length = Number(headers.find(([k]) => k === "content-length")?.[1] ?? "0");
    while (this.#buf.length < length) await this.#fill();
    const body = this.#buf.slice(0, length);
    this.#buf = this.#buf.subarray(length);
    return {
      status: Number(lines[0].split(" ")[1]),
      headers,
      body,
      text: new TextDecoder().decode(body),
    };
  }

  /** Resolves to null when the server closed the connection (EOF or reset). */
  async eof(): Promise<null> {
    try {
      while (await this.conn.read(new Uint8Array(1024)) !== null);
    } catch { /* reset */ }
    return null;
  }

  close(): void {
    try {
      this.conn.close();
    } catch { /* closed */ }
  }

  async #fill(): Promise<void> {
    const chunk = new Uint8Array(16384);
    const n = await this.conn.read(chunk);
    if (n === null) throw new Error("connection closed");
    const next = new Uint8Array(this.#buf.length + n);
    next.set(this.#buf);
    next.set(chunk.subarray(0, n), this.#buf.length);
    this.#buf = next;
  }
}

function find(buf: Uint8Array, s: string): number {
  const pat = new TextEncoder().encode(s);
  outer: for (let i = 0; i <= buf.length - pat.length; i++) {
    for (let j = 0; j < pat.length; j++) if (buf[i + j] !== pat[j]) continue outer;
    return i;
  }
  return -1;
}

const WQL = "http://schemas.microsoft.com/wbem/wsman/1/WQL";
const ENUMERATION = "http://schemas.xmlsoap.org/ws/2004/09/enumeration";

/** A request envelope like pywinrm's (REFERENCE §1), minus the parts the simulator ignores. */
export function soap(
  action: string,
  body: string,
  opts: { resourceUri?: string; messageId?: string; selectors?: Record<string, string> } = {},
): string {
  const sel = opts.selectors
    ? "<w:SelectorSet>" + Object.entries(opts.selectors).map(([k, v]) =>
      `<w:Selector Name="${k}">${v}</w:Selector>`
    ).join("") + "</w:SelectorSet>"
    : "";
  return `<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" ` +
    `xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" ` +
    `xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns:n="${ENUMERATION}"><env:Header>` +
    `<a:To>http://windows-host:5985/wsman</a:To>` +
    `<a:MessageID>${opts.messageId ?? "uuid:" + crypto.randomUUID()}</a:MessageID>` +
    `<w:ResourceURI mustUnderstand="true">${
      opts.resourceUri ?? "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/cimv2/*"
    }</w:ResourceURI><a:Action mustUnderstand="true">${action}</a:Action>${sel}</env:Header>` +
    `<env:Body>${body}</env:Body></env:Envelope>`;
}

export function enumerate(query: string, maxElements?: number, optimize = true): string {
  return soap(
    `${ENUMERATION}/Enumerate`,
    `<n:Enumerate>${optimize ? "<w:OptimizeEnumeration/>" : ""}` +
      (maxElements ? `<w:MaxElements>${maxElements}</w:MaxElements>` : "") +
      `<w:Filter Dialect="${WQL}">${query}</w:Filter></n:Enumerate>`,
  );
}

export function pull(context: string, maxElements = 1): string {
  return soap(
    `${ENUMERATION}/Pull`,
    `<n:Pull><n:EnumerationContext>${context}</n:EnumerationContext>` +
      `<n:MaxElements>${maxElements}</n:MaxElements></n:Pull>`,
  );
}

export function release(context: string): string {
  return soap(
    `${ENUMERATION}/Release`,
    `<n:Release><n:EnumerationContext>${context}</n:EnumerationContext></n:Release>`,
  );
}
