#!/usr/bin/env python3
"""A shaped link for the boot benchmark: a TCP proxy on 127.0.0.1 that forwards to a
server on 127.0.0.1, adding a fixed one-way delay in each direction (half the round
trip) and limiting each direction to a rate shared by all connections, as one link to
the server would. Only the traffic through it is shaped (the guest's HTTP), the same for
every method measured; no kernel module (netem) is needed on the host.

usage: shaper.py LISTEN_PORT TARGET_PORT RTT_MS RATE_MBIT
Prints "ready" once it listens; runs until killed.
"""
import asyncio
import sys
import time

CHUNK = 64 * 1024


class Link:
    """One direction's rate: chunks leave one after the other at RATE, in arrival order."""

    def __init__(self, bytes_per_second):
        self.bytes_per_second = bytes_per_second
        self.free_at = 0.0

    async def transmit(self, size):
        now = time.monotonic()
        start = max(now, self.free_at)
        self.free_at = start + size / self.bytes_per_second
        await asyncio.sleep(self.free_at - now)


async def pump(reader, writer, link, delay):
    """Copies reader to writer: each chunk is delayed by `delay` after it arrived, then
    paced by the link's rate, order kept."""
    queue = asyncio.Queue()

    async def receive():
        while True:
            data = await reader.read(CHUNK)
            await queue.put((time.monotonic() + delay, data))
            if not data:
                return

    async def send():
        while True:
            due, data = await queue.get()
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                writer.write_eof() if writer.can_write_eof() else writer.close()
                return
            await link.transmit(len(data))
            writer.write(data)
            await writer.drain()

    try:
        await asyncio.gather(receive(), send())
    except (ConnectionError, OSError):
        writer.close()


async def main():
    listen_port, target_port, rtt_ms, rate_mbit = (int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]),
                                                   float(sys.argv[4]))
    delay = rtt_ms / 2000.0
    rate = rate_mbit * 1e6 / 8
    down, up = Link(rate), Link(rate)

    async def handle(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pump(client_reader, server_writer, up, delay),
                             pump(server_reader, client_writer, down, delay), return_exceptions=True)
        for w in (client_writer, server_writer):
            w.close()

    server = await asyncio.start_server(handle, "127.0.0.1", listen_port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    asyncio.run(main())
