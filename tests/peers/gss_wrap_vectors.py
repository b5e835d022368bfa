#!/usr/bin/python3
"""Records one Kerberos GSSAPI exchange made entirely by MIT (initiator from a ticket cache,
acceptor from a keytab, in this one process) as known-answer vectors for a TypeScript
implementation: the AP-REQ and AP-REP tokens (decryptable with the service keys the KDC
helper exports), the context key, and MS-WSMV style wrap tokens (gss_wrap_iov with header,
data, padding) in both directions, plus plain gss_wrap tokens. Test-only: it prints keys.

Usage: gss_wrap_vectors.py --spn HTTP/host --keytab FILE [--mech krb5|spnego] [--plaintext TEXT]...
Env: KRB5_CONFIG, KRB5CCNAME, KRB5RCACHEDIR.
"""
import argparse
import json

import gssapi
import gssapi.raw as graw
from gssapi.raw import IOV, IOVBufferType

KRB5 = gssapi.OID.from_int_seq("1.2.840.113554.1.2.2")
SPNEGO = gssapi.OID.from_int_seq("1.3.6.1.5.5.2")
SESSION_KEY_OID = gssapi.OID.from_int_seq("1.2.840.113554.1.2.2.5.5")


def context_key(ctx):
    key, etype_oid = graw.inquire_sec_context_by_oid(ctx, SESSION_KEY_OID)
    return bytes(key), bytes(etype_oid)[-1]  # last arc of 1.2.840.113554.1.2.2.4.<enctype> (< 128)


def winrm_wrap(sender, receiver, plain):
    iov = IOV(IOVBufferType.header, plain, IOVBufferType.padding, std_layout=False)
    graw.wrap_iov(sender, iov, confidential=True)
    header, sealed = iov[0].value, iov[1].value + (iov[2].value or b"")
    back = IOV((IOVBufferType.header, False, header), (IOVBufferType.data, False, sealed),
               (IOVBufferType.data, False, b""), std_layout=False)
    graw.unwrap_iov(receiver, back)
    assert back[1].value == plain, "MIT could not unwrap its own token"
    return {"plaintext": plain.hex(), "header": header.hex(), "sealed": sealed.hex()}


def plain_wrap(sender, receiver, plain):
    token = sender.wrap(plain, True).message
    assert receiver.unwrap(token).message == plain
    return {"plaintext": plain.hex(), "token": token.hex()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spn", required=True)
    ap.add_argument("--keytab", required=True)
    ap.add_argument("--mech", choices=["krb5", "spnego"], default="krb5")
    ap.add_argument("--plaintext", action="append")
    args = ap.parse_args()
    texts = [t.encode() for t in (args.plaintext or ["<s:Envelope/>", "x" * 37])]
    mech = KRB5 if args.mech == "krb5" else SPNEGO
    flags = [gssapi.RequirementFlag.mutual_authentication, gssapi.RequirementFlag.replay_detection,
             gssapi.RequirementFlag.out_of_sequence_detection, gssapi.RequirementFlag.confidentiality,
             gssapi.RequirementFlag.integrity]
    ini = gssapi.SecurityContext(name=gssapi.Name(args.spn, gssapi.NameType.kerberos_principal),
                                 mech=mech, flags=flags, usage="initiate")
    acc = gssapi.SecurityContext(creds=gssapi.Credentials(usage="accept", store={"keytab": args.keytab}),
                                 usage="accept")
    ap_req = ini.step()
    ap_rep = acc.step(ap_req)
    ini.step(ap_rep)
    assert ini.complete and acc.complete
    ikey, ietype = context_key(ini)
    akey, aetype = context_key(acc)
    assert ikey == akey and ietype == aetype
    out = {
        "mech": args.mech,
        "initiator": str(acc.initiator_name),
        "target": str(ini.target_name),
        "ap_req": ap_req.hex(),
        "ap_rep": ap_rep.hex(),
        "context_key": ikey.hex(),
        "context_enctype": ietype,
        "initiator_to_acceptor": [winrm_wrap(ini, acc, t) for t in texts],
        "acceptor_to_initiator": [winrm_wrap(acc, ini, t) for t in texts],
        "gss_wrap_initiator": [plain_wrap(ini, acc, t) for t in texts],
        "gss_wrap_acceptor": [plain_wrap(acc, ini, t) for t in texts],
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
