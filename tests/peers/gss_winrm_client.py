#!/usr/bin/python3
"""An independent WinRM Kerberos client on MIT's GSSAPI (python3-gssapi): the initiator the
simulator's acceptor is judged against, including the parts pykerberos cannot do (message
encryption, channel bindings).

Usage: gss_winrm_client.py URL --spn HTTP/host [--encrypt] [--cbt] [--mech spnego|krb5]
         [--label kerberos|spnego] [--op identify|wql] [--query WQL] [--repeat N] [--no-mutual]
         [--cbt-corrupt] [--tamper]
Env: KRB5_CONFIG, KRB5CCNAME (a ticket cache from kinit).

One TCP connection: the first request carries `Authorization: Negotiate <token>` (with --encrypt
an empty POST, as pywinrm does, since nothing can be sealed before the AP-REP), the 200's
`WWW-Authenticate: Negotiate <token>` completes the context and proves the server (mutual auth);
later requests carry no Authorization header. --encrypt seals each SOAP body with gss_wrap_iov
(header, data, padding) in the MS-WSMV multipart framing and unseals the answer. --cbt over
HTTPS binds the context to `tls-server-end-point:` + the hash of the server's certificate.
Prints one JSON object: {"auth": {...}, "responses": [{"status", "encrypted", "action",
"items" | "identify" | "fault"}], "error"?}.
"""
import argparse
import base64
import http.client
import json
import re
import ssl
import struct
import sys
import urllib.parse
import uuid
import xml.etree.ElementTree as ET

import gssapi
import gssapi.raw as graw
from gssapi.raw import IOV, IOVBufferType, ChannelBindings

KRB5 = gssapi.OID.from_int_seq("1.2.840.113554.1.2.2")
SPNEGO = gssapi.OID.from_int_seq("1.3.6.1.5.5.2")
LABELS = {"kerberos": b"application/HTTP-Kerberos-session-encrypted",
          "spnego": b"application/HTTP-SPNEGO-session-encrypted"}
WQL = "http://schemas.microsoft.com/wbem/wsman/1/WQL"
WMI = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/cimv2/*"
ENUMERATE = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate"
PULL = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Pull"


def local(tag):
    return tag.rsplit("}", 1)[-1]


def soap(url, action, resource, body):
    mid = "uuid:%s" % str(uuid.uuid4()).upper()
    return mid, (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:n="http://schemas.xmlsoap.org/ws/2004/09/enumeration" '
        'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd">'
        "<s:Header><a:To>%s</a:To><w:ResourceURI s:mustUnderstand=\"true\">%s</w:ResourceURI>"
        "<a:ReplyTo><a:Address s:mustUnderstand=\"true\">"
        "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo>"
        "<a:Action s:mustUnderstand=\"true\">%s</a:Action>"
        "<w:MaxEnvelopeSize s:mustUnderstand=\"true\">512000</w:MaxEnvelopeSize>"
        "<a:MessageID>%s</a:MessageID><w:OperationTimeout>PT20S</w:OperationTimeout>"
        "</s:Header><s:Body>%s</s:Body></s:Envelope>" % (url, resource, action, mid, body))


IDENTIFY = ('<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
            'xmlns:wsmid="http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd">'
            "<s:Header/><s:Body><wsmid:Identify/></s:Body></s:Envelope>")


def instance(el):
    props = {}
    for child in el:
        props[local(child.tag)] = child.text or ""
    return {"element": local(el.tag), "props": props}


def summarize(xml):
    if not xml.strip():
        return {}
    root = ET.fromstring(xml)
    out = {}
    fault = next((e for e in root.iter() if local(e.tag) == "WSManFault"), None)
    if fault is not None:
        out["fault"] = {"code": fault.get("Code"), "message": "".join(fault.itertext()).strip()}
        return out
    ident = next((e for e in root.iter() if local(e.tag) == "IdentifyResponse"), None)
    if ident is not None:
        out["identify"] = {local(c.tag): "".join(c.itertext()).strip() for c in ident}
        return out
    action = next((e.text for e in root.iter() if local(e.tag) == "Action"), None)
    out["action"] = action
    out["relates_to"] = next((e.text for e in root.iter() if local(e.tag) == "RelatesTo"), None)
    items = []
    for container in root.iter():
        if local(container.tag) == "Items":
            items.extend(instance(el) for el in container)
    out["items"] = items
    out["end"] = any(local(e.tag) == "EndOfSequence" for e in root.iter())
    out["context"] = next((e.text for e in root.iter() if local(e.tag) == "EnumerationContext"), None)
    return out


class Client:
    def __init__(self, args):
        self.args = args
        u = urllib.parse.urlsplit(args.url)
        self.https = u.scheme == "https"
        self.path = u.path or "/wsman"
        if self.https:
            tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            tls.check_hostname = False
            tls.verify_mode = ssl.CERT_NONE
            self.conn = http.client.HTTPSConnection(u.hostname, u.port or 5986, context=tls, timeout=30)
        else:
            self.conn = http.client.HTTPConnection(u.hostname, u.port or 5985, timeout=30)
        self.conn.connect()
        bindings = None
        if args.cbt:
            if not self.https:
                raise SystemExit("--cbt needs an https URL")
            digest = self.cert_hash()
            if args.cbt_corrupt:  # bindings for some other certificate: a man in the middle's view
                digest = digest[:-1] + bytes([digest[-1] ^ 1])
            bindings = ChannelBindings(application_data=b"tls-server-end-point:" + digest)
        flags = [gssapi.RequirementFlag.replay_detection, gssapi.RequirementFlag.out_of_sequence_detection,
                 gssapi.RequirementFlag.confidentiality, gssapi.RequirementFlag.integrity]
        if not args.no_mutual:
            flags.append(gssapi.RequirementFlag.mutual_authentication)
        self.ctx = gssapi.SecurityContext(
            name=gssapi.Name(args.spn, gssapi.NameType.kerberos_principal),
            mech=SPNEGO if args.mech == "spnego" else KRB5,
            flags=flags, usage="initiate", channel_bindings=bindings)
        self.label = LABELS[args.label or ("spnego" if args.mech == "spnego" else "kerberos")]
        self.auth = {}

    def cert_hash(self):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        der = self.conn.sock.getpeercert(binary_form=True)
        cert = x509.load_der_x509_certificate(der)
        algo = cert.signature_hash_algorithm
        if algo is None or isinstance(algo, (hashes.MD5, hashes.SHA1)):
            algo = hashes.SHA256()
        h = hashes.Hash(algo)
        h.update(der)
        return h.finalize()

    def post(self, body, headers):
        self.conn.request("POST", self.path, body=body, headers=headers)
        resp = self.conn.getresponse()
        return resp, resp.read()

    def authenticate(self, body, headers):
        token = self.ctx.step()
        headers = dict(headers, Authorization="Negotiate " + base64.b64encode(token).decode())
        resp, data = self.post(body, headers)
        www = resp.getheader("WWW-Authenticate") or ""
        m = re.match(r"(?i)^(Negotiate|Kerberos)\s+(\S+)", www)
        if resp.status != 200:
            raise RuntimeError("authentication refused: HTTP %d %s" % (resp.status, www))
        if m:
            self.ctx.step(base64.b64decode(m.group(2)))
        if not self.ctx.complete:
            raise RuntimeError("server sent no token completing the context (mutual auth failed)")
        self.auth = {"complete": True, "mutual": gssapi.RequirementFlag.mutual_authentication in self.ctx.actual_flags,
                     "server_token": bool(m), "flags": sorted(f.name for f in self.ctx.actual_flags),
                     "mech": self.ctx.mech.dotted_form, "target": str(self.ctx.target_name)}
        return resp, data

    def seal(self, plain):
        iov = IOV(IOVBufferType.header, plain, IOVBufferType.padding, std_layout=False)
        graw.wrap_iov(self.ctx, iov, confidential=True)
        header = iov[0].value
        sealed = iov[1].value + (iov[2].value or b"")
        if self.args.tamper:  # one flipped ciphertext bit: the acceptor's unwrap must refuse it
            sealed = sealed[:-1] + bytes([sealed[-1] ^ 1])
        return (b"--Encrypted Boundary\r\n\tContent-Type: " + self.label + b"\r\n"
                b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=" + str(len(plain)).encode()
                + b"\r\n--Encrypted Boundary\r\n\tContent-Type: application/octet-stream\r\n"
                + struct.pack("<I", len(header)) + header + sealed + b"--Encrypted Boundary--\r\n")

    def unseal(self, body, ctype):
        if ('protocol="%s"' % self.label.decode()) not in ctype:
            raise RuntimeError("answer is not sealed with %s: %s" % (self.label.decode(), ctype))
        m = re.search(rb"Length=(\d+)\r\n--Encrypted Boundary\r\n\s*Content-Type: application/octet-stream\r\n", body)
        if not m:
            raise RuntimeError("answer's MIME framing not recognised")
        length = int(m.group(1))
        payload = body[m.end():body.rfind(b"--Encrypted Boundary--")]
        (hlen,) = struct.unpack("<I", payload[:4])
        iov = IOV((IOVBufferType.header, False, payload[4:4 + hlen]), (IOVBufferType.data, False, payload[4 + hlen:]),
                  (IOVBufferType.data, False, b""), std_layout=False)
        graw.unwrap_iov(self.ctx, iov)
        plain = iov[1].value
        if len(plain) != length:
            raise RuntimeError("answer decrypted to %d bytes, Length=%d" % (len(plain), length))
        return plain

    def send(self, xml):
        plain = xml.encode("utf-8")
        soap_headers = {"Content-Type": "application/soap+xml;charset=UTF-8", "User-Agent": "gss_winrm_client"}
        if self.args.encrypt:
            if not self.ctx.complete:
                self.authenticate(b"", soap_headers)
            headers = {"Content-Type": 'multipart/encrypted;protocol="%s";boundary="Encrypted Boundary"'
                       % self.label.decode(), "User-Agent": "gss_winrm_client"}
            resp, data = self.post(self.seal(plain), headers)
            ctype = resp.getheader("Content-Type") or ""
            if resp.status in (200, 500) and ctype.startswith("multipart/encrypted"):
                return resp.status, True, self.unseal(data, ctype).decode("utf-8")
            return resp.status, False, data.decode("utf-8", "replace")
        if not self.ctx.complete:
            resp, data = self.authenticate(plain, soap_headers)
        else:
            resp, data = self.post(plain, soap_headers)
        return resp.status, False, data.decode("utf-8", "replace")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--spn", required=True, help="HTTP/host or HTTP/host@REALM")
    ap.add_argument("--encrypt", action="store_true")
    ap.add_argument("--cbt", action="store_true")
    ap.add_argument("--mech", choices=["spnego", "krb5"], default="spnego")
    ap.add_argument("--label", choices=["kerberos", "spnego"])
    ap.add_argument("--op", choices=["identify", "wql"], default="wql")
    ap.add_argument("--query", default="SELECT * FROM Win32_OperatingSystem")
    ap.add_argument("--repeat", type=int, default=1, help="requests on the one connection")
    ap.add_argument("--no-mutual", action="store_true")
    ap.add_argument("--cbt-corrupt", action="store_true", help="bind to a wrong certificate hash")
    ap.add_argument("--tamper", action="store_true", help="flip a bit of each sealed body")
    args = ap.parse_args()
    result = {"responses": []}
    try:
        c = Client(args)
        for _ in range(args.repeat):
            if args.op == "identify":
                status, enc, text = c.send(IDENTIFY)
                result["responses"].append(dict(status=status, encrypted=enc, **summarize(text)))
                continue
            body = ("<n:Enumerate><w:OptimizeEnumeration/><w:MaxElements>32000</w:MaxElements>"
                    "<w:Filter Dialect=\"%s\">%s</w:Filter></n:Enumerate>" % (WQL, args.query))
            mid, xml = soap(args.url, ENUMERATE, WMI, body)
            status, enc, text = c.send(xml)
            r = dict(status=status, encrypted=enc, **summarize(text))
            r["relates_ok"] = r.get("relates_to") == mid if "relates_to" in r else None
            while status == 200 and not r.get("end") and r.get("context"):
                mid, xml = soap(args.url, PULL, WMI, "<n:Pull><n:EnumerationContext>%s</n:EnumerationContext>"
                                "<n:MaxElements>32000</n:MaxElements></n:Pull>" % r["context"])
                status, enc, text = c.send(xml)
                more = summarize(text)
                r["items"] = r.get("items", []) + more.get("items", [])
                r["end"], r["context"], r["pulls"] = more.get("end"), more.get("context"), r.get("pulls", 0) + 1
            result["responses"].append(r)
        result["auth"] = c.auth
    except Exception as err:  # reported to the Deno side, which asserts on it
        result["error"] = "%s: %s" % (type(err).__name__, str(err).split("\n")[0])
    print(json.dumps(result))
    sys.exit(1 if "error" in result else 0)


if __name__ == "__main__":
    main()
