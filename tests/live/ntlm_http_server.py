#!/usr/bin/env python3
"""A tiny HTTP server that asks for NTLM (MS-NLMP) so that a real client (curl --ntlm) sends
its AUTHENTICATE message: 401 with `WWW-Authenticate: NTLM`, then a CHALLENGE (type 2) to the
client's NEGOTIATE, then 200 to anything carrying an AUTHENTICATE. Nothing is verified: the
point is the client's message on the wire. Usage: ntlm_http_server.py ADDR PORT"""
import base64
import struct
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def challenge():
    # MS-NLMP 2.2.1.2: signature, type 2, TargetNameFields, NegotiateFlags, ServerChallenge,
    # Reserved, TargetInfoFields, Version; payload: target name, target info (MsvAvEOL only).
    target = "TESTDOM".encode("utf-16-le")
    info = struct.pack("<HH", 0, 0)
    base = 56
    flags = 0x00000001 | 0x00000200 | 0x00008000 | 0x00010000 | 0x00800000 | 0x02000000 | 0x00080000
    msg = b"NTLMSSP\0" + struct.pack("<I", 2)
    msg += struct.pack("<HHI", len(target), len(target), base)
    msg += struct.pack("<I", flags)
    msg += b"\x01\x23\x45\x67\x89\xab\xcd\xef" + b"\0" * 8
    msg += struct.pack("<HHI", len(info), len(info), base + len(target))
    msg += bytes([10, 0, 0x61, 0x4A, 0, 0, 0, 15])
    return msg + target + info


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, auth=None):
        body = b"ok\n" if code == 200 else b""
        self.send_response(code)
        if auth:
            self.send_header("WWW-Authenticate", auth)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        h = self.headers.get("Authorization", "")
        if not h.startswith("NTLM "):
            return self.reply(401, "NTLM")
        raw = base64.b64decode(h[5:])
        if raw[8:12] == struct.pack("<I", 1):
            return self.reply(401, "NTLM " + base64.b64encode(challenge()).decode())
        return self.reply(200)


if __name__ == "__main__":
    ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), Handler).serve_forever()
