"""Drive pywinrm against the simulator and print one JSON object with what it parsed.

Usage: winrm_probe.py '<json spec>'  (password in env WINSIM_PY_PASSWORD, never on argv)
spec = {"endpoint": url, "transport": "basic"|"ntlm", "username": str,
        "ops": [{"op": "wql", "query": str, "max": int} | {"op": "cmd", "command": str}
               | {"op": "get", "class": str}]}
Output: {"results": [...]} in op order; an op that raised gives {"error": ClassName, "message": str}.
pywinrm has no WQL API, so the envelope is built with Protocol._get_soap_header and sent with
Protocol.send_message: authentication and encryption remain pywinrm's own.
"""
import json
import os
import sys
import uuid
import xml.etree.ElementTree as ET

import xmltodict
from winrm.protocol import Protocol

WQL = "http://schemas.microsoft.com/wbem/wsman/1/WQL"
WMI = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/cimv2/"
ENUMERATE = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate"
PULL = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Pull"
GET = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get"
XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"


def local(tag):
    return tag.rsplit("}", 1)[-1]


def instance(el):
    out = {}
    for child in el:
        name = local(child.tag)
        if child.get(XSI_NIL) == "true":
            value = None
        elif len(child):  # <cim:Datetime> and friends
            value = child[0].text
        else:
            value = child.text or ""
        if name in out:  # arrays repeat the element
            prev = out[name]
            out[name] = (prev if isinstance(prev, list) else [prev]) + [value]
        else:
            out[name] = value
    return {"element": local(el.tag), "ns": el.tag[1:].split("}")[0] if "}" in el.tag else "",
            "props": out}


def relates_to(root):
    el = root.find(".//{http://schemas.xmlsoap.org/ws/2004/08/addressing}RelatesTo")
    return el.text if el is not None else None


def send(p, action, resource, body):
    mid = uuid.uuid4()
    env = {"env:Envelope": p._get_soap_header(action=action, resource_uri=resource, message_id=mid)}
    env["env:Envelope"]["env:Body"] = body
    root = ET.fromstring(p.send_message(xmltodict.unparse(env)))
    if relates_to(root) != "uuid:%s" % mid:
        raise AssertionError("RelatesTo %r does not match MessageID" % relates_to(root))
    return root


def wql(p, query, max_elements):
    body = {"n:Enumerate": {"w:OptimizeEnumeration": None, "w:MaxElements": str(max_elements),
                            "w:Filter": {"@Dialect": WQL, "#text": query}}}
    root = send(p, ENUMERATE, WMI + "*", body)
    items, batches, contexts = [], 0, []
    while True:
        batches += 1
        for container in root.iter():
            if local(container.tag) == "Items":
                items.extend(instance(el) for el in container)
        end = any(local(e.tag) == "EndOfSequence" for e in root.iter())
        ctx = next((e.text for e in root.iter() if local(e.tag) == "EnumerationContext"), None)
        if end:
            break
        contexts.append(ctx)
        root = send(p, PULL, WMI + "*", {"n:Pull": {"n:EnumerationContext": ctx,
                                                    "n:MaxElements": str(max_elements)}})
    return {"items": items, "batches": batches, "contexts": contexts}


def get(p, cls):
    root = send(p, GET, WMI + cls, {})
    body = next(e for e in root.iter() if local(e.tag) == "Body")
    return {"items": [instance(el) for el in body]}


def cmd(p, command):
    shell = p.open_shell()
    try:
        cid = p.run_command(shell, command)
        out, err, code = p.get_command_output(shell, cid)
        p.cleanup_command(shell, cid)
    finally:
        p.close_shell(shell)
    return {"stdout": out.decode(), "stderr": err.decode(), "code": code}


def main():
    spec = json.loads(sys.argv[1])
    p = Protocol(endpoint=spec["endpoint"], transport=spec["transport"],
                 username=spec["username"], password=os.environ["WINSIM_PY_PASSWORD"],
                 server_cert_validation="ignore", read_timeout_sec=30, operation_timeout_sec=20)
    results = []
    for op in spec["ops"]:
        try:
            if op["op"] == "wql":
                results.append(wql(p, op["query"], op.get("max", 32000)))
            elif op["op"] == "get":
                results.append(get(p, op["class"]))
            elif op["op"] == "cmd":
                results.append(cmd(p, op["command"]))
            else:
                raise ValueError("unknown op %s" % op["op"])
        except Exception as ex:  # reported to the Deno side, which asserts on it
            results.append({"error": type(ex).__name__, "message": str(ex)})
    print(json.dumps({"results": results}))


if __name__ == "__main__":
    main()
