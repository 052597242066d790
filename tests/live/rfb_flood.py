#!/usr/bin/env python3
"""An alert flood for tests/live/am_down.sh: many short VNC (RFB 3.8) handshakes.

  rfb_flood.py serve ADDR PORT_FIRST PORT_COUNT     RFB servers on PORT_FIRST.. (until killed)
  rfb_flood.py flood DST PORT_FIRST PORT_COUNT SRC_PREFIX SRC_COUNT SECONDS [PARALLEL]

The client side connects from SRC_PREFIX.1 .. SRC_PREFIX.SRC_COUNT (addresses on the host) to
every port in turn, so each handshake is a distinct alert identity (client, server, port).
Each handshake: server "RFB 003.008\\n", client the same, server offers security type 2 (VNC
authentication), client selects it, both close. Prints the number of handshakes done.
"""
import asyncio
import sys

VERSION = b"RFB 003.008\n"


async def serve(addr, first, count):
    async def handle(r, w):
        try:
            w.write(VERSION)
            await w.drain()
            await r.readexactly(12)
            w.write(bytes([1, 2]))
            await w.drain()
            await r.readexactly(1)
            w.write(b"\x00" * 16)  # the VNC authentication challenge
            await w.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            w.close()

    servers = [await asyncio.start_server(handle, addr, p, backlog=512) for p in range(first, first + count)]
    print("listening", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


async def flood(dst, first, count, prefix, nsrc, seconds, parallel):
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    done = 0
    nxt = 0

    async def one(i):
        src = f"{prefix}.{1 + (i // count) % nsrc}"
        port = first + i % count
        r, w = await asyncio.open_connection(dst, port, local_addr=(src, 0))
        try:
            await r.readexactly(12)
            w.write(VERSION)
            await w.drain()
            await r.readexactly(2)
            w.write(bytes([2]))
            await w.drain()
            await r.readexactly(16)
        finally:
            w.close()

    async def worker():
        nonlocal done, nxt
        while loop.time() < end:
            i = nxt
            nxt += 1
            try:
                await one(i)
                done += 1
            except (OSError, asyncio.IncompleteReadError):
                await asyncio.sleep(0.01)

    await asyncio.gather(*(worker() for _ in range(parallel)))
    print(done, flush=True)


def main():
    a = sys.argv[1:]
    if a and a[0] == "serve" and len(a) == 4:
        asyncio.run(serve(a[1], int(a[2]), int(a[3])))
    elif a and a[0] == "flood" and len(a) in (7, 8):
        par = int(a[7]) if len(a) == 8 else 16
        asyncio.run(flood(a[1], int(a[2]), int(a[3]), a[4], int(a[5]), float(a[6]), par))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
