#!/usr/bin/python3
"""Self-test of the fake's server-side field validation (fieldvalidation.py) against what a real
1.32 apiserver (the kit's cluster, v1.32.13) answered to the same requests, kept below as data.
Run: /usr/bin/python3 -m unittest tests/fakekube/test_fieldvalidation.py

The same tests check the data against a real cluster (in a throwaway namespace, deleted after):
    FAKEKUBE_VERIFY_KUBECONFIG=$KUBECONFIG /usr/bin/python3 -m unittest test_fieldvalidation.FieldValidation
(a kubeconfig with a token or client certificate data; run from tests/fakekube)."""
import base64
import http.client
import json
import os
import ssl
import subprocess
import sys
import tempfile
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from test_fakekube import Fake  # noqa: E402

DEPLOY = ('{"zzz":1,"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"NAME","labels":{"app":"x"},'
          '"annotations":{"a":"b"},"bad":{"x":1}},"spec":{"replicas":1,"replicas":2,"selector":{"matchLabels":'
          '{"app":"x"},"matchBogus":1},"template":{"metadata":{"labels":{"app":"x"},"tmpl":1},"spec":{"containers":'
          '[{"name":"c","image":"busybox","ports":[{"containerPort":80,"portBogus":1}],"resources":{"limits":'
          '{"cpu":"1"},"lim":2},"env":[{"name":"A","value":"1","valueBogus":2}]},{"name":"d","image":"x",'
          '"cbogus":{}}],"aaa":1}},"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":"25%",'
          '"maxUnavailable":0,"x":1}}}}')
DEPLOY_FIELDS = [
    'unknown field "zzz"', 'unknown field "metadata.bad"', 'duplicate field "spec.replicas"',
    'unknown field "spec.selector.matchBogus"', 'unknown field "spec.template.metadata.tmpl"',
    'unknown field "spec.template.spec.containers[0].ports[0].portBogus"',
    'unknown field "spec.template.spec.containers[0].resources.lim"',
    'unknown field "spec.template.spec.containers[0].env[0].valueBogus"',
    'unknown field "spec.template.spec.containers[1].cbogus"', 'unknown field "spec.template.spec.aaa"',
    'unknown field "spec.strategy.rollingUpdate.x"']
GOOD_DEPLOY = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d1"},
               "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "x"}},
                        "template": {"metadata": {"labels": {"app": "x"}},
                                     "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
PATCH = ('{"zzz":1,"metadata":{"bad":1},"spec":{"replicas":0,"replicas":0,"template":{"spec":{"containers":'
         '[{"name":"c","image":"busybox","cbogus":1}]}}}}')
# A patch: duplicates in the patch first, then the patched object's unknown fields in sorted order.
PATCH_FIELDS = ['duplicate field "spec.replicas"', 'unknown field "metadata.bad"',
                'unknown field "spec.template.spec.containers[0].cbogus"', 'unknown field "zzz"']


VERIFY = os.environ.get("FAKEKUBE_VERIFY_KUBECONFIG", "")
NS = "fv-check-" + uuid.uuid4().hex[:6] if VERIFY else "fv"


def header(text):
    return "299 - " + json.dumps(text)


class Real:
    """A real cluster in Fake's shape (conn, token, req, stop) for checking the data above."""

    def __init__(self, kubeconfig):
        cfg = json.loads(subprocess.run(["kubectl", "--kubeconfig", kubeconfig, "config", "view", "--raw", "--minify",
                                         "-o", "json"], check=True, stdout=subprocess.PIPE).stdout)
        cluster, user = cfg["clusters"][0]["cluster"], cfg["users"][0]["user"]
        hostport = cluster["server"].split("://", 1)[1].rstrip("/")
        self.host, self.port = hostport.rsplit(":", 1)
        self.dir = tempfile.mkdtemp(prefix="fv-check-")
        ca = os.path.join(self.dir, "ca.crt")
        with open(ca, "wb") as f:
            f.write(base64.b64decode(cluster["certificate-authority-data"]))
        self.ctx = ssl.create_default_context(cafile=ca)
        self.token = user.get("token", "")
        if user.get("client-certificate-data"):
            crt, key = os.path.join(self.dir, "c.crt"), os.path.join(self.dir, "c.key")
            for path, field in ((crt, "client-certificate-data"), (key, "client-key-data")):
                with open(path, "wb") as f:
                    f.write(base64.b64decode(user[field]))
            self.ctx.load_cert_chain(crt, key)

    def conn(self):
        return http.client.HTTPSConnection(self.host, int(self.port), context=self.ctx, timeout=20)

    def req(self, method, path, body=None):
        c = self.conn()
        h = {"Authorization": "Bearer " + self.token} if self.token else {}
        if body is not None:
            h["Content-Type"] = "application/json"
            body = json.dumps(body)
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, json.loads(data) if data else None

    def stop(self):
        self.req("DELETE", "/api/v1/namespaces/" + NS)
        subprocess.run(["rm", "-rf", self.dir])


class FieldValidation(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.f = Real(VERIFY) if VERIFY else Fake()
        st, _ = cls.f.req("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                         "metadata": {"name": NS, "labels": {"wb-test.dev/run": NS}}})
        assert st == 201, st
        st, _ = cls.f.req("POST", f"/apis/apps/v1/namespaces/{NS}/deployments", GOOD_DEPLOY)
        assert st == 201, st

    @classmethod
    def tearDownClass(cls):
        cls.f.stop()

    def get(self, path):
        return self.f.req("GET", path.replace("{NS}", NS))

    def send(self, method, path, body, ctype="application/json"):
        """(status, Warning headers, decoded body); {NS} in the path or body is the test's namespace"""
        c = self.f.conn()
        path, body = path.replace("{NS}", NS), body.replace("{NS}", NS)
        h = {"Content-Type": ctype}
        if self.f.token:
            h["Authorization"] = "Bearer " + self.f.token
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, r.headers.get_all("Warning") or [], json.loads(data)

    def strict_error(self, method, path, body, ctype="application/json"):
        st, warnings, out = self.send(method, path, body, ctype)
        self.assertEqual(warnings, [])
        self.assertEqual(out["kind"], "Status")
        return st, out

    def test_create_strict(self):
        st, out = self.strict_error("POST", "/apis/apps/v1/namespaces/{NS}/deployments?fieldValidation=Strict",
                                    DEPLOY.replace("NAME", "s1"))
        self.assertEqual((st, out["reason"], out["code"]), (400, "BadRequest", 400))
        self.assertEqual(out["message"], 'Deployment in version "v1" cannot be handled as a Deployment: strict '
                                         'decoding error: ' + ", ".join(DEPLOY_FIELDS))
        self.assertNotIn("details", out)
        self.assertEqual(self.get("/apis/apps/v1/namespaces/{NS}/deployments/s1")[0], 404)

    def test_create_warn_is_the_default_and_drops_the_fields(self):
        for query in ("", "?fieldValidation=Warn"):
            name = "w" + str(len(query))
            st, warnings, out = self.send("POST", "/apis/apps/v1/namespaces/{NS}/deployments" + query,
                                          DEPLOY.replace("NAME", name))
            self.assertEqual(st, 201)
            self.assertEqual(warnings, [header(t) for t in DEPLOY_FIELDS])
            for obj in (out, self.get("/apis/apps/v1/namespaces/{NS}/deployments/" + name)[1]):
                self.assertNotIn("zzz", obj)
                self.assertNotIn("bad", obj["metadata"])
                self.assertEqual(obj["spec"]["replicas"], 2)  # the last of the duplicates
                c0 = obj["spec"]["template"]["spec"]["containers"][0]
                self.assertEqual(c0["ports"], [{"containerPort": 80, "protocol": "TCP"}])
                self.assertEqual(c0["resources"], {"limits": {"cpu": "1"}})
                self.assertEqual(obj["spec"]["strategy"]["rollingUpdate"], {"maxSurge": "25%", "maxUnavailable": 0})

    def test_create_ignore(self):
        st, warnings, out = self.send("POST", "/apis/apps/v1/namespaces/{NS}/deployments?fieldValidation=Ignore",
                                      DEPLOY.replace("NAME", "i1"))
        self.assertEqual((st, warnings), (201, []))
        self.assertNotIn("zzz", out)
        self.assertNotIn("matchBogus", out["spec"]["selector"])

    def test_unsupported_value_comes_before_the_object(self):
        for method, path, options in (
                ("POST", "/api/v1/namespaces/{NS}/configmaps", "CreateOptions"),
                ("PUT", "/api/v1/namespaces/{NS}/configmaps/nope", "UpdateOptions"),
                ("PATCH", "/api/v1/namespaces/{NS}/configmaps/nope", "PatchOptions")):
            ctype = "application/merge-patch+json" if method == "PATCH" else "application/json"
            st, _, out = self.send(method, path + "?fieldValidation=strict",
                                   '{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"nope"}}', ctype)
            self.assertEqual(st, 422, method)
            self.assertEqual(out["message"], options + '.meta.k8s.io "" is invalid: fieldValidation: Unsupported '
                                                       'value: "strict": supported values: "", "Ignore", "Strict", '
                                                       '"Warn"')
            self.assertEqual(out["reason"], "Invalid")
            self.assertEqual(out["details"], {
                "group": "meta.k8s.io", "kind": options,
                "causes": [{"reason": "FieldValueNotSupported",
                            "message": 'Unsupported value: "strict": supported values: "", "Ignore", "Strict", '
                                       '"Warn"', "field": "fieldValidation"}]})

    def test_cases_names_nulls_map_keys_repeats(self):
        cases = [
            ('{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"q1","Labels":{"a":"b"},"nul":null,'
             '"labels":{"a":"b"},"labels":{"c":"d"}},"Data":{"x":"y"},"data":{"k":"v","k":"w"},"immutable":false,'
             '"aa":[1,2]}',
             'unknown field "metadata.Labels", unknown field "metadata.nul", duplicate field "metadata.labels", '
             'unknown field "Data", duplicate field "data.k", unknown field "aa"'),
            # an unknown key given three times is reported once
            ('{"kind":"ConfigMap","apiVersion":"v1","bogus":1,"metadata":{"name":"q2","labels":{"a":"b"},'
             '"labels":{"c":"d"}},"bogus":{"x":1},"bogus":3, "data":{"k":"v"}}',
             'unknown field "bogus", duplicate field "metadata.labels"'),
        ]
        for body, fields in cases:
            st, out = self.strict_error("POST", "/api/v1/namespaces/{NS}/configmaps?fieldValidation=Strict&dryRun=All",
                                        body)
            self.assertEqual(st, 400)
            self.assertEqual(out["message"], 'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict '
                                             'decoding error: ' + fields)

    def test_metadata_lists_free_form_fields_and_duplicate_lists(self):
        cases = [
            ('{"kind":"Pod","apiVersion":"v1","metadata":{"name":"p1","ownerReferences":[{"apiVersion":"v1",'
             '"kind":"X","name":"n","uid":"u","bogus":1}],"managedFields":[{"manager":"m","operation":"Update",'
             '"fieldsType":"FieldsV1","fieldsV1":{"f:anything":{"whatever":1}},"extra":1}]},"spec":{"overhead":'
             '{"cpu":"1"},"nodeSelector":{"a":"b"},"containers":[{"name":"c","image":"i","resources":{"limits":'
             '{"cpu":"1"}},"ports":[{"containerPort":1,"x":1}]}],"zz":{"a":{"b":1}}}}',
             'unknown field "metadata.ownerReferences[0].bogus", unknown field "metadata.managedFields[0].extra", '
             'unknown field "spec.containers[0].ports[0].x", unknown field "spec.zz"'),
            ('{"kind":"Pod","apiVersion":"v1","metadata":{"name":"p1"},"spec":{"containers":[{"name":"c","image":'
             '"i","ports":[{"containerPort":1}]}],"containers":[{"name":"c","image":"i","cb":1,"ports":[{'
             '"containerPort":1,"pb":2}]}]}}',
             'duplicate field "spec.containers", unknown field "spec.containers[0].cb", unknown field '
             '"spec.containers[0].ports[0].pb"'),
        ]
        for body, fields in cases:
            st, out = self.strict_error("POST", "/api/v1/namespaces/{NS}/pods?fieldValidation=Strict&dryRun=All", body)
            self.assertEqual(st, 400)
            self.assertEqual(out["message"], 'Pod in version "v1" cannot be handled as a Pod: strict decoding '
                                             'error: ' + fields)

    def test_update_and_status(self):
        obj = self.get("/apis/apps/v1/namespaces/{NS}/deployments/d1")[1]
        obj["spec"]["template"]["spec"]["containers"][0]["cbogus"] = 1
        obj.setdefault("status", {})["sbogus"] = 2
        for sub in ("", "/status"):
            st, out = self.strict_error("PUT", "/apis/apps/v1/namespaces/{NS}/deployments/d1" + sub +
                                        "?fieldValidation=Strict&dryRun=All", json.dumps(obj))
            self.assertEqual(st, 400)
            self.assertEqual(out["message"], 'Deployment in version "v1" cannot be handled as a Deployment: strict '
                                             'decoding error: unknown field "spec.template.spec.containers[0].cbogus",'
                                             ' unknown field "status.sbogus"')

    def test_patches(self):
        path = "/apis/apps/v1/namespaces/{NS}/deployments/d1?fieldValidation=Strict&dryRun=All"
        # merge and JSON patch: the Invalid value is the patched object (its JSON here is the fake's)
        for ctype, body, fields in (
                ("application/merge-patch+json", PATCH, PATCH_FIELDS),
                ("application/json-patch+json",
                 '[{"op":"add","path":"/spec/template/spec/containers/0/cbogus","value":1},'
                 '{"op":"add","path":"/zzz","value":{"a":1}}]',
                 ['unknown field "spec.template.spec.containers[0].cbogus"', 'unknown field "zzz"'])):
            st, out = self.strict_error("PATCH", path, body, ctype)
            self.assertEqual((st, out["reason"]), (422, "Invalid"), ctype)
            tail = '": strict decoding error: ' + ", ".join(fields)
            self.assertTrue(out["message"].startswith(' "" is invalid: patch: Invalid value: "{'), out["message"])
            self.assertTrue(out["message"].endswith(tail), out["message"])
            cause = out["details"]["causes"][0]
            self.assertEqual((cause["reason"], cause["field"]), ("FieldValueInvalid", "patch"))
            self.assertEqual(' "" is invalid: patch: ' + cause["message"], out["message"])
        # strategic merge patch: the Invalid value is the patch as a Go map, so the whole message is the real one
        st, out = self.strict_error("PATCH", path, PATCH, "application/strategic-merge-patch+json")
        self.assertEqual(st, 422)
        self.assertEqual(out["message"],
                         ' "" is invalid: patch: Invalid value: "map[metadata:map[bad:1] spec:map[replicas:0 '
                         'template:map[spec:map[containers:[map[cbogus:1 image:busybox name:c]]]]] zzz:1]": strict '
                         'decoding error: duplicate field "spec.replicas", unknown field "metadata.bad", unknown '
                         'field "spec.template.spec.containers[0].cbogus", unknown field "zzz"')
        for ctype in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
            for query in ("?dryRun=All", "?fieldValidation=Warn&dryRun=All"):
                st, warnings, out = self.send("PATCH", "/apis/apps/v1/namespaces/{NS}/deployments/d1" + query,
                                              PATCH, ctype)
                self.assertEqual(st, 200)
                self.assertEqual(warnings, [header(t) for t in PATCH_FIELDS])
                self.assertNotIn("zzz", out)
                self.assertNotIn("cbogus", out["spec"]["template"]["spec"]["containers"][0])
            st, warnings, _ = self.send("PATCH", "/apis/apps/v1/namespaces/{NS}/deployments/d1?fieldValidation=Ignore"
                                        "&dryRun=All", PATCH, ctype)
            self.assertEqual((st, warnings), (200, []))

    def test_warnings_go_on_an_error_that_follows(self):
        # a merge patch replacing the containers without an image: Invalid, with the warnings
        st, warnings, out = self.send("PATCH", "/apis/apps/v1/namespaces/{NS}/deployments/d1?dryRun=All",
                                      '{"zzz":1,"spec":{"template":{"spec":{"containers":[{"name":"c"}]}}}}',
                                      "application/merge-patch+json")
        self.assertEqual(st, 422)
        self.assertEqual(warnings, [header('unknown field "zzz"')])

    def test_scale(self):
        st, out = self.strict_error("PUT", "/apis/apps/v1/namespaces/{NS}/deployments/d1/scale?fieldValidation=Strict"
                                    "&dryRun=All", '{"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{"name":'
                                    '"d1","namespace":"{NS}"},"spec":{"replicas":0,"x":1}}')
        self.assertEqual(st, 400)
        self.assertEqual(out["message"], 'Scale in version "v1" cannot be handled as a Scale: strict decoding '
                                         'error: unknown field "spec.x"')
        st, out = self.strict_error("PATCH", "/apis/apps/v1/namespaces/{NS}/deployments/d1/scale?fieldValidation="
                                    "Strict&dryRun=All", '{"spec":{"replicas":0,"x":1}}', "application/merge-patch+json")
        self.assertEqual(st, 422)
        self.assertTrue(out["message"].startswith(' "" is invalid: patch: Invalid value: "{\\"apiVersion\\":'
                                                  '\\"autoscaling/v1\\",\\"kind\\":\\"Scale\\"'), out["message"])
        self.assertTrue(out["message"].endswith('": strict decoding error: unknown field "spec.x"'))

    def test_reviews(self):
        for path, body, kind, field in (
                ("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                 '{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":'
                 '{"resourceAttributes":{"verb":"get","resource":"pods","x":1}}}',
                 "SelfSubjectAccessReview", "spec.resourceAttributes.x"),
                ("/apis/authentication.k8s.io/v1/selfsubjectreviews",
                 '{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview","x":1}', "SelfSubjectReview",
                 "x")):
            st, out = self.strict_error("POST", path + "?fieldValidation=Strict", body)
            self.assertEqual(st, 400)
            self.assertEqual(out["message"], f'{kind} in version "v1" cannot be handled as a {kind}: strict decoding '
                                             f'error: unknown field "{field}"')
        st, _, out = self.send("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews?fieldValidation=Strict",
                               '{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":'
                               '{"resourceAttributes":{"verb":"get","resource":"pods"}}}')
        self.assertEqual((st, out["kind"]), (201, "SelfSubjectAccessReview"))

    def test_apply_refuses_unknown_fields_whatever_field_validation_says(self):
        body = ('{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d5","namespace":"{NS}"},"spec":'
                '{"replicas":0,"selector":{"matchLabels":{"app":"x"}},"template":{"metadata":{"labels":{"app":"x"}},'
                '"spec":{"tolerations":[{"key":"k","tb":1}],"containers":[{"name":"c","image":"busybox","ports":'
                '[{"containerPort":80,"pb":1},{"containerPort":81,"protocol":"UDP","pb2":1}],"env":[{"name":"E",'
                '"eb":1}],"args":["a"]}]}}}}')
        prefix = f"failed to create typed patch object ({NS}/d5; apps/v1, Kind=Deployment): "
        errors = ['.spec.template.spec.containers[name="c"].env[name="E"].eb: field not declared in schema',
                  '.spec.template.spec.containers[name="c"].ports[containerPort=80,protocol="TCP"].pb: field not '
                  'declared in schema',
                  '.spec.template.spec.containers[name="c"].ports[containerPort=81,protocol="UDP"].pb2: field not '
                  'declared in schema',
                  '.spec.template.spec.tolerations[0].tb: field not declared in schema']
        for fv in ("Strict", "Warn", "Ignore", ""):
            st, warnings, out = self.send("PATCH", "/apis/apps/v1/namespaces/{NS}/deployments/d5?fieldManager=t&dryRun"
                                          "=All&fieldValidation=" + fv, body, "application/apply-patch+yaml")
            self.assertEqual((st, warnings), (500, []), fv)
            message = out.pop("message")
            self.assertEqual(out, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                   "code": 500})
            self.assertTrue(message.startswith(prefix), message)
            listed = message[len(prefix):]
            listed = listed[len("errors:\n  "):].split("\n  ") if listed.startswith("errors:\n  ") else [listed]
            # The real server lists them in a different order from one request to the next, and
            # sometimes only some of them; the fake lists all, sorted.
            self.assertTrue(listed and set(listed) <= set(errors), message)
            if not VERIFY:
                self.assertEqual(listed, errors)
        # one error: on one line; the namespace and group as the applied object has them
        st, _, out = self.send("PATCH", "/api/v1/namespaces/{NS}/configmaps/c5?fieldManager=t&dryRun=All",
                               '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c5","ownerReferences":[{'
                               '"apiVersion":"v1","kind":"X","name":"n","uid":"u","ob":1}]},"data":{"a":"b"}}',
                               "application/apply-patch+yaml")
        self.assertEqual(st, 500)
        self.assertEqual(out["message"], 'failed to create typed patch object (/c5; /v1, Kind=ConfigMap): '
                                         '.metadata.ownerReferences[uid="u"].ob: field not declared in schema')

    def test_apply_duplicate_keys(self):
        text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c6\ndata:\n  a: b\n  a: c\n"
        path = "/api/v1/namespaces/{NS}/configmaps/c6?fieldManager=t&dryRun=All"
        st, out = self.strict_error("PATCH", path + "&fieldValidation=Strict", text, "application/apply-patch+yaml")
        self.assertEqual((st, out["reason"]), (400, "BadRequest"))
        self.assertEqual(out["message"], 'error strict decoding YAML: error converting YAML to JSON: yaml: unmarshal '
                                         'errors:\n  line 7: key "a" already set in map')
        st, warnings, out = self.send("PATCH", path, text, "application/apply-patch+yaml")
        self.assertEqual((st, warnings), (201, [header('line 7: key "a" already set in map')]))
        self.assertEqual(out["data"], {"a": "c"})
        st, warnings, _ = self.send("PATCH", path + "&fieldValidation=Ignore", text, "application/apply-patch+yaml")
        self.assertEqual((st, warnings), (201, []))
        # JSON sent as apply YAML (what wb sends) is on line 1
        st, out = self.strict_error("PATCH", path + "&fieldValidation=Strict",
                                    '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c6"},"data":{"a":"b",'
                                    '"a":"c"}}', "application/apply-patch+yaml")
        self.assertEqual(out["message"], 'error strict decoding YAML: error converting YAML to JSON: yaml: unmarshal '
                                         'errors:\n  line 1: key "a" already set in map')


@unittest.skipIf(VERIFY, "a real cluster is no 1.18 apiserver")
class FieldValidation118(unittest.TestCase):
    """A 1.18 apiserver knows no fieldValidation: it ignores the parameter like any query parameter it
    does not know (a 1.32 one ignores `?frobnicate=1` the same way) and drops unknown fields."""

    @classmethod
    def setUpClass(cls):
        cls.f = Fake(extra=["--k8s-version", "1.18"])

    @classmethod
    def tearDownClass(cls):
        cls.f.stop()

    def test_ignored(self):
        f = self.f
        self.assertEqual(f.req("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                              "metadata": {"name": "old"}})[0], 201)
        for i, fv in enumerate(("Strict", "strict", "Warn")):
            c = f.conn()
            c.request("POST", "/api/v1/namespaces/old/configmaps?fieldValidation=" + fv,
                      body='{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c%d","foo":1},"data":{"a":"b",'
                           '"a":"c"},"bogus":true}' % i,
                      headers={"Authorization": "Bearer " + f.token, "Content-Type": "application/json"})
            r = c.getresponse()
            out = json.loads(r.read())
            c.close()
            self.assertEqual((r.status, r.headers.get_all("Warning")), (201, None), fv)
            self.assertNotIn("bogus", out)
            self.assertNotIn("foo", out["metadata"])
            self.assertEqual(out["data"], {"a": "c"})


if __name__ == "__main__":
    unittest.main()
