/**
 * One DCE/RPC association over TCP (ncacn_ip_tcp) from the client side: bind and
 * alter_context, each presentation context with its own NTLM security context (the three legs
 * in bind or alter_context, bind_ack or alter_context_resp, auth3), then calls whose stubs are
 * fragmented, sealed and signed, and whose replies are reassembled and verified.
 */
import { concatBytes } from "../bytes.ts";
import { NtlmClient } from "../winrm/ntlm/client.ts";
import { type ConnectionBudget, connectionBudget } from "../winrm/budget.ts";
import {
  callError,
  WmiAuthenticationError,
  WmiError,
  type WmiPhase,
  WmiProtocolError,
  WmiReplyTooLargeError,
  WmiTimeoutError,
} from "./errors.ts";
import { guidString } from "./ndr.ts";
import {
  AUTH_TYPE_NTLM,
  decodeBindAck,
  DEFAULT_MAX_FRAG,
  encodeAuth3,
  encodeBind,
  encodeCall,
  faultStatus,
  openCall,
  type Pdu,
  PduReader,
  PTYPE,
} from "./pdu.ts";
import { RpcSecurity } from "./security.ts";

/**
 * The most a call's reply may reassemble to unless the client says otherwise. Each fragment is
 * verified under the session key before it is kept, so only a host that logged us on can send
 * more; a Next of 100 objects is a few hundred KB, an event log batch of 500 a few MB.
 */
export const DEFAULT_MAX_REPLY_BYTES = 16 * 1024 * 1024;

export interface Credentials {
  username: string;
  password: string;
  domain?: string | null;
}

interface Context {
  id: number;
  security: RpcSecurity;
  /** a reply has verified under this context: a fault now is not a logon failure */
  proven: boolean;
}

export class RpcChannel {
  #conn: Deno.Conn;
  #reader: PduReader;
  #callId = 1;
  #maxXmit = DEFAULT_MAX_FRAG;
  #contexts = new Map<string, Context>();
  #closed = false;
  /** bytes sent and received, for the benchmark */
  bytes = 0;

  private constructor(
    conn: Deno.Conn,
    readonly level: number,
    private readonly budget: ConnectionBudget,
    private readonly maxReplyBytes: number,
  ) {
    this.#conn = conn;
    this.#reader = new PduReader(conn);
  }

  /**
   * A connection on a slot of this isolate's descriptor budget (lib/winrm/budget.ts), shared
   * with WinRM: with every slot in use it waits for one, out of descriptors anyway the budget
   * makes room and the connect is tried again, all within `timeoutMs`.
   */
  static async connect(
    host: string,
    port: number,
    level: number,
    timeoutMs: number,
    maxReplyBytes = DEFAULT_MAX_REPLY_BYTES,
  ): Promise<RpcChannel> {
    const budget = connectionBudget();
    const within = AbortSignal.timeout(timeoutMs);
    let conn: Deno.TcpConn;
    try {
      conn = await budget.openOnSlot(() => {
        const pending = Deno.connect({ hostname: host, port });
        return deadline(pending, timeoutMs, "connect", () => {
          pending.then((c) => c.close(), () => {});
        });
      }, within);
    } catch (e) {
      // the time ran out waiting for a slot (or between tries), not on the host
      if (within.aborted && !(e instanceof WmiError)) {
        throw new WmiTimeoutError("budget", timeoutMs);
      }
      throw e;
    }
    try {
      conn.setNoDelay(true);
    } catch { /* not TCP */ }
    return new RpcChannel(conn, level, budget, maxReplyBytes);
  }

  get closed(): boolean {
    return this.#closed;
  }

  has(iface: Uint8Array): boolean {
    return this.#contexts.has(guidString(iface));
  }

  /** Binds (first) or alters context to `iface` with a fresh NTLM security context. */
  async bind(iface: Uint8Array, creds: Credentials, timeoutMs: number): Promise<void> {
    const key = guidString(iface);
    if (this.#contexts.has(key)) return;
    const id = this.#contexts.size;
    const authContextId = 79231 + id;
    const ntlm = new NtlmClient({
      username: creds.username,
      password: creds.password,
      domain: creds.domain ?? undefined,
    });
    const callId = this.#callId++;
    const type = id === 0 ? PTYPE.bind : PTYPE.alterContext;
    const auth = { level: this.level, contextId: authContextId, token: ntlm.negotiate() };
    await this.#send([encodeBind(type, callId, [{ id, iface }], auth)]);
    const ack = await deadline(this.#next(), timeoutMs, "bind", () => this.close());
    if (ack.type === PTYPE.bindNak) {
      throw new WmiProtocolError(`the server refused to bind interface ${key}`);
    }
    if (ack.type === PTYPE.fault) throw callError(`bind ${key}`, faultStatus(ack));
    if (ack.type !== PTYPE.bindAck && ack.type !== PTYPE.alterContextResp) {
      throw new WmiProtocolError(`unexpected PDU type ${ack.type} in reply to bind`);
    }
    const parsed = decodeBindAck(ack);
    if (parsed.results[0] !== 0) {
      throw new WmiProtocolError(`the server does not serve interface ${key}`);
    }
    if (id === 0) this.#maxXmit = Math.min(parsed.maxRecv || DEFAULT_MAX_FRAG, 65535);
    if (ack.authLength === 0 || ack.authType !== AUTH_TYPE_NTLM) {
      throw new WmiAuthenticationError("the server sent no NTLM challenge");
    }
    let type3: Uint8Array;
    try {
      type3 = ntlm.authenticate(ack.authValue.slice());
    } catch (e) {
      // a challenge the client cannot take (truncated, weak): the host's fault, typed as WMI's
      throw new WmiProtocolError(`the server's NTLM challenge: ${(e as Error).message}`);
    }
    await this.#send([encodeAuth3(callId, { ...auth, token: type3 })]);
    this.#contexts.set(key, {
      id,
      security: new RpcSecurity(ntlm.keys, false, this.level, authContextId),
      proven: false,
    });
  }

  /** One call; returns the reassembled, verified reply stub. */
  async call(
    iface: Uint8Array,
    opnum: number,
    stub: Uint8Array,
    object: Uint8Array | undefined,
    timeoutMs: number,
    phase: WmiPhase,
  ): Promise<Uint8Array> {
    const ctx = this.#contexts.get(guidString(iface));
    if (!ctx) throw new WmiProtocolError("call on an interface that is not bound");
    const callId = this.#callId++;
    await this.#send(encodeCall({
      type: PTYPE.request,
      callId,
      contextId: ctx.id,
      opnum,
      object,
      stub,
      maxFrag: this.#maxXmit,
      security: ctx.security,
    }));
    return await deadline(this.#reply(ctx, callId), timeoutMs, phase, () => this.close());
  }

  async #reply(ctx: Context, callId: number): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let size = 0;
    while (true) {
      const p = await this.#next();
      if (p.callId !== callId) {
        this.close();
        throw new WmiProtocolError("reply to another call");
      }
      if (p.type === PTYPE.fault) {
        const status = faultStatus(p);
        this.close();
        if (!ctx.proven && status === 5) {
          throw new WmiAuthenticationError(
            "NTLM logon failed (the server refused the credentials)",
          );
        }
        throw callError("RPC call", status);
      }
      if (p.type !== PTYPE.response) throw new WmiProtocolError(`unexpected PDU type ${p.type}`);
      let frag;
      try {
        frag = openCall(p, ctx.security);
      } catch (e) {
        this.close();
        throw e;
      }
      ctx.proven = true;
      if (parts.length === 0 && !frag.first) {
        this.close();
        throw new WmiProtocolError("reply starts mid-call");
      }
      size += frag.stub.length;
      if (size > this.maxReplyBytes) {
        // the rest is not read: the connection goes, and with it whatever the host still sends
        this.close();
        throw new WmiReplyTooLargeError(this.maxReplyBytes);
      }
      parts.push(frag.stub.slice());
      if (frag.last) break;
    }
    return parts.length === 1 ? parts[0] : concatBytes(...parts);
  }

  async #next(): Promise<Pdu> {
    let p: Pdu | null;
    try {
      p = await this.#reader.next();
    } catch (e) {
      this.close();
      if (e instanceof WmiError) throw e;
      throw new WmiProtocolError(`connection failed: ${(e as Error).message}`);
    }
    if (!p) {
      this.close();
      throw new WmiProtocolError("the server closed the connection");
    }
    this.bytes += p.bytes.length;
    return p;
  }

  async #send(pdus: Uint8Array[]): Promise<void> {
    if (this.#closed) throw new WmiProtocolError("connection is closed");
    try {
      for (const b of pdus) {
        this.bytes += b.length;
        let at = 0;
        while (at < b.length) at += await this.#conn.write(b.subarray(at));
      }
    } catch (e) {
      this.close();
      throw new WmiProtocolError(`connection failed: ${(e as Error).message}`);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch { /* closed */ }
    this.budget.unpark(this);
    this.budget.release();
  }
}

/** Rejects with WmiTimeoutError after `ms` (and runs onTimeout, e.g. closing the socket). */
export function deadline<T>(
  p: Promise<T>,
  ms: number,
  phase: WmiPhase,
  onTimeout?: () => void,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout?.();
      reject(new WmiTimeoutError(phase, ms));
    }, ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
