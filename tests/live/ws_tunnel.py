#!/usr/bin/python3
"""A byte stream carried in WebSocket binary frames, as wstunnel and V2Ray's `ws` transport do,
with the python3-websockets library (no compression, as those tools).

  ws_tunnel.py server HOST PORT TARGET_HOST TARGET_PORT   each connection is piped to TARGET
  ws_tunnel.py client URI                                 stdin/stdout piped over the socket
                                                          (for ssh -o ProxyCommand=...)
"""
import asyncio
import os
import sys

import websockets


async def serve(host, port, thost, tport):
    async def handler(ws, path=None):
        r, w = await asyncio.open_connection(thost, tport)

        async def up():
            async for msg in ws:
                w.write(msg)
                await w.drain()
            w.close()

        async def down():
            while data := await r.read(65536):
                await ws.send(data)
            await ws.close()

        await asyncio.gather(up(), down(), return_exceptions=True)

    async with websockets.serve(handler, host, port, compression=None):
        print(f"listening on {host}:{port}", flush=True)
        await asyncio.Future()


async def client(uri):
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
    out = sys.stdout.buffer.fileno()
    async with websockets.connect(uri, compression=None) as ws:

        async def up():
            while data := await reader.read(65536):
                await ws.send(data)
            await ws.close()

        async def down():
            async for msg in ws:
                os.write(out, msg)

        t_up = asyncio.create_task(up())
        await down()
        t_up.cancel()


if __name__ == "__main__":
    if sys.argv[1] == "server":
        asyncio.run(serve(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])))
    else:
        asyncio.run(client(sys.argv[2]))
