#!/usr/bin/env python3
"""Unit tests for tools/lolrmm2rules.py: python3 -m unittest tools/test_lolrmm2rules.py"""

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import lolrmm2rules as g  # noqa: E402


class Normalise(unittest.TestCase):
    def check(self, raw, kind, value):
        k, v, _ = g.normalise(raw)
        self.assertEqual((k, v), (kind, value), raw)

    def test_plain_and_wildcard(self):
        self.check("Example.COM", "domain", "example.com")
        self.check("*.teamviewer.com", "domain", "*.teamviewer.com")
        self.check("*.GoToMyPC.com", "domain", "*.gotomypc.com")

    def test_port_scheme_path(self):
        self.check("host.example.com:443", "domain", "host.example.com")
        self.check("https://a.example.com/path?x=1", "domain", "a.example.com")

    def test_regex_and_partial_wildcards(self):
        self.check("relay-[a-f0-9]{8}.net.anydesk.com:443", "domain", "*.net.anydesk.com")
        self.check("plus*.site24x7.com", "domain", "*.site24x7.com")
        self.check("rescue-list.*.logmein-gateway.com", "domain", "*.logmein-gateway.com")
        self.check("*.-dms.zoho.com.cn", "domain", "*.zoho.com.cn")

    def test_placeholders_and_addresses(self):
        self.check("user_managed", "drop", None)
        self.check("<operator-configured GLPI server>", "drop", None)
        self.check("51.255.19.178", "address", "51.255.19.178")
        self.check("com", "drop", None)


class Deny(unittest.TestCase):
    def test_deny(self):
        self.assertIsNotNone(g.deny_reason("*.amazonaws.com"))
        self.assertIsNotNone(g.deny_reason("*.s3.amazonaws.com"))
        self.assertIsNone(g.deny_reason("my-bucket.s3.amazonaws.com"))
        self.assertIsNotNone(g.deny_reason("github.com"))
        self.assertIsNotNone(g.deny_reason("raw.githubusercontent.com"))
        self.assertIsNotNone(g.deny_reason("*.support.services.microsoft.com"))
        self.assertIsNone(g.deny_reason("remotedesktop.google.com"))
        self.assertIsNotNone(g.deny_reason("*.zoho.com"))
        self.assertIsNone(g.deny_reason("*.dms.zoho.com"))
        self.assertIsNone(g.deny_reason("*.anydesk.com"))

    def test_ports(self):
        self.assertEqual(g.parse_ports([443, 80, "5938", "1000-65535", 3478, "21115-21119"]),
                         ["tcp/5938", "udp/3478", "tcp/21115-21119"])

    def test_covered_and_owner(self):
        self.assertTrue(g.covered("pubsub.atera.com", ["*.atera.com"]))
        self.assertTrue(g.covered("*.api.splashtop.com", ["*.splashtop.com"]))
        self.assertFalse(g.covered("atera.com", ["*.atera.com"]))
        self.assertEqual(g.name_score("*.islonline.net", "isl-online"), 1)
        self.assertEqual(g.name_score("*.islonline.net", "barracuda"), 0)


if __name__ == "__main__":
    unittest.main()
