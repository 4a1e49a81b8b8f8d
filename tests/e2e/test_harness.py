"""The services the end-to-end tests stand on answer like the real things: the registry (plain,
and TLS + htpasswd) as read by skopeo and plain HTTP clients."""
import base64
import os
import shutil
import ssl
import subprocess
import sys
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "harness"))
from wbtest import Registry  # noqa: E402


def get(url, cafile=None, auth=None):
    req = urllib.request.Request(url)
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(("%s:%s" % auth).encode()).decode())
    ctx = ssl.create_default_context(cafile=cafile) if cafile else None
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            return r.status, dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers)


class RegistryHarness(unittest.TestCase):
    def test_plain_registry_answers_v2(self):
        reg = Registry()
        self.addCleanup(reg.stop)
        status, headers = get("http://%s/v2/" % reg.host)
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("Docker-Distribution-Api-Version"), "registry/2.0")

    def test_tls_registry_requires_basic_auth(self):
        reg = Registry(tls=True)
        self.addCleanup(reg.stop)
        status, headers = get("https://%s/v2/" % reg.host, cafile=reg.cert)
        self.assertEqual(status, 401)
        self.assertIn("Basic", headers.get("WWW-Authenticate", headers.get("Www-Authenticate", "")))
        status, _ = get("https://%s/v2/" % reg.host, cafile=reg.cert, auth=(reg.user, reg.password))
        self.assertEqual(status, 200)
        status, _ = get("https://%s/v2/" % reg.host, cafile=reg.cert, auth=(reg.user, "wrong"))
        self.assertEqual(status, 401)

    @unittest.skipUnless(shutil.which("skopeo"), "skopeo is not installed")
    def test_skopeo_can_list_an_empty_registry(self):
        reg = Registry(tls=True)
        self.addCleanup(reg.stop)
        p = subprocess.run(["skopeo", "list-tags", "--tls-verify=false", "--creds", "%s:%s" % (reg.user, reg.password),
                            "docker://%s/nothing" % reg.host], capture_output=True, text=True, timeout=60)
        # An unknown repository: skopeo reached the registry, logged in, and was told 404.
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("404", p.stderr)
        p = subprocess.run(["skopeo", "list-tags", "--tls-verify=false", "--creds", "%s:wrong" % reg.user,
                            "docker://%s/nothing" % reg.host], capture_output=True, text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("401", p.stderr.replace("unauthorized", "401"))


if __name__ == "__main__":
    unittest.main()
