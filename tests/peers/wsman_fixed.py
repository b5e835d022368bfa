"""A tiny WS-Management responder shared by the Kerberos test peers: Identify, and WQL
Enumerate/Pull over one fixed Win32_OperatingSystem instance (shapes as Windows writes them),
or the plaintext SOAP forwarded to an upstream WinRM endpoint with Basic auth (a winsim host).
"""
import base64
import re
import urllib.request
import uuid
import xml.etree.ElementTree as ET

S = "http://www.w3.org/2003/05/soap-envelope"
A = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
N = "http://schemas.xmlsoap.org/ws/2004/09/enumeration"
W = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
WMI = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/cimv2/"
WSMID = "http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
ENUMERATE = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate"
PULL = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Pull"
ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"

OS_PROPS = [
    ("Caption", "Microsoft Windows Server 2019 Standard"),
    ("CSName", "WIN-01"),
    ("Version", "10.0.17763"),
    ("BuildNumber", "17763"),
    ("NumberOfProcesses", "97"),
    ("TotalVisibleMemorySize", "8388152"),
    ("FreePhysicalMemory", "4194304"),
]

_contexts = {}


def _text(root, local):
    for el in root.iter():
        if el.tag.rsplit("}", 1)[-1] == local:
            return el.text or ""
    return None


def envelope(action, relates_to, body):
    return (
        '<s:Envelope xml:lang="en-US" xmlns:s="%s" xmlns:a="%s" xmlns:n="%s" xmlns:w="%s">'
        "<s:Header><a:Action>%s</a:Action><a:MessageID>uuid:%s</a:MessageID><a:To>%s</a:To>"
        "<a:RelatesTo>%s</a:RelatesTo></s:Header><s:Body>%s</s:Body></s:Envelope>"
        % (S, A, N, W, action, str(uuid.uuid4()).upper(), ANONYMOUS, relates_to, body)
    )


def fault(relates_to, code, text):
    body = (
        '<s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>w:CannotProcessFilter'
        "</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang=\"en-US\">%s</s:Text></s:Reason>"
        '<s:Detail><f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" '
        'Code="%d" Machine="WIN-01"><f:Message>%s</f:Message></f:WSManFault></s:Detail></s:Fault>'
        % (text, code, text)
    )
    return 500, envelope("http://schemas.dmtf.org/wbem/wsman/1/wsman/fault", relates_to, body)


def os_instance():
    cls = "Win32_OperatingSystem"
    props = "".join("<p:%s>%s</p:%s>" % (k, v, k) for k, v in OS_PROPS)
    return '<p:%s xmlns:xsi="%s" xmlns:p="%s%s" xsi:type="p:%s_Type">%s</p:%s>' % (
        cls, XSI, WMI, cls, cls, props, cls)


def identify_response():
    return (
        '<s:Envelope xmlns:s="%s" xmlns:wsmid="%s"><s:Header/><s:Body><wsmid:IdentifyResponse>'
        "<wsmid:ProtocolVersion>%s</wsmid:ProtocolVersion>"
        "<wsmid:ProductVendor>Microsoft Corporation</wsmid:ProductVendor>"
        "<wsmid:ProductVersion>OS: 10.0.17763 SP: 0.0 Stack: 3.0</wsmid:ProductVersion>"
        "<wsmid:SecurityProfiles><wsmid:SecurityProfileName>"
        "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/http/spnego-kerberos"
        "</wsmid:SecurityProfileName></wsmid:SecurityProfiles>"
        "</wsmid:IdentifyResponse></s:Body></s:Envelope>" % (S, WSMID, W)
    )


def fixed_reply(xml):
    """(status, xml, action) for one plaintext request."""
    root = ET.fromstring(xml)
    if any(el.tag == "{%s}Identify" % WSMID for el in root.iter()):
        return 200, identify_response(), "Identify"
    action = _text(root, "Action") or ""
    mid = _text(root, "MessageID") or ""
    if action == ENUMERATE:
        query = _text(root, "Filter") or ""
        if not re.match(r"(?is)^\s*select\s.+\sfrom\s+win32_operatingsystem\b", query):
            status, body = fault(mid, 2150858778, "The WS-Management service cannot process the request. The WQL query is invalid.")
            return status, body, action
        optimize = any(el.tag == "{%s}OptimizeEnumeration" % W for el in root.iter())
        if optimize:
            body = ("<n:EnumerateResponse><n:EnumerationContext></n:EnumerationContext>"
                    "<w:Items>%s</w:Items><w:EndOfSequence/></n:EnumerateResponse>" % os_instance())
        else:
            ctx = "uuid:%s" % str(uuid.uuid4()).upper()
            _contexts[ctx] = True
            body = "<n:EnumerateResponse><n:EnumerationContext>%s</n:EnumerationContext></n:EnumerateResponse>" % ctx
        return 200, envelope(ENUMERATE + "Response", mid, body), action
    if action == PULL:
        ctx = _text(root, "EnumerationContext") or ""
        if _contexts.pop(ctx, None) is None:
            status, body = fault(mid, 2150858779, "The enumeration context supplied in the message is not valid.")
            return status, body, action
        body = "<n:PullResponse><n:Items>%s</n:Items><n:EndOfSequence/></n:PullResponse>" % os_instance()
        return 200, envelope(PULL + "Response", mid, body), action
    status, body = fault(mid, 2150858771, "The WS-Management service does not support the request.")
    return status, body, action


def upstream_reply(url, user, password, xml):
    """Forward to a Basic-auth WinRM endpoint (e.g. a winsim host) and return its answer."""
    req = urllib.request.Request(url, data=xml.encode("utf-8"), method="POST", headers={
        "Content-Type": "application/soap+xml;charset=UTF-8",
        "Authorization": "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode(),
    })
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            status, text = resp.status, resp.read().decode("utf-8")
    except urllib.error.HTTPError as err:
        status, text = err.code, err.read().decode("utf-8", "replace")
    action = ""
    try:
        action = _text(ET.fromstring(xml), "Action") or "Identify"
    except ET.ParseError:
        pass
    return status, text, action
