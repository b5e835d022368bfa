#!/usr/bin/python3
"""An independent WinRM endpoint that authenticates with MIT's GSSAPI (python3-gssapi), so the
tickets, AP-REQs, channel bindings and wrap tokens a client makes are checked by MIT's code.

Usage: gss_winrm_acceptor.py --keytab FILE [--port 0] [--cert PEM --key PEM] [--cbt accept]
         [--allow-unencrypted] [--spn HTTP/host@REALM] [--upstream URL --upstream-user U]
Env: KRB5_CONFIG (the test realm), KRB5RCACHEDIR (replay cache), UPSTREAM_PASSWORD.

* `Authorization: Negotiate <token>` (SPNEGO or raw krb5, also the `Kerberos` scheme) is accepted
  with gss_accept_sec_context; the 200 carries `WWW-Authenticate: Negotiate <AP-REP/negTokenResp>`
  for mutual authentication. As on Windows the context belongs to the TCP connection: later
  requests on it carry no Authorization header.
* MS-WSMV message encryption: `multipart/encrypted` with protocol
  `application/HTTP-Kerberos-session-encrypted` or `application/HTTP-SPNEGO-session-encrypted`;
  the octet-stream part is uint32 LE header length, the wrap-token header, then the sealed data
  (gss_unwrap_iov / gss_wrap_iov with header, data, padding). The answer uses the client's label.
* Over HTTPS, channel bindings `tls-server-end-point:` + hash of this server's certificate:
  --cbt off (none given to GSSAPI), accept (default, Windows' Relaxed: wrong bindings fail,
  missing ones pass), require (missing ones fail too: MIT's GSS_C_CHANNEL_BOUND_FLAG).
* Plaintext bodies over HTTP are refused (400) unless --allow-unencrypted, as AllowUnencrypted=false.
Every event is one JSON line on stdout; the first is {"event": "listening", "port": N, ...}.
"""
import argparse
import base64
import hashlib
import http.server
import json
import os
import re
import ssl
import struct
import sys
import threading

import gssapi
import gssapi.raw as graw
from gssapi.raw import IOV, IOVBufferType, ChannelBindings

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsman_fixed  # noqa: E402

OIDS = {
    "1.2.840.113554.1.2.2": "krb5",
    "1.2.840.48018.1.2.2": "ms-krb5",
    "1.3.6.1.5.5.2": "spnego",
    "1.3.6.1.4.1.311.2.2.10": "ntlm",
    "1.3.6.1.4.1.311.2.2.30": "negoex",
}
SESSION_KEY_OID = gssapi.OID.from_int_seq("1.2.840.113554.1.2.2.5.5")  # GSS_C_INQ_SSPI_SESSION_KEY
PROTOCOLS = (b"application/HTTP-Kerberos-session-encrypted", b"application/HTTP-SPNEGO-session-encrypted")

_lock = threading.Lock()


def emit(**event):
    with _lock:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()


# --- DER, just enough to name what the client offered -------------------------------------

def der(buf, pos):
    """(tag, value_start, value_end) of the element at pos."""
    tag = buf[pos]
    length = buf[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(buf[pos:pos + n], "big")
        pos += n
    return tag, pos, pos + length


def oid_str(raw):
    arcs = [raw[0] // 40, raw[0] % 40]
    value = 0
    for b in raw[1:]:
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(value)
            value = 0
    return ".".join(map(str, arcs))


def describe_token(tok):
    """What kind of initial token this is, and for SPNEGO the offered mechs."""
    out = {}
    try:
        tag, s, _ = der(tok, 0)
        if tag != 0x60:
            return {"token": "not-an-initial-token"}
        t, os_, oe = der(tok, s)
        outer = oid_str(tok[os_:oe])
        out["token_oid"] = OIDS.get(outer, outer)
        if outer == "1.3.6.1.5.5.2":  # NegTokenInit: [0] SEQUENCE { [0] mechTypes, [1]?, [2] mechToken }
            _, s0, _ = der(tok, oe)  # [0]
            _, sq, eq = der(tok, s0)  # SEQUENCE
            p = sq
            while p < eq:
                ctag, cs, ce = der(tok, p)
                if ctag == 0xA0:
                    _, ms, me = der(tok, cs)
                    mechs, q = [], ms
                    while q < me:
                        _, vs, ve = der(tok, q)
                        o = oid_str(tok[vs:ve])
                        mechs.append(OIDS.get(o, o))
                        q = ve
                    out["mech_types"] = mechs
                elif ctag == 0xA2:
                    _, vs, ve = der(tok, cs)
                    inner = describe_token(tok[vs:ve])
                    out["mech_token_oid"] = inner.get("token_oid")
                elif ctag == 0xA3:
                    out["mech_list_mic"] = True
                p = ce
    except (IndexError, ValueError):
        out["token"] = "unparsable"
    return out


# --- certificate hash for tls-server-end-point (RFC 5929) ---------------------------------

def cert_hash(cert_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    with open(cert_path, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    algo = cert.signature_hash_algorithm
    if algo is None or isinstance(algo, (hashes.MD5, hashes.SHA1)):
        algo = hashes.SHA256()
    h = hashes.Hash(algo)
    h.update(cert.public_bytes(serialization.Encoding.DER))
    return algo.name, h.finalize()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""

    def setup(self):
        super().setup()
        self.ctx = None
        self.who = None
        self.scheme = "Negotiate"

    def log_message(self, *args):  # http.server's access log would go to stderr; we emit JSON
        pass

    def send(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def deny(self, reason, **extra):
        emit(event="auth_failed", reason=reason, **extra)
        self.ctx = None
        self.send(401, headers=[("WWW-Authenticate", "Negotiate")])

    def do_POST(self):
        try:
            self.handle_post()
        except Exception as err:  # a bug in this peer must show in the test, not as a hangup
            import traceback
            emit(event="peer_error", error="%s: %s" % (type(err).__name__, err), trace=traceback.format_exc())
            self.send(500)

    def handle_post(self):
        opts = self.server.opts
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        auth = self.headers.get("Authorization")
        reply_headers = []
        if auth:
            m = re.match(r"(?i)^(Negotiate|Kerberos)\s+(\S+)$", auth.strip())
            if not m:
                return self.deny("unsupported Authorization scheme", header=auth.split(" ")[0])
            self.scheme = m.group(1)
            token = base64.b64decode(m.group(2))
            info = describe_token(token)
            if self.ctx is None or self.ctx.complete:
                self.ctx = gssapi.SecurityContext(
                    creds=self.server.creds, usage="accept",
                    channel_bindings=self.server.bindings if opts.cbt != "off" else None)
            try:
                out = self.ctx.step(token)
                # With SPNEGO, python-gssapi returns the reject token and raises on next use.
                complete = self.ctx.complete
            except gssapi.exceptions.GSSError as err:
                return self.deny("gss_accept_sec_context failed", error=str(err).split("\n")[0],
                                 major=getattr(err, "maj_code", None), **info)
            if out:
                reply_headers.append(("WWW-Authenticate", "%s %s" % (self.scheme, base64.b64encode(out).decode())))
            if not complete:
                emit(event="auth_continue", **info)
                return self.send(401, headers=reply_headers)
            flags = sorted(f.name for f in self.ctx.actual_flags)
            bound = "channel_bound" in flags
            if opts.cbt == "require" and self.server.bindings is not None and not bound:
                return self.deny("channel bindings required but the client sent none", **info)
            self.who = str(self.ctx.initiator_name)
            enctype, key_len = None, None
            try:
                key, etype_oid = graw.inquire_sec_context_by_oid(self.ctx, SESSION_KEY_OID)
                # The second buffer is the DER value of OID 1.2.840.113554.1.2.2.4.<enctype>.
                enctype = int(oid_str(bytes(etype_oid)).split(".")[-1])
                key_len = len(key)
            except (gssapi.exceptions.GSSError, ValueError, TypeError):
                pass
            emit(event="authenticated", scheme=self.scheme, initiator=self.who,
                 target=str(self.ctx.target_name), mech=OIDS.get(self.ctx.mech.dotted_form, self.ctx.mech.dotted_form),
                 flags=flags, channel_bound=bound, tls=self.server.tls, mutual_token=bool(out),
                 session_enctype=enctype, session_key_len=key_len, **info)
        if self.ctx is None or not self.ctx.complete:
            emit(event="challenge", path=self.path)
            return self.send(401, headers=[("WWW-Authenticate", "Negotiate")])

        ctype = self.headers.get("Content-Type") or ""
        protocol = None
        if ctype.lower().startswith("multipart/encrypted"):
            pm = re.search(r'protocol="([^"]+)"', ctype)
            bm = re.search(r'boundary="([^"]+)"', ctype)
            protocol = pm.group(1).encode() if pm else b""
            if protocol not in PROTOCOLS or not bm:
                emit(event="bad_encrypted_request", content_type=ctype)
                return self.send(400)
            try:
                plain, header_len = self.decrypt(body, bm.group(1).encode(), protocol)
            except Exception as err:  # any failure here is what the test wants to see
                emit(event="unwrap_failed", protocol=protocol.decode(), error=str(err).split("\n")[0])
                return self.send(400)
            emit(event="decrypted", protocol=protocol.decode(), length=len(plain), header_len=header_len)
        else:
            plain = body
            if plain and not self.server.tls and not opts.allow_unencrypted:
                emit(event="rejected_unencrypted", content_type=ctype)
                return self.send(400, headers=reply_headers)
        if not plain:  # pywinrm's empty POST that only sets up the context
            emit(event="request", action=None, encrypted=False, user=self.who)
            return self.send(200, headers=reply_headers)

        text = plain.decode("utf-8")
        if opts.upstream:
            status, xml, action = wsman_fixed.upstream_reply(
                opts.upstream, opts.upstream_user, os.environ.get("UPSTREAM_PASSWORD", ""), text)
        else:
            status, xml, action = wsman_fixed.fixed_reply(text)
        emit(event="request", action=action, encrypted=protocol is not None, status=status, user=self.who)
        out = xml.encode("utf-8")
        if protocol is not None:
            out = self.encrypt(out, protocol)
            ctype_out = 'multipart/encrypted;protocol="%s";boundary="Encrypted Boundary"' % protocol.decode()
        else:
            ctype_out = "application/soap+xml;charset=UTF-8"
        self.send(status, out, reply_headers + [("Content-Type", ctype_out)])

    def decrypt(self, body, boundary, protocol):
        delim = b"--" + boundary
        m = re.search(re.escape(delim) + rb"\r\n\s*Content-Type:\s*([^\r\n]+)\r\n\s*OriginalContent:\s*([^\r\n]+)\r\n"
                      + re.escape(delim) + rb"\r\n\s*Content-Type:\s*application/octet-stream\r\n", body)
        if not m:
            raise ValueError("MIME framing not recognised")
        if m.group(1).strip() != protocol:
            raise ValueError("part label %r differs from protocol" % m.group(1))
        length = int(re.search(rb"Length=(\d+)", m.group(2)).group(1))
        end = body.rfind(delim + b"--")
        payload = body[m.end():end if end >= 0 else len(body)]
        (header_len,) = struct.unpack("<I", payload[:4])
        header = payload[4:4 + header_len]
        data = payload[4 + header_len:]
        iov = IOV((IOVBufferType.header, False, header), (IOVBufferType.data, False, data),
                  (IOVBufferType.data, False, b""), std_layout=False)
        graw.unwrap_iov(self.ctx, iov)
        plain = iov[1].value or b""
        if len(plain) != length:
            raise ValueError("decrypted %d bytes but OriginalContent Length=%d" % (len(plain), length))
        return plain, header_len

    def encrypt(self, plain, protocol):
        iov = IOV(IOVBufferType.header, plain, IOVBufferType.padding, std_layout=False)
        graw.wrap_iov(self.ctx, iov, confidential=True)
        header = iov[0].value
        sealed = iov[1].value + (iov[2].value or b"")
        return (b"--Encrypted Boundary\r\n\tContent-Type: " + protocol + b"\r\n"
                b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=" + str(len(plain)).encode()
                + b"\r\n--Encrypted Boundary\r\n\tContent-Type: application/octet-stream\r\n"
                + struct.pack("<I", len(header)) + header + sealed + b"--Encrypted Boundary--\r\n")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--keytab", required=True)
    ap.add_argument("--spn", help="accept only this service principal (default: any in the keytab)")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--cbt", choices=["off", "accept", "require"], default="accept")
    ap.add_argument("--allow-unencrypted", action="store_true")
    ap.add_argument("--upstream", help="forward plaintext SOAP to this Basic-auth WinRM URL")
    ap.add_argument("--upstream-user", default="Administrator")
    opts = ap.parse_args()

    name = gssapi.Name(opts.spn, gssapi.NameType.kerberos_principal) if opts.spn else None
    server = Server(("127.0.0.1", opts.port), Handler)
    server.opts = opts
    server.creds = gssapi.Credentials(name=name, usage="accept", store={"keytab": opts.keytab})
    server.tls = bool(opts.cert)
    server.bindings = None
    hash_info = {}
    if opts.cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(opts.cert, opts.key)
        server.socket = tls.wrap_socket(server.socket, server_side=True)
        algo, digest = cert_hash(opts.cert)
        server.bindings = ChannelBindings(application_data=b"tls-server-end-point:" + digest)
        hash_info = {"cert_hash_algorithm": algo, "cert_hash": digest.hex()}
    emit(event="listening", port=server.server_address[1], tls=server.tls, cbt=opts.cbt, **hash_info)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
