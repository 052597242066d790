#!/usr/bin/python3
"""One end of a manually keyed IPsec tunnel (no IKE), in user space: IPv4 packets read from a
TUN device are put in ESP or AH tunnel mode by scapy's IPsec implementation
(scapy.layers.ipsec.SecurityAssociation: AES-CBC + HMAC-SHA1-96, RFC 4303 / RFC 4302) and sent
as IP protocol 50/51 over IPv4 or IPv6, or as ESP in UDP 4500 (RFC 3948); what arrives is
checked, decrypted and written back to the TUN device. For kernels built without
CONFIG_INET_ESP / CONFIG_INET_AH, where `ip xfrm state add ... proto esp` fails.

Mode ah-transport is a host-to-host association instead (RFC 4302 transport mode): the host's
own IPv4 packets to REMOTE, routed into the TUN device, get an AH inserted after their IP
header (outer addresses = the packet's own) and leave through DEV (the raw socket is bound to
it, so they do not route back into the TUN device).

  ipsec_tun.py MODE TUN LOCAL REMOTE SPI_OUT SPI_IN [DEV]
    MODE: esp | ah | esp-udp | ah-transport;  LOCAL, REMOTE: outer addresses (both IPv4 or
    both IPv6; IPv4 for ah-transport);  DEV: the interface ah-transport sends on
"""
import fcntl
import os
import select
import socket
import struct
import sys

from scapy.layers.inet import IP
from scapy.layers.inet6 import IPv6
from scapy.layers.ipsec import AH, ESP, SecurityAssociation

CRYPT_KEY = bytes.fromhex("6c697665207465737420656e63206b65")  # made up for the test
AUTH_KEY = bytes.fromhex("6c6976652074657374206175746820206b657920")

mode, tun_name, local, remote, spi_out, spi_in = sys.argv[1:7]
spi_out, spi_in = int(spi_out, 0), int(spi_in, 0)
transport = mode == "ah-transport"
if transport:
    mode, dev = "ah", sys.argv[7]
v6 = ":" in local
proto = 51 if mode == "ah" else 50


def sa(spi, src, dst):
    if transport:
        return SecurityAssociation(AH, spi=spi, auth_algo="HMAC-SHA1-96", auth_key=AUTH_KEY)
    outer = IPv6(src=src, dst=dst) if v6 else IP(src=src, dst=dst, id=0x5357)
    if mode == "ah":
        return SecurityAssociation(AH, spi=spi, auth_algo="HMAC-SHA1-96", auth_key=AUTH_KEY, tunnel_header=outer)
    return SecurityAssociation(ESP, spi=spi, crypt_algo="AES-CBC", crypt_key=CRYPT_KEY,
                               auth_algo="HMAC-SHA1-96", auth_key=AUTH_KEY, tunnel_header=outer)


sa_out = sa(spi_out, local, remote)
sa_in = sa(spi_in, remote, local)

TUNSETIFF, IFF_TUN, IFF_NO_PI = 0x400454CA, 0x0001, 0x1000
tun = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(tun, TUNSETIFF, struct.pack("16sH", tun_name.encode(), IFF_TUN | IFF_NO_PI))

fam = socket.AF_INET6 if v6 else socket.AF_INET
if mode == "esp-udp":
    tx = rx = socket.socket(fam, socket.SOCK_DGRAM)
    rx.bind((local, 4500))
else:
    rx = socket.socket(fam, socket.SOCK_RAW, proto)
    # IPv4: the whole outer header as built (AH authenticates its Identification field)
    tx = socket.socket(fam, socket.SOCK_RAW, socket.IPPROTO_RAW if not v6 else proto)
    if transport:
        tx.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())
print(f"{sys.argv[1]} {tun_name} {local} -> {remote} up", flush=True)

while True:
    ready, _, _ = select.select([tun, rx], [], [])
    if tun in ready:
        data = os.read(tun, 65535)
        if transport and data[0] >> 4 != 4:
            continue  # the TUN device's own IPv6 (router solicitations, MLD): not for this SA
        pkt = IP(data)
        out = sa_out.encrypt(pkt)
        if mode == "esp-udp":
            tx.sendto(bytes(out.payload), (remote, 4500))
        elif v6:
            tx.sendto(bytes(out.payload), (remote, 0))
        else:
            tx.sendto(bytes(out), (remote, 0))
    if rx in ready:
        data, addr = rx.recvfrom(65535)
        if v6 or mode == "esp-udp":
            outer = (IPv6(src=remote, dst=local, nh=proto) if v6 else IP(src=remote, dst=local, proto=proto)) / data
            pkt = IPv6(bytes(outer)) if v6 else IP(bytes(outer))
        else:
            pkt = IP(data)
        if addr[0] != remote or len(data) < 8:
            continue
        spi = struct.unpack("!I", bytes(pkt.payload)[4:8] if mode == "ah" else bytes(pkt.payload)[:4])[0]
        if spi != spi_in:
            continue
        try:
            inner = sa_in.decrypt(pkt)
        except Exception as e:  # a packet that fails its integrity check is dropped, as the kernel does
            print(f"dropped: {e}", flush=True)
            continue
        os.write(tun, bytes(inner))
