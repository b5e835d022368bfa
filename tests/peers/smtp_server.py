"""A real SMTP server for NMSlite's email channel tests (Debian's python3-aiosmtpd).

Run with /usr/bin/python3 and one JSON argument:
  {"dir": out dir, "cert": PEM path, "key": PEM path, "username": .., "password": ..,
   "starttlsPort": N, "tlsPort": N}
starttlsPort requires STARTTLS before anything else and AUTH (PLAIN or LOGIN) after it;
tlsPort speaks implicit TLS from the first byte and requires AUTH. Recipients starting with
"reject@" get a permanent 550, "tempfail@" a transient 451. Every accepted message is written
to <dir>/<n>.json with what the client did (TLS version, AUTH mechanism and login).
Prints "ready" on stdout once both ports listen; stops on SIGTERM.
"""
import asyncio
import email
import email.policy
import json
import os
import signal
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

spec = json.loads(sys.argv[1])
counter = {"n": 0}


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login.decode() == spec["username"]
        and auth_data.password.decode() == spec["password"]
    )
    if ok:
        session.nms_auth = {"mechanism": mechanism, "login": auth_data.login.decode()}
    # handled=False: aiosmtpd then answers 535 itself (the default sends nothing)
    return AuthResult(success=ok, handled=False)


class Handler:
    def __init__(self, mode):
        self.mode = mode

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("reject@"):
            return "550 5.1.1 mailbox unavailable"
        if address.startswith("tempfail@"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        ssl_object = server.transport.get_extra_info("ssl_object")
        counter["n"] += 1
        msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        text = msg.get_body(("plain",))
        html = msg.get_body(("html",))
        record = {
            "mode": self.mode,
            "mailFrom": envelope.mail_from,
            "rcptTos": envelope.rcpt_tos,
            "data": envelope.original_content.decode("utf-8", "replace"),
            # decoded by Python's email package, independently of the sender
            "subject": str(msg["subject"]),
            "from": str(msg["from"]),
            "to": str(msg["to"]),
            "messageId": str(msg["message-id"]),
            "references": str(msg["references"]) if msg["references"] else None,
            "headers": {k.lower(): str(v) for k, v in msg.items()},
            "text": text.get_content().replace("\r\n", "\n") if text else None,
            "html": html.get_content().replace("\r\n", "\n") if html else None,
            "tlsVersion": ssl_object.version() if ssl_object else None,
            "auth": getattr(session, "nms_auth", None),
        }
        path = os.path.join(spec["dir"], "%04d.json" % counter["n"])
        with open(path + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(path + ".tmp", path)
        return "250 2.0.0 queued as %04d" % counter["n"]


def context():
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(spec["cert"], spec["key"])
    return ctx


common = dict(
    hostname="127.0.0.1",
    authenticator=authenticator,
    auth_required=True,
    auth_exclude_mechanism=["CRAM-MD5"],
)
starttls = Controller(
    Handler("starttls"),
    port=spec["starttlsPort"],
    tls_context=context(),
    require_starttls=True,
    auth_require_tls=True,
    **common,
)
implicit = Controller(
    Handler("tls"),
    port=spec["tlsPort"],
    ssl_context=context(),
    # the whole connection is TLS; aiosmtpd only counts STARTTLS as "TLS" for AUTH
    auth_require_tls=False,
    **common,
)
starttls.start()
implicit.start()
print("ready", flush=True)

stop = asyncio.new_event_loop()
done = asyncio.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.call_soon_threadsafe(done.set))
signal.signal(signal.SIGINT, lambda *_: stop.call_soon_threadsafe(done.set))
stop.run_until_complete(done.wait())
starttls.stop()
implicit.stop()
