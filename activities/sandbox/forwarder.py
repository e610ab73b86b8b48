"""Inside the sandbox: bridge a loopback port to the proxy's unix socket (stdlib only).

Its text is run by the system's python3 inside the sandbox, before the command
(`python3 -I -c <this file> PORT SOCKET`; stdlib only, any python3). It binds the
port, forks the server into the background and exits, so the port is open when
the command starts; the server dies with the sandbox's PID namespace. The
command's own network namespace has nothing but loopback, so this bridge (to the
worker's filtering proxy) is its only way out. The worker's proxy imports `pump`.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys


async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy one direction until its end, then half-close the other side."""
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except OSError:
        writer.close()


async def bridge(path: str, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
    try:
        upstream_r, upstream_w = await asyncio.open_unix_connection(path)
    except OSError:
        client_w.close()
        return
    try:
        await asyncio.gather(pump(client_r, upstream_w), pump(upstream_r, client_w))
    finally:
        client_w.close()
        upstream_w.close()


async def serve(server: socket.socket, path: str) -> None:
    listening = await asyncio.start_server(lambda r, w: bridge(path, r, w), sock=server)
    async with listening:
        await listening.serve_forever()


def main() -> None:
    port, path = int(sys.argv[1]), sys.argv[2]
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(128)
    if os.fork():
        os._exit(0)  # the port is open: the command may start
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)  # holds no pipe of the command's output
    asyncio.run(serve(server, path))


if __name__ == "__main__":
    main()
