#!/usr/bin/python3
"""pywinrm (python3-winrm) with requests-kerberos runs a WQL query over Kerberos.

Usage: pywinrm_kerberos.py URL [--hostname-override HOST] [--query WQL] [--repeat N]
Env: KRB5_CONFIG, KRB5CCNAME (ticket cache from kinit: pykerberos takes no password).
Prints {"results": [{"items": [...]} | {"error": Class, "message": str}]}.

Debian's pykerberos 1.1.14 has neither authGSSWinRMEncryptMessage nor channelBindings, so
pywinrm here sends plaintext SOAP (fine over HTTPS, refused over HTTP by a Windows-like server)
and no channel bindings; it does send a preemptive raw-krb5 `Negotiate` token and requires the
server's mutual-auth token on the 200.
"""
import argparse
import json
import uuid
import xml.etree.ElementTree as ET

import xmltodict
from winrm.protocol import Protocol

WQL = "http://schemas.microsoft.com/wbem/wsman/1/WQL"
WMI = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/cimv2/*"
ENUMERATE = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate"
PULL = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Pull"


def local(tag):
    return tag.rsplit("}", 1)[-1]


def send(p, action, body):
    mid = uuid.uuid4()
    env = {"env:Envelope": p._get_soap_header(action=action, resource_uri=WMI, message_id=mid)}
    env["env:Envelope"]["env:Body"] = body
    root = ET.fromstring(p.send_message(xmltodict.unparse(env)))
    rel = next((e.text for e in root.iter() if local(e.tag) == "RelatesTo"), None)
    if rel != "uuid:%s" % mid:
        raise AssertionError("RelatesTo %r does not match MessageID" % rel)
    return root


def wql(p, query):
    root = send(p, ENUMERATE, {"n:Enumerate": {"w:OptimizeEnumeration": None, "w:MaxElements": "32000",
                                               "w:Filter": {"@Dialect": WQL, "#text": query}}})
    items = []
    while True:
        for c in root.iter():
            if local(c.tag) == "Items":
                items.extend({"element": local(el.tag), "props": {local(x.tag): x.text or "" for x in el}}
                             for el in c)
        if any(local(e.tag) == "EndOfSequence" for e in root.iter()):
            return {"items": items}
        ctx = next(e.text for e in root.iter() if local(e.tag) == "EnumerationContext")
        root = send(p, PULL, {"n:Pull": {"n:EnumerationContext": ctx, "n:MaxElements": "32000"}})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--hostname-override")
    ap.add_argument("--query", default="SELECT * FROM Win32_OperatingSystem")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    p = Protocol(endpoint=args.url, transport="kerberos", username=None, password=None,
                 server_cert_validation="ignore", kerberos_hostname_override=args.hostname_override,
                 read_timeout_sec=30, operation_timeout_sec=20)
    results = []
    for _ in range(args.repeat):
        try:
            results.append(wql(p, args.query))
        except Exception as ex:  # reported to the Deno side, which asserts on it
            results.append({"error": type(ex).__name__, "message": str(ex)})
    print(json.dumps({"results": results}))


if __name__ == "__main__":
    main()
