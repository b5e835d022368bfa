"""pywinrm side of bench/winrm.ts: the collector's WQL queries, polled repeatedly.

Usage: pywinrm_poll.py '<json spec>'  (password in env BENCH_PASSWORD, never on argv)
spec = {"endpoint": url, "transport": "basic"|"ntlm"|"kerberos", "username": str,
        "queries": [str], "seconds": float, "hostname_override": str (kerberos)}
Prints {"polls": n, "cpu_s": process CPU seconds, "wall_s": seconds, "items": last poll's count}.
pywinrm has no WQL API, so the envelope is built with Protocol._get_soap_header and sent with
Protocol.send_message (authentication, encryption and transport stay pywinrm's own); the
responses are parsed with ElementTree so both sides do comparable work.
"""
import json
import os
import sys
import time
import uuid
import xml.etree.ElementTree as ET

import xmltodict
from winrm.protocol import Protocol

WQL = "http://schemas.microsoft.com/wbem/wsman/1/WQL"
RESOURCE = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/cimv2/*"
ENUMERATE = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate"
PULL = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Pull"


def local(tag):
    return tag.rsplit("}", 1)[-1]


def send(p, action, body):
    env = {"env:Envelope": p._get_soap_header(action=action, resource_uri=RESOURCE,
                                              message_id=uuid.uuid4())}
    env["env:Envelope"]["env:Body"] = body
    return ET.fromstring(p.send_message(xmltodict.unparse(env)))


def wql(p, query):
    root = send(p, ENUMERATE, {"n:Enumerate": {
        "w:OptimizeEnumeration": None, "w:MaxElements": "32000",
        "w:Filter": {"@Dialect": WQL, "#text": query}}})
    items = []
    while True:
        ctx, end = None, False
        for el in root.iter():
            name = local(el.tag)
            if name == "Items":
                items.extend({local(c.tag): c.text for c in inst} for inst in el)
            elif name == "EndOfSequence":
                end = True
            elif name == "EnumerationContext":
                ctx = el.text
        if end or not ctx:
            return items
        root = send(p, PULL, {"n:Pull": {"n:EnumerationContext": ctx, "n:MaxElements": "32000"}})


def main():
    spec = json.loads(sys.argv[1])
    extra = {}
    if spec["transport"] == "kerberos":  # the ticket cache comes from KRB5CCNAME (kinit)
        extra = {"kerberos_hostname_override": spec.get("hostname_override")}
    p = Protocol(endpoint=spec["endpoint"], transport=spec["transport"],
                 username=spec["username"], password=os.environ["BENCH_PASSWORD"],
                 server_cert_validation="ignore", read_timeout_sec=30, operation_timeout_sec=20,
                 **extra)
    for q in spec["queries"]:  # warm up: connection and NTLM handshake
        wql(p, q)
    polls, items = 0, 0
    cpu0, wall0 = time.process_time(), time.monotonic()
    while time.monotonic() - wall0 < spec["seconds"]:
        items = sum(len(wql(p, q)) for q in spec["queries"])
        polls += 1
    print(json.dumps({"polls": polls, "cpu_s": time.process_time() - cpu0,
                      "wall_s": time.monotonic() - wall0, "items": items}))


if __name__ == "__main__":
    main()
