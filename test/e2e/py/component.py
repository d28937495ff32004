"""An external component (XEP-0114) written with slixmpp's ComponentXMPP, for Clove's e2e tests.

Run with Debian's interpreter (slixmpp is installed there only):

    /usr/bin/python3 component.py --host 127.0.0.1 --port PORT --jid gateway.example --secret S

It reports on stdout, one JSON object a line: {"event": "session_start"} once the handshake is
accepted, {"event": "message", "from": ..., "to": ..., "body": ...} for every message it gets
(and answers each with "echo: " + body, from the address it was sent to), {"event":
"stream_error", "condition": ...} when the server ends the stream with an error, and
{"event": "disconnected"} at the end. Protocol work (stream, handshake) is slixmpp's own.
"""
import argparse
import asyncio
import json
import logging
import sys

import slixmpp


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--jid", required=True)
    parser.add_argument("--secret", required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    xmpp = slixmpp.ComponentXMPP(args.jid, args.secret, args.host, args.port)
    loop = asyncio.get_event_loop()
    finished = loop.create_future()

    def on_start(_event):
        emit({"event": "session_start"})

    def on_message(msg):
        body = msg["body"]
        emit({"event": "message", "from": str(msg["from"]), "to": str(msg["to"]), "body": body})
        if msg["type"] in ("chat", "normal") and body:
            xmpp.send_message(mto=msg["from"], mfrom=msg["to"], mbody="echo: " + body, mtype=msg["type"])

    def on_stream_error(err):
        emit({"event": "stream_error", "condition": err["condition"], "text": err["text"]})

    def on_disconnected(_event):
        if not finished.done():
            finished.set_result(None)

    xmpp.add_event_handler("session_start", on_start)
    xmpp.add_event_handler("message", on_message)
    xmpp.add_event_handler("stream_error", on_stream_error)
    xmpp.add_event_handler("disconnected", on_disconnected)
    xmpp.add_event_handler("connection_failed", on_disconnected)

    async def quit_on_stdin_close():
        # The test ends the component by closing stdin.
        await loop.run_in_executor(None, sys.stdin.read)
        xmpp.disconnect()

    xmpp.connect()
    loop.create_task(quit_on_stdin_close())
    loop.run_until_complete(finished)
    emit({"event": "disconnected"})


if __name__ == "__main__":
    main()
