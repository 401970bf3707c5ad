# A Python asyncio uppercase server, UDP and TCP on one port of 127.0.0.1: each datagram is
# answered with its uppercase; on TCP each line (up to a newline) is, on a persistent connection.
# What a Python programmer would write after the textbook; a peer for Benchmarks/compare.sh.
import asyncio
import socket
import sys


class Datagrams(asyncio.DatagramProtocol):
    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.transport.sendto(data.upper(), addr)


class Lines(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.pending = b''
        transport.get_extra_info('socket').setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data):
        self.pending += data
        end = self.pending.rfind(b'\n')
        if end >= 0:
            self.transport.write(self.pending[:end + 1].upper())
            self.pending = self.pending[end + 1:]


async def main(port):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Lines, '127.0.0.1', port, backlog=1024, reuse_address=True)
    port = server.sockets[0].getsockname()[1]
    await loop.create_datagram_endpoint(Datagrams, local_addr=('127.0.0.1', port))
    print('asyncio: ready, udp and tcp on 127.0.0.1:%d' % port, flush=True)
    await asyncio.Event().wait()


try:
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
except KeyboardInterrupt:
    pass
