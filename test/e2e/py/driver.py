"""Drive one or more slixmpp clients for Clove's end-to-end tests.

Run with Debian's interpreter (slixmpp is installed there only):

    /usr/bin/python3 driver.py --host 127.0.0.1 --port PORT

Commands arrive on stdin, one JSON object a line: {"id": 1, "cmd": "connect", ...}.
Every command gets exactly one reply line: {"reply": 1, "ok": true, "result": ...} or
{"reply": 1, "ok": false, "error": {...}}. Everything a client receives after it connects is
reported as an event line: {"event": "in", "client": NAME, "xml": "<presence .../>"}.
Protocol work (STARTTLS, SASL, bind, roster, vCard, disco, ping, in-band registration, private
XML bookmarks) is done by slixmpp itself;
this script only translates commands into slixmpp calls.
"""
import argparse
import asyncio
import base64
import datetime
import hashlib
import json
import logging
import os
import ssl
import sys
import xml.etree.ElementTree as ET

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.stanza import Iq, Message

IQ_TIMEOUT = 10


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def fingerprint(pem):
    der = ssl.PEM_cert_to_DER_cert(pem)
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


class Failure(Exception):
    """A command failed in a way the test wants to inspect."""

    def __init__(self, **info):
        super().__init__(json.dumps(info))
        self.info = info


def iq_error(err):
    iq = err.iq
    return Failure(kind="iq-error", type=iq["error"]["type"], condition=iq["error"]["condition"], xml=str(iq))


class Driver:
    def __init__(self, host, port):
        self.host = host
        self.port = port
        self.clients = {}

    # ---- connecting ----

    async def connect(self, name, jid, password, mech=None, resource=None, timeout=15, register=False, preauth=None):
        """Log a client in; with `register`, create the account in-band first (XEP-0077), giving
        the invitation token `preauth` first when there is one (XEP-0445)."""
        if name in self.clients:
            raise Failure(kind="usage", text=f"client {name} exists")
        full = f"{jid}/{resource}" if resource else jid
        xmpp = slixmpp.ClientXMPP(full, password)
        # Self-signed test certificate: verification is off explicitly; the test compares the
        # certificate's fingerprint with the server's instead.
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        xmpp.ssl_context = ctx
        if mech:
            xmpp["feature_mechanisms"].use_mech = mech
        # The tests decide when to approve and subscribe back.
        xmpp.roster.auto_authorize = None
        xmpp.roster.auto_subscribe = False
        for plugin in ("xep_0030", "xep_0054", "xep_0199"):
            xmpp.register_plugin(plugin)

        if register:
            # slixmpp's own XEP-0077 client: it asks for the form when the server offers the
            # iq-register stream feature, lets us fill in the legacy fields, then logs in.
            xmpp.register_plugin("xep_0077")
            # COMPAT: slixmpp 1.8: before session_start its send() queues every iq but bind and
            # session, so the plugin's own registration iqs would wait for a session that needs
            # them first; let them through.
            xmpp._always_send_everything = True
            if preauth:
                # slixmpp has no XEP-0445: the token goes in its own iq just before the plugin
                # asks for the registration form, as an invitation-aware client sends it.
                plugin = xmpp["xep_0077"]
                ask_form = plugin.get_registration

                async def with_token(*args, **kwargs):
                    iq = xmpp.Iq()
                    iq["type"] = "set"
                    iq.xml.append(ET.Element("{urn:xmpp:pars:0}preauth", {"token": preauth}))
                    await iq.send(timeout=IQ_TIMEOUT)
                    return await ask_form(*args, **kwargs)

                plugin.get_registration = with_token

        record = {"xmpp": xmpp, "features": [], "tls": None, "mech": None, "online": False}
        self.clients[name] = record
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def settle(value=None, error=None):
            if done.done():
                return
            if error is not None:
                done.set_exception(error)
            else:
                done.set_result(value)

        def on_in(stanza):
            xml = str(stanza)
            tag = stanza.xml.tag
            if tag == "{http://etherx.jabber.org/streams}features":
                record["features"].append(xml)
            if record["online"]:
                emit({"event": "in", "client": name, "xml": xml})
            return stanza

        def on_cert(pem):
            tls = {"fingerprint": fingerprint(pem)}
            record["tls"] = tls

        def on_auth_success(_stanza):
            record["mech"] = xmpp["feature_mechanisms"].mech.name

        def on_failed_auth(stanza):
            settle(error=Failure(kind="sasl", condition=stanza["condition"], mechanism=xmpp["feature_mechanisms"].mech.name,
                                 features=record["features"]))

        def on_session_start(_event):
            transport = xmpp.transport
            sslobj = transport.get_extra_info("ssl_object") if transport else None
            if record["tls"] is not None and sslobj is not None:
                record["tls"]["version"] = sslobj.version()
                record["tls"]["cipher"] = sslobj.cipher()[0]
            record["online"] = True
            result = {"jid": str(xmpp.boundjid), "features": record["features"], "mechanism": record["mech"], "tls": record["tls"]}
            if register:
                result["registered"] = record.get("registered", False)
                result["form"] = record.get("form")
            settle(result)

        async def on_register(form):
            record["form"] = str(form)
            iq = xmpp.Iq()
            iq["type"] = "set"
            iq["register"]["username"] = xmpp.boundjid.user
            iq["register"]["password"] = password
            try:
                await iq.send(timeout=IQ_TIMEOUT)
                record["registered"] = True
            except IqError as err:
                e = err.iq["error"]
                settle(error=Failure(kind="register", type=e["type"], condition=e["condition"], text=e["text"], xml=str(err.iq)))
                xmpp.abort()
            except IqTimeout:
                settle(error=Failure(kind="timeout", text="no reply to the registration"))
                xmpp.abort()

        def on_disconnected(reason):
            record["online"] = False
            emit({"event": "disconnected", "client": name, "reason": str(reason)})
            settle(error=Failure(kind="disconnected", reason=str(reason), features=record["features"]))

        xmpp.add_filter("in", on_in)
        xmpp.add_event_handler("ssl_cert", on_cert)
        xmpp.add_event_handler("auth_success", on_auth_success)
        xmpp.add_event_handler("failed_auth", on_failed_auth)
        xmpp.add_event_handler("session_start", on_session_start)
        xmpp.add_event_handler("disconnected", on_disconnected)
        if register:
            xmpp.add_event_handler("register", on_register)
        xmpp.add_event_handler("connection_failed", lambda e: settle(error=Failure(kind="connection-failed", reason=str(e))))
        xmpp.connect(address=(self.host, self.port))
        try:
            return await asyncio.wait_for(done, timeout)
        except Failure:
            await self.drop(name)
            raise
        except asyncio.TimeoutError:
            await self.drop(name)
            raise Failure(kind="timeout", text="no session within the time limit", features=record["features"])

    async def drop(self, name):
        record = self.clients.pop(name, None)
        if record is None:
            return
        xmpp = record["xmpp"]
        if xmpp.transport is not None:
            try:
                await asyncio.wait_for(xmpp.disconnect(), 5)
            except Exception:
                xmpp.abort()

    def client(self, name):
        record = self.clients.get(name)
        if record is None:
            raise Failure(kind="usage", text=f"no client {name}")
        return record["xmpp"]

    # ---- commands ----

    async def cmd_connect(self, a):
        return await self.connect(a["name"], a["jid"], a["password"], a.get("mech"), a.get("resource"))

    async def cmd_register(self, a):
        """Register the account in-band with the legacy fields, then log in with it."""
        return await self.connect(a["name"], a["jid"], a["password"], a.get("mech"), a.get("resource"), register=True, preauth=a.get("preauth"))

    async def cmd_change_password(self, a):
        """XEP-0077 password change through slixmpp's plugin."""
        xmpp = self.client(a["name"])
        if "xep_0077" not in xmpp.plugin:
            xmpp.register_plugin("xep_0077")
        try:
            iq = await xmpp["xep_0077"].change_password(a["password"], timeout=IQ_TIMEOUT)
        except IqError as err:
            raise iq_error(err)
        return {"type": iq["type"], "xml": str(iq)}

    def bookmarks_plugin(self, xmpp):
        if "xep_0048" not in xmpp.plugin:
            xmpp.register_plugin("xep_0048")
        return xmpp["xep_0048"]

    async def cmd_bookmarks_set(self, a):
        """Store XEP-0048 bookmarks in private XML storage (XEP-0049) with slixmpp's plugins."""
        xmpp = self.client(a["name"])
        plugin = self.bookmarks_plugin(xmpp)
        bookmarks = plugin.stanza.Bookmarks()
        for c in a.get("conferences", []):
            bookmarks.add_conference(c["jid"], c["nick"], name=c.get("name"), autojoin=c.get("autojoin"))
        for u in a.get("urls", []):
            bookmarks.add_url(u["url"], name=u.get("name"))
        try:
            iq = await plugin.set_bookmarks(bookmarks, method="xep_0049", timeout=IQ_TIMEOUT)
        except IqError as err:
            raise iq_error(err)
        return {"type": iq["type"], "xml": str(iq)}

    async def cmd_bookmarks_get(self, a):
        xmpp = self.client(a["name"])
        plugin = self.bookmarks_plugin(xmpp)
        try:
            iq = await plugin.get_bookmarks(method="xep_0049", timeout=IQ_TIMEOUT)
        except IqError as err:
            raise iq_error(err)
        bookmarks = iq["private"]["bookmarks"]
        return {"xml": str(iq),
                "conferences": [{"jid": str(c["jid"]), "nick": c["nick"], "name": c["name"], "autojoin": c["autojoin"]}
                                for c in bookmarks["conferences"]],
                "urls": [{"url": u["url"], "name": u["name"]} for u in bookmarks["urls"]]}

    def avatar_plugin(self, xmpp):
        if "xep_0084" not in xmpp.plugin:
            xmpp.register_plugin("xep_0084")
        return xmpp["xep_0084"]

    async def cmd_avatar_publish(self, a):
        """Publish a XEP-0084 avatar as slixmpp's plugin does: data (base64 given), then metadata."""
        xmpp = self.client(a["name"])
        plugin = self.avatar_plugin(xmpp)
        data = base64.b64decode(a["base64"])
        try:
            await plugin.publish_avatar(data, timeout=IQ_TIMEOUT)
            iq = await plugin.publish_avatar_metadata(
                [{"id": plugin.generate_id(data), "type": a.get("type", "image/png"), "bytes": len(data)}], timeout=IQ_TIMEOUT)
        except IqError as err:
            raise iq_error(err)
        return {"type": iq["type"], "id": plugin.generate_id(data)}

    async def cmd_avatar_stop(self, a):
        """Publish empty metadata: "no avatar" (XEP-0084, publisher disables avatar publishing)."""
        xmpp = self.client(a["name"])
        try:
            iq = await self.avatar_plugin(xmpp).stop(timeout=IQ_TIMEOUT)
        except IqError as err:
            raise iq_error(err)
        return {"type": iq["type"]}

    async def cmd_disconnect(self, a):
        xmpp = self.client(a["name"])
        self.clients.pop(a["name"], None)
        await asyncio.wait_for(xmpp.disconnect(), 10)
        return True

    async def cmd_iq(self, a):
        """Send a raw iq (given as XML) and return the raw reply; errors are replies too."""
        xmpp = self.client(a["name"])
        iq = Iq(xmpp, xml=ET.fromstring(a["xml"]))
        try:
            reply = await iq.send(timeout=IQ_TIMEOUT)
        except IqError as err:
            return {"type": "error", "xml": str(err.iq)}
        return {"type": reply["type"], "xml": str(reply)}

    async def cmd_presence(self, a):
        xmpp = self.client(a["name"])
        xmpp.send_presence(pto=a.get("to"), ptype=a.get("type"), pstatus=a.get("status"))
        return True

    async def cmd_message(self, a):
        xmpp = self.client(a["name"])
        xmpp.send_message(mto=a["to"], mbody=a["body"], mtype=a.get("type", "chat"))
        return True

    async def cmd_raw(self, a):
        """Send a stanza given as XML as it is (hints and other payloads slixmpp has no helper for)."""
        xmpp = self.client(a["name"])
        xmpp.send_raw(a["xml"])
        return True

    async def cmd_get_roster(self, a):
        xmpp = self.client(a["name"])
        try:
            iq = await xmpp.get_roster(timeout=IQ_TIMEOUT)
        except IqError as err:
            raise iq_error(err)
        return {"xml": str(iq), "items": roster_items(iq["roster"]["items"])}

    async def cmd_roster_state(self, a):
        """slixmpp's own view of the roster, as kept from results and pushes."""
        xmpp = self.client(a["name"])
        roster = xmpp.client_roster
        out = {}
        for jid in roster:
            item = roster[jid]
            out[str(jid)] = {"subscription": item["subscription"], "ask": item["pending_out"] and "subscribe" or "",
                             "name": item["name"], "groups": sorted(item["groups"])}
        return out

    async def cmd_update_roster(self, a):
        xmpp = self.client(a["name"])
        try:
            await xmpp.update_roster(a["jid"], name=a.get("nick", ""), groups=a.get("groups", []), timeout=IQ_TIMEOUT)
        except IqError as err:
            raise iq_error(err)
        return True

    async def cmd_subscribe(self, a):
        self.client(a["name"]).send_presence_subscription(pto=a["to"], ptype="subscribe")
        return True

    async def cmd_approve(self, a):
        self.client(a["name"]).send_presence_subscription(pto=a["to"], ptype="subscribed")
        return True

    async def cmd_vcard_set(self, a):
        xmpp = self.client(a["name"])
        vcard = xmpp["xep_0054"].make_vcard()
        vcard["FN"] = a["fn"]
        vcard["NICKNAME"] = a["nick"]
        try:
            await xmpp["xep_0054"].publish_vcard(vcard, timeout=IQ_TIMEOUT)
        except IqError as err:
            raise iq_error(err)
        return True

    async def cmd_vcard_get(self, a):
        xmpp = self.client(a["name"])
        try:
            iq = await xmpp["xep_0054"].get_vcard(a.get("jid"), local=False, cached=False, timeout=IQ_TIMEOUT)
        except IqError as err:
            raise iq_error(err)
        vcard = iq["vcard_temp"]
        nick = vcard["NICKNAME"]  # slixmpp gives a list (a vCard may hold several)
        return {"from": str(iq["from"]), "fn": vcard["FN"], "nick": nick if isinstance(nick, str) else ",".join(nick),
                "xml": str(iq)}

    async def cmd_disco_info(self, a):
        xmpp = self.client(a["name"])
        try:
            iq = await xmpp["xep_0030"].get_info(jid=a["jid"], local=False, cached=False, timeout=IQ_TIMEOUT)
        except IqError as err:
            raise iq_error(err)
        info = iq["disco_info"]
        return {"from": str(iq["from"]), "features": sorted(info["features"]),
                "identities": [list(i) for i in info["identities"]]}

    async def cmd_disco_items(self, a):
        xmpp = self.client(a["name"])
        try:
            iq = await xmpp["xep_0030"].get_items(jid=a["jid"], local=False, timeout=IQ_TIMEOUT)
        except IqError as err:
            raise iq_error(err)
        return {"from": str(iq["from"]), "type": iq["type"], "items": [list(i) for i in iq["disco_items"]["items"]]}

    async def cmd_ping(self, a):
        """XEP-0199 ping through slixmpp's plugin; returns the reply's sender and type."""
        xmpp = self.client(a["name"])
        try:
            iq = await xmpp["xep_0199"].send_ping(a["jid"], timeout=IQ_TIMEOUT)
        except IqError as err:
            raise iq_error(err)
        return {"from": str(iq["from"]), "type": iq["type"], "id": iq["id"]}

    # ---- Multi-user chat (XEP-0045) with slixmpp's xep_0045 plugin ----

    def muc(self, xmpp):
        if "xep_0045" not in xmpp.plugin:
            xmpp.register_plugin("xep_0045")
        return xmpp["xep_0045"]

    @staticmethod
    def status_codes(stanza):
        x = stanza.xml.find("{http://jabber.org/protocol/muc#user}x")
        if x is None:
            return []
        return sorted(int(s.get("code")) for s in x.findall("{http://jabber.org/protocol/muc#user}status"))

    async def cmd_muc_join(self, a):
        """join_muc_wait: the plugin's own join (occupants, self-presence, history, subject)."""
        plugin = self.muc(self.client(a["name"]))
        try:
            pres, subject, occupants, history = await plugin.join_muc_wait(
                a["room"], a["nick"], password=a.get("password"), maxstanzas=a.get("maxstanzas"), timeout=IQ_TIMEOUT)
        except slixmpp.exceptions.PresenceError as err:
            raise Failure(kind="presence-error", condition=err.condition, type=err.etype, xml=str(err.presence))
        except asyncio.TimeoutError:
            raise Failure(kind="timeout", text="no self-presence or subject within the time limit")
        item = pres["muc"]
        return {"codes": self.status_codes(pres), "affiliation": item["affiliation"], "role": item["role"],
                "jid": str(item["jid"]) if item["jid"] else None, "subject": subject["subject"],
                "occupants": sorted(str(p["from"].resource) for p in occupants),
                "history": [m["body"] for m in history], "xml": str(pres)}

    async def cmd_muc_leave(self, a):
        self.muc(self.client(a["name"])).leave_muc(a["room"], a["nick"], a.get("status", ""))
        return True

    async def cmd_muc_config(self, a):
        """Get the owner form, set the given fields, submit it (what a client's config dialog does)."""
        plugin = self.muc(self.client(a["name"]))
        try:
            form = await plugin.get_room_config(a["room"], timeout=IQ_TIMEOUT)
            fields = form.get_fields()
            for var, value in a.get("values", {}).items():
                if var not in fields:
                    raise Failure(kind="usage", text=f"the form has no field {var}")
                fields[var]["value"] = value
            await plugin.set_room_config(a["room"], form, timeout=IQ_TIMEOUT)
        except IqError as err:
            raise iq_error(err)
        return {"fields": sorted(fields.keys())}

    async def cmd_muc_message(self, a):
        self.client(a["name"]).send_message(mto=a["room"], mbody=a["body"], mtype="groupchat")
        return True

    async def cmd_muc_subject(self, a):
        self.muc(self.client(a["name"])).set_subject(a["room"], a["subject"])
        return True

    async def cmd_muc_role(self, a):
        try:
            await self.muc(self.client(a["name"])).set_role(a["room"], a["nick"], a["role"], reason=a.get("reason", ""), timeout=IQ_TIMEOUT)
        except IqError as err:
            raise iq_error(err)
        return True

    async def cmd_muc_affiliation(self, a):
        try:
            await self.muc(self.client(a["name"])).set_affiliation(a["room"], a["affiliation"], jid=a["jid"], reason=a.get("reason", ""), timeout=IQ_TIMEOUT)
        except IqError as err:
            raise iq_error(err)
        return True

    async def cmd_muc_affiliation_list(self, a):
        try:
            jids = await self.muc(self.client(a["name"])).get_affiliation_list(a["room"], a["affiliation"], timeout=IQ_TIMEOUT)
        except IqError as err:
            raise iq_error(err)
        return sorted(str(j) for j in jids)

    async def cmd_muc_invite(self, a):
        self.muc(self.client(a["name"])).invite(a["room"], a["jid"], a.get("reason", ""))
        return True

    async def cmd_muc_destroy(self, a):
        try:
            await self.muc(self.client(a["name"])).destroy(a["room"], reason=a.get("reason", ""), altroom=a.get("altroom"), timeout=IQ_TIMEOUT)
        except IqError as err:
            raise iq_error(err)
        return True

    async def cmd_muc_roster(self, a):
        """The plugin's own view of who is in the room."""
        return sorted(self.muc(self.client(a["name"])).get_roster(a["room"]))

    # ---- PEP (XEP-0163) with slixmpp's pubsub, caps and PEP plugins ----

    def pep_plugins(self, xmpp):
        for plugin in ("xep_0004", "xep_0060", "xep_0115", "xep_0163"):
            if plugin not in xmpp.plugin:
                xmpp.register_plugin(plugin)

    async def cmd_pep_interest(self, a):
        """Advertise `<node>+notify` in entity capabilities (xep_0163.add_interest); presence then carries the new ver."""
        xmpp = self.client(a["name"])
        self.pep_plugins(xmpp)
        xmpp["xep_0163"].add_interest(a["nodes"])
        await xmpp["xep_0115"].update_caps(broadcast=False)
        return {"ver": await xmpp["xep_0115"].get_verstring(xmpp.boundjid)}

    async def cmd_pep_publish(self, a):
        """Publish one item with xep_0060.publish, with publish-options when given ({var: value})."""
        xmpp = self.client(a["name"])
        self.pep_plugins(xmpp)
        options = None
        if a.get("options"):
            options = xmpp["xep_0004"].make_form(ftype="submit")
            options.add_field(var="FORM_TYPE", ftype="hidden", value="http://jabber.org/protocol/pubsub#publish-options")
            for var, value in a["options"].items():
                options.add_field(var=var, value=value)
        try:
            iq = await xmpp["xep_0060"].publish(a.get("jid"), a["node"], id=a.get("item_id"), payload=ET.fromstring(a["xml"]),
                                                options=options, timeout=IQ_TIMEOUT)
        except IqError as err:
            raise iq_error(err)
        return {"xml": str(iq), "id": iq["pubsub"]["publish"]["item"]["id"]}

    async def cmd_pep_items(self, a):
        """Fetch items with xep_0060.get_items (all, by id, or max_items)."""
        xmpp = self.client(a["name"])
        self.pep_plugins(xmpp)
        try:
            iq = await xmpp["xep_0060"].get_items(a["jid"], a["node"], item_ids=a.get("ids"), max_items=a.get("max_items"),
                                                  timeout=IQ_TIMEOUT)
        except IqError as err:
            raise iq_error(err)
        return {"xml": str(iq), "ids": [item["id"] for item in iq["pubsub"]["items"]]}

    # ---- message archive (XEP-0313) with slixmpp's xep_0313 plugin ----

    def mam_plugin(self, xmpp):
        if "xep_0313" not in xmpp.plugin:
            xmpp.register_plugin("xep_0313")
        return xmpp["xep_0313"]

    @staticmethod
    def mam_item(msg):
        """One archived message as the test sees it: archive id, stamp, and the forwarded stanza."""
        fwd = msg["mam_result"]["forwarded"]
        inner = fwd["stanza"]
        return {"id": msg["mam_result"]["id"], "stamp": fwd["delay"]["stamp"].isoformat() if fwd["delay"]["stamp"] else None,
                "body": inner["body"], "from": str(inner["from"]), "to": str(inner["to"]), "xml": str(inner)}

    @staticmethod
    def mam_time(value):
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None

    async def cmd_mam_page(self, a):
        """One page through xep_0313.retrieve's RSM iterator: filters (with, start, end), max, and after=id,
        before=id or before="" (the last page); returns the items and the <fin/>."""
        xmpp = self.client(a["name"])
        plugin = self.mam_plugin(xmpp)
        reverse = "before" in a
        pages = plugin.retrieve(jid=a.get("jid"), with_jid=a.get("with"), start=self.mam_time(a.get("start")),
                                end=self.mam_time(a.get("end")), iterator=True, reverse=reverse, rsm={"max": a.get("max", 10)})
        pages.start = a.get("before") or a.get("after") or None
        try:
            iq = await pages.next()
        except StopAsyncIteration:
            return {"items": [], "complete": True, "first": None, "first_index": None, "last": None, "count": None}
        except IqError as err:
            raise iq_error(err)
        fin = iq.xml.find("{urn:xmpp:mam:2}fin")
        rset = iq["mam_fin"]["rsm"]
        return {"items": [self.mam_item(m) for m in iq["mam"]["results"]], "complete": fin is not None and fin.get("complete") == "true",
                "first": rset["first"], "first_index": rset["first_index"], "last": rset["last"], "count": rset["count"]}

    async def cmd_mam_all(self, a):
        """The whole result set with xep_0313.iterate (RSM pages of `max`), oldest first or, with reverse, newest first;
        of the archive at `jid` (a room) when given, else the account's own."""
        xmpp = self.client(a["name"])
        plugin = self.mam_plugin(xmpp)
        items = []
        async for msg in plugin.iterate(jid=a.get("jid"), with_jid=a.get("with"), start=self.mam_time(a.get("start")), end=self.mam_time(a.get("end")),
                                        reverse=a.get("reverse", False), rsm={"max": a.get("max", 10)}):
            items.append(self.mam_item(msg))
        return {"items": items}

    async def cmd_mam_fields(self, a):
        """The query form's fields (xep_0313.get_fields)."""
        xmpp = self.client(a["name"])
        form = await self.mam_plugin(xmpp).get_fields(timeout=IQ_TIMEOUT)
        fields = form["fields"]
        return {"fields": [f["var"] for f in (fields.values() if hasattr(fields, "values") else fields)]}

    async def cmd_mam_metadata(self, a):
        """Archive metadata (xep_0313.get_archive_metadata): first and last ids."""
        xmpp = self.client(a["name"])
        iq = await self.mam_plugin(xmpp).get_archive_metadata(timeout=IQ_TIMEOUT)
        md = iq["mam_metadata"]
        return {"start": md["start"]["id"], "end": md["end"]["id"]}

    # ---- a pubsub service (XEP-0060) with slixmpp's xep_0060 plugin ----

    async def pubsub_call(self, a, method, *args, **kwargs):
        """Call xep_0060.<method>(a["jid"], a["node"], *args) for client a["name"]; the reply iq as XML."""
        xmpp = self.client(a["name"])
        self.pep_plugins(xmpp)
        try:
            iq = await getattr(xmpp["xep_0060"], method)(a["jid"], a["node"], *args, timeout=IQ_TIMEOUT, **kwargs)
        except IqError as err:
            raise iq_error(err)
        return {"xml": str(iq)}

    async def cmd_ps_create(self, a):
        """Create a node, with a node_config form ({var: value}) when a["config"] is given."""
        config = None
        if a.get("config"):
            xmpp = self.client(a["name"])
            self.pep_plugins(xmpp)
            config = xmpp["xep_0004"].make_form(ftype="submit")
            config.add_field(var="FORM_TYPE", ftype="hidden", value="http://jabber.org/protocol/pubsub#node_config")
            for var, value in a["config"].items():
                config.add_field(var=var, value=value)
        return await self.pubsub_call(a, "create_node", config=config)

    async def cmd_ps_authorize(self, a):
        """Answer a subscription approval request (XEP-0060 §8.6) as a client does with xep_0004:
        the form of the received message a["request"] submitted with pubsub#allow = a["allow"],
        in a message to its sender carrying the request's id."""
        xmpp = self.client(a["name"])
        self.pep_plugins(xmpp)
        request = Message(xmpp, xml=ET.fromstring(a["request"]))
        form = request["form"]
        form.reply()
        form.set_values({"pubsub#allow": a["allow"]})
        answer = xmpp.make_message(mto=request["from"])
        answer["id"] = request["id"]
        answer.append(form)
        answer.send()
        return True

    async def cmd_ps_subscribe(self, a):
        r = await self.pubsub_call(a, "subscribe", bare=a.get("bare", True))
        r["subscription"] = ET.fromstring(r["xml"]).find(".//{http://jabber.org/protocol/pubsub}subscription").get("subscription")
        return r

    async def cmd_ps_options_get(self, a):
        """The subscription options form of a["user_jid"] with xep_0060.get_subscription_options."""
        return await self.pubsub_call(a, "get_subscription_options", a["user_jid"])

    async def cmd_ps_retract(self, a):
        return await self.pubsub_call(a, "retract", a["item_id"], notify=True)

    async def cmd_ps_delete(self, a):
        return await self.pubsub_call(a, "delete_node")

    # ---- HTTP file upload (XEP-0363) ----

    async def cmd_upload(self, a):
        """Upload bytes with slixmpp's own XEP-0363 client (disco, slot, PUT with the slot's headers).

        The URL's .i2p name leads to the local HTTP port, as i2pd's HTTP proxy would lead to the
        server tunnel; the Host header stays the .i2p name. Returns the GET URL.
        """
        from slixmpp.plugins.xep_0363 import http_upload
        xmpp = self.client(a["name"])
        if "xep_0363" not in xmpp.plugin:
            xmpp.register_plugin("xep_0363")
        port = a["http_port"]
        http_upload.ClientSession = lambda **kw: tunnel_session(port, **kw)
        plugin = xmpp["xep_0363"]
        if plugin.upload_service is None:
            # COMPAT: slixmpp 1.8.3: find_upload_service hands asyncio.wait bare coroutines, which
            # Python 3.11 refuses; the same discovery (disco#items of the domain, then disco#info
            # of each for store/file and the namespace, max-file-size from its form) done here.
            items = await xmpp["xep_0030"].get_items(jid=a["domain"], timeout=IQ_TIMEOUT)
            for item in items["disco_items"]["items"]:
                info = await xmpp["xep_0030"].get_info(jid=item[0], timeout=IQ_TIMEOUT)
                ids = info["disco_info"]["identities"]
                if not any(i[0] == "store" and i[1] == "file" for i in ids) or http_upload.Request.namespace not in info["disco_info"]["features"]:
                    continue
                plugin.upload_service = info["from"]
                for form in info["disco_info"].iterables:
                    values = form["values"]
                    if values.get("FORM_TYPE") in (http_upload.Request.namespace, [http_upload.Request.namespace]):
                        plugin.max_file_size = int(values["max-file-size"])
                break
        data = base64.b64decode(a["data"]) if "data" in a else bytes(a["size"])
        import io
        try:
            url = await xmpp["xep_0363"].upload_file(a["filename"], size=len(data), content_type=a.get("content_type"),
                                                      input_file=io.BytesIO(data), domain=a.get("domain"), timeout=IQ_TIMEOUT)
        except IqError as err:
            raise iq_error(err)
        except http_upload.FileTooBig as err:
            raise Failure(kind="too-big", text=str(err))
        except http_upload.HTTPError as err:
            raise Failure(kind="http", text=str(err))
        return {"url": url}

    async def cmd_http_get(self, a):
        """GET a URL (an upload's) as a client behind i2pd's HTTP proxy would; body in base64."""
        async with tunnel_session(a["http_port"]) as session:
            async with session.get(a["url"]) as response:
                body = await response.read()
                return {"status": response.status, "headers": {k.lower(): v for k, v in response.headers.items()},
                        "body": base64.b64encode(body).decode()}

    async def cmd_quit(self, a):
        for name in list(self.clients):
            await self.drop(name)
        return True


def tunnel_session(port, **kw):
    """An aiohttp session that reaches every .i2p name at 127.0.0.1:port (the local end of the
    i2pd HTTP server tunnel) and refuses every other name, so nothing is resolved by DNS."""
    import aiohttp
    import socket

    class TunnelResolver(aiohttp.abc.AbstractResolver):
        async def resolve(self, host, port_=0, family=socket.AF_INET):
            if not host.endswith(".i2p"):
                raise OSError(f"not an I2P name: {host}")
            return [{"hostname": host, "host": "127.0.0.1", "port": port, "family": socket.AF_INET, "proto": 0, "flags": 0}]

        async def close(self):
            pass

    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=TunnelResolver()), **kw)


def roster_items(items):
    out = {}
    for jid, item in items.items():
        out[str(jid)] = {"subscription": item.get("subscription", ""), "ask": item.get("ask", ""),
                         "name": item.get("name", ""), "groups": sorted(item.get("groups", []))}
    return out


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    if os.environ.get("CLOVE_SLIXMPP_DEBUG"):
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
    else:
        logging.basicConfig(level=logging.CRITICAL, stream=sys.stderr)

    driver = Driver(args.host, args.port)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    emit({"event": "ready", "pid": os.getpid()})
    pending = set()

    async def run(cmd):
        rid = cmd.get("id")
        handler = getattr(driver, "cmd_" + str(cmd.get("cmd")), None)
        try:
            if handler is None:
                raise Failure(kind="usage", text=f"unknown command {cmd.get('cmd')}")
            result = await handler(cmd)
            emit({"reply": rid, "ok": True, "result": result})
        except Failure as f:
            emit({"reply": rid, "ok": False, "error": f.info})
        except IqTimeout:
            emit({"reply": rid, "ok": False, "error": {"kind": "timeout", "text": "no iq reply"}})
        except Exception as e:  # report, never die silently
            emit({"reply": rid, "ok": False, "error": {"kind": "exception", "text": f"{type(e).__name__}: {e}"}})
        return cmd.get("cmd")

    while True:
        line = await reader.readline()
        if not line:
            break
        line = line.strip()
        if not line:
            continue
        cmd = json.loads(line)
        task = asyncio.ensure_future(run(cmd))
        pending.add(task)
        task.add_done_callback(pending.discard)
        if cmd.get("cmd") == "quit":
            await task
            break
    if pending:
        await asyncio.wait(pending, timeout=5)
    for name in list(driver.clients):
        await driver.drop(name)


if __name__ == "__main__":
    asyncio.run(main())
