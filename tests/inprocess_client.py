"""A program as a user writes one: open the modem, ``atsock.install(standard_names=True)``, then
use an unmodified client library. ``tests/test_inprocess_clients.py`` runs it in a fresh
interpreter, as ``python tests/inprocess_client.py CLIENT PORT DIALECT SETTINGS_JSON ARG...``; it
prints one JSON object with what the client got.

A fresh interpreter, because that is the situation ``install`` is for (the one line at the top of
a program): a library imported before it keeps the host's ``socket``, and the test process has
imported ``http.client``, ``asyncio`` and ``requests`` long before.
"""
import hashlib
import json
import os
import sys
import threading


def digest(body: bytes) -> dict:
    return {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}


def http_client(url):
    import http.client
    from urllib.parse import urlsplit
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    connection.request("GET", parts.path)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return dict(digest(body), status=response.status)


def urllib_request(url):
    import urllib.request
    with urllib.request.urlopen(url, timeout=30) as response:
        return digest(response.read())


def requests_get(url, cafile=None):
    import requests
    response = requests.get(url, timeout=30, verify=cafile or True)
    response.raise_for_status()
    return digest(response.content)


def httpx_get(url, cafile=None):
    import ssl

    import httpx
    # a context, not a path: httpx 0.28 deprecates verify=<str>
    response = httpx.get(url, timeout=30, verify=ssl.create_default_context(cafile=cafile) if cafile else True)
    response.raise_for_status()
    return digest(response.content)


def paho_mqtt(host, port):
    import paho.mqtt.client as mqtt
    received = threading.Event()
    messages = []
    payload = os.urandom(3000)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="atsock-inprocess")
    client.on_connect = lambda c, userdata, flags, reason, properties: c.subscribe("atsock/inprocess", qos=1)
    client.on_subscribe = lambda c, userdata, mid, reasons, properties: c.publish("atsock/inprocess", payload, qos=1)
    client.on_message = lambda c, userdata, message: (messages.append(message.payload), received.set())
    client.connect(host, int(port), keepalive=30)
    client.loop_start()
    try:
        got = received.wait(30)
    finally:
        client.disconnect()
        client.loop_stop()
    return {"received": got and messages[0] == payload, "size": len(payload)}


def aiohttp_get(url, cafile=None):
    import asyncio
    import ssl
    import aiohttp
    trust = ssl.create_default_context(cafile=cafile) if cafile else True

    async def main():
        async with aiohttp.ClientSession() as session:
            async with session.get(url, ssl=trust) as response:
                return digest(await response.read())

    return asyncio.run(main())


def websockets_echo(uri):
    import asyncio
    import websockets
    message = os.urandom(20_000)  # random: nothing for permessage-deflate to squeeze

    async def main():
        async with websockets.connect(uri) as ws:
            await ws.send(message)
            return {"echoed": await ws.recv() == message, "size": len(message)}

    return asyncio.run(main())


CLIENTS = {"http.client": http_client, "urllib.request": urllib_request, "requests": requests_get, "httpx": httpx_get,
           "paho-mqtt": paho_mqtt, "aiohttp": aiohttp_get, "websockets": websockets_echo}


def main(client, port, dialect, settings, *args):
    import atsock
    modem = atsock.open_modem(port, dialect=dialect, **json.loads(settings))
    atsock.install(standard_names=True)
    try:
        result = CLIENTS[client](*args)
    finally:
        modem.close()
    print(json.dumps(result))


if __name__ == "__main__":
    main(*sys.argv[1:])
