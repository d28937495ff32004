"""slixmpp's own XEP plugins against Clove: software version (xep_0092), entity time (xep_0202)
and ad-hoc commands (xep_0050, forms from xep_0004). Run with Debian's interpreter:

    /usr/bin/python3 everyday.py --port PORT --jid boss@localhost --password PW --what version,time,adhoc

Prints one JSON line {"event": "result", ...} (or {"event": "error", ...}) and exits.
Protocol work is slixmpp's; this script only calls its plugin methods and reports what came back.
"""
import argparse
import asyncio
import json
import ssl
import sys

import slixmpp
from slixmpp.exceptions import IqError

ADMIN = "http://jabber.org/protocol/admin"
NS_TIME = "{urn:xmpp:time}"


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def error_of(err):
    return {"error": err.iq["error"]["condition"], "command_error": [c.tag.split("}")[1] for c in err.iq["error"].xml if "commands" in c.tag]}


async def session(args):
    xmpp = slixmpp.ClientXMPP(args.jid + "/slix", args.password)
    # The test certificate is self-signed: verification is off explicitly.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    xmpp.ssl_context = ctx
    for plugin in ("xep_0004", "xep_0030", "xep_0050", "xep_0092", "xep_0202"):
        xmpp.register_plugin(plugin)
    loop = asyncio.get_running_loop()
    started = loop.create_future()
    xmpp.add_event_handler("session_start", lambda _e: started.done() or started.set_result(True))
    xmpp.add_event_handler("failed_auth", lambda _e: started.done() or started.set_exception(RuntimeError("authentication failed")))
    xmpp.connect((args.host, args.port))
    await asyncio.wait_for(started, 20)
    return xmpp


async def version_and_time(xmpp, domain, out):
    v = await xmpp["xep_0092"].get_version(domain, timeout=10)
    out["version"] = {k: v["software_version"][k] for k in ("name", "version", "os")}
    t = await xmpp["xep_0202"].get_entity_time(domain, timeout=10)
    out["time"] = {"tzo": t.xml.find(f"{NS_TIME}time/{NS_TIME}tzo").text, "utc": t.xml.find(f"{NS_TIME}time/{NS_TIME}utc").text}


async def adhoc(xmpp, domain, args, out):
    items = await xmpp["xep_0050"].get_commands(domain, timeout=10)
    out["commands"] = sorted(node for (_jid, node, _name) in items["disco_items"]["items"])
    node = f"{ADMIN}#add-user"
    try:
        first = await xmpp["xep_0050"].send_command(domain, node, timeout=10)
    except IqError as err:
        out["add_user"] = error_of(err)
        return
    form = first["command"]["form"]
    out["form_fields"] = list(form.get_fields().keys())
    submit = xmpp["xep_0004"].make_form(ftype="submit")
    submit.add_field(var="FORM_TYPE", ftype="hidden", value=ADMIN)
    submit.add_field(var="accountjid", value=args.new_user)
    submit.add_field(var="password", value=args.new_password)
    done = await xmpp["xep_0050"].send_command(domain, node, action="complete", payload=submit, sessionid=first["command"]["sessionid"], timeout=10)
    out["add_user"] = {"status": done["command"]["status"], "notes": [list(n) for n in done["command"]["notes"]]}
    count = await xmpp["xep_0050"].send_command(domain, f"{ADMIN}#get-registered-users-num", timeout=10)
    out["registered"] = count["command"]["form"]["values"].get("registeredusersnum")


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--jid", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--what", default="version,time,adhoc")
    p.add_argument("--new-user", default="")
    p.add_argument("--new-password", default="")
    args = p.parse_args()
    out = {"event": "result"}
    xmpp = None
    try:
        xmpp = await session(args)
        domain = xmpp.boundjid.domain
        what = args.what.split(",")
        if "version" in what or "time" in what:
            await version_and_time(xmpp, domain, out)
        if "adhoc" in what:
            await adhoc(xmpp, domain, args, out)
        emit(out)
    except Exception as err:  # reported to the test, which fails with it
        emit({"event": "error", "text": repr(err)})
    finally:
        if xmpp is not None and xmpp.transport is not None:
            try:
                await asyncio.wait_for(xmpp.disconnect(), 5)
            except Exception:
                xmpp.abort()


if __name__ == "__main__":
    asyncio.run(main())
