"""wb's command line without a cluster: version, help, exit codes, usage errors, profiles."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "harness"))
from wbtest import WbTestCase  # noqa: E402


class VersionAndHelp(WbTestCase):
    def test_version_plain_and_json(self):
        r = self.wb("version")
        self.assertExit(r, 0)
        self.assertRegex(r.out, r"^wb \d+\.\d+\.\d+ \(")
        r = self.wb("version", "-o", "json")
        self.assertExit(r, 0)
        info = json.loads(r.out)
        self.assertRegex(info["version"], r"^\d+\.\d+\.\d+$")
        self.assertIn("libcurl", info)

    def test_help_lists_commands_and_global_flags(self):
        r = self.wb("--help")
        self.assertExit(r, 0)
        for word in ("profile", "workspace", "whoami", "version", "--kubeconfig", "--output", "--verbose"):
            self.assertIn(word, r.out)

    def test_help_exit_codes(self):
        r = self.wb("help", "exit-codes")
        self.assertExit(r, 0)
        for line in ("0  ok", "2  usage", "3  not found", "4  forbidden", "5  conflict", "6  timeout",
                     "7  unavailable", "130  interrupted"):
            self.assertIn(line, r.out)
        r = self.wb("help", "exit-codes", "-o", "json")
        codes = {c["code"]: c["name"] for c in json.loads(r.out)}
        self.assertEqual(codes[6], "timeout")

    def test_help_on_a_command(self):
        r = self.wb("help", "profile", "init")
        self.assertExit(r, 0)
        self.assertIn("--registry", r.out)
        r = self.wb("help", "nosuch")
        self.assertOneLineError(r, 2, "no help topic 'nosuch'")

    def test_usage_line_names_the_whole_command(self):
        # Not CLI11's "Usage: create [OPTIONS] [name]": the command as typed, placeholders in capitals.
        for args in (["app", "create", "--help"], ["help", "app", "create"]):
            r = self.wb(*args)
            self.assertExit(r, 0)
            self.assertIn("Usage: wb app create [OPTIONS] [NAME]\n", r.out)
        r = self.wb("config", "set", "--help")
        self.assertIn("Usage: wb config set [OPTIONS] APP [ENTRIES...]\n", r.out)
        r = self.wb("app")
        self.assertExit(r, 0)
        self.assertIn("Usage: wb app [OPTIONS] [SUBCOMMAND]\n", r.out)


class UsageErrors(WbTestCase):
    def test_unknown_command_suggests(self):
        r = self.wb("profil", "list")
        self.assertOneLineError(r, 2, "unknown command 'profil'", "did you mean 'profile'")

    def test_unknown_subcommand_suggests(self):
        r = self.wb("profile", "lst")
        self.assertOneLineError(r, 2, "unknown command 'lst'", "did you mean 'list'")

    def test_unknown_flag_suggests(self):
        r = self.wb("version", "--outptu", "json")
        self.assertOneLineError(r, 2, "unknown flag '--outptu'", "did you mean '--output'")

    def test_bad_output_format(self):
        r = self.wb("version", "-o", "xml")
        self.assertOneLineError(r, 2, "xml")

    def test_missing_argument(self):
        r = self.wb("profile", "use")
        self.assertOneLineError(r, 2, "name")

    def test_bad_duration(self):
        r = self.wb("version", "--request-timeout", "soon")
        self.assertOneLineError(r, 2, "duration")

    def test_too_large_a_number_is_a_usage_error(self):
        # Not "internal error: stoll": a number too large for wb is the user's to fix.
        r = self.wb("--request-timeout", "99999999999999999999", "version")
        self.assertOneLineError(r, 2, "--request-timeout", "'99999999999999999999'")
        self.assertNotIn("internal error", r.err)


class Profiles(WbTestCase):
    def profile_path(self, name):
        return os.path.join(self.home, ".config", "wb", "profiles", name + ".yaml")

    def test_init_list_use_show(self):
        r = self.wb("profile", "init", "acme", "--tenant", "shop", "-w", "shop-dev", "--registry",
                    "harbor.acme.test", "--base-image", "17=harbor.acme.test/base/java:17", "--domain", "apps.acme.test")
        self.assertExit(r, 0)
        self.assertIn("now the current profile", r.out)
        self.assertTrue(os.path.exists(self.profile_path("acme")))
        r = self.wb("profile", "init", "other", "--tenant", "blue")
        self.assertExit(r, 0)
        self.assertNotIn("current", r.out)
        r = self.wb("profile", "list", "-o", "json")
        self.assertExit(r, 0)
        items = {p["name"]: p for p in json.loads(r.out)}
        self.assertTrue(items["acme"]["current"])
        self.assertFalse(items["other"]["current"])
        self.assertEqual(items["acme"]["workspace"], "shop-dev")
        self.assertEqual(items["acme"]["registry"], "harbor.acme.test")
        # pipe mode: tab-separated, no header
        r = self.wb("profile", "list")
        self.assertEqual(r.out.splitlines()[0].split("\t"), ["*", "acme", "shop", "shop-dev", "harbor.acme.test"])
        # TTY mode: a header and aligned columns
        r = self.wb("profile", "list", tty=True)
        self.assertIn("CURRENT", r.out)
        self.assertIn("REGISTRY", r.out)
        r = self.wb("profile", "use", "other")
        self.assertExit(r, 0)
        r = self.wb("profile", "show", "-o", "json")
        self.assertEqual(json.loads(r.out)["settings"]["tenant"], "blue")
        r = self.wb("profile", "show", "acme", "-o", "json")
        s = json.loads(r.out)["settings"]
        self.assertEqual(s["baseImages.17"], "harbor.acme.test/base/java:17")
        self.assertEqual(s["route.domain"], "apps.acme.test")

    def test_init_refuses_to_overwrite(self):
        self.assertExit(self.wb("profile", "init", "acme"), 0)
        with open(self.profile_path("acme")) as f:
            before = f.read()
        r = self.wb("profile", "init", "acme", "--tenant", "x")
        self.assertOneLineError(r, 5, "exists already", "--force")
        with open(self.profile_path("acme")) as f:
            self.assertEqual(f.read(), before)
        self.assertExit(self.wb("profile", "init", "acme", "--tenant", "x", "--force"), 0)

    def test_bad_names_and_unknown_profiles(self):
        self.assertOneLineError(self.wb("profile", "init", "Bad_Name"), 2, "not a valid profile name")
        self.assertExit(self.wb("profile", "init", "acme"), 0)
        r = self.wb("profile", "use", "nope")
        self.assertOneLineError(r, 3, "profile 'nope' not found", "known: acme")
        r = self.wb("profile", "show", "--resolved", "--profile", "nope")
        self.assertOneLineError(r, 3, "profile 'nope' not found")

    def test_malformed_profile_names_file_line_col(self):
        os.makedirs(os.path.dirname(self.profile_path("broken")))
        with open(self.profile_path("broken"), "w") as f:
            f.write("tenant: shop\nregistry:\n  host: [unclosed\n")
        r = self.wb("profile", "show", "--resolved", "--profile", "broken")
        self.assertOneLineError(r, 2, self.profile_path("broken") + ":")
        with open(self.profile_path("broken"), "w") as f:
            f.write("tenant: shop\nregistry:\n  hots: x\n")
        r = self.wb("profile", "show", "--resolved", "--profile", "broken")
        self.assertOneLineError(r, 2, self.profile_path("broken") + ":3:3: unknown setting 'registry.hots'",
                                "did you mean 'registry.host'")
        with open(self.profile_path("broken"), "w") as f:
            f.write("defaults:\n  replicas: many\n")
        r = self.wb("profile", "show", "--resolved", "--profile", "broken")
        self.assertOneLineError(r, 2, ":2:13: defaults.replicas must be a whole number")

    def test_resolved_precedence_flag_env_appfile_profile_default(self):
        self.assertExit(self.wb("profile", "init", "acme", "--tenant", "shop", "-w", "from-profile",
                                "--registry", "reg.profile"), 0)
        with open(os.path.join(self.workdir, "wb.yaml"), "w") as f:
            f.write("app:\n  name: orders\nworkspace: from-appfile\nregistry:\n  project: from-appfile\n")

        def resolved(*extra, env=None):
            r = self.wb("profile", "show", "--resolved", "-o", "json", *extra, env=env)
            self.assertExit(r, 0)
            return json.loads(r.out)["settings"]

        s = resolved()
        self.assertEqual(s["workspace"]["value"], "from-appfile")
        self.assertEqual(s["workspace"]["source"], "wb.yaml")
        self.assertEqual(s["registry.host"], {"value": "reg.profile", "source": "profile",
                                              "from": self.profile_path("acme")})
        self.assertEqual(s["defaults.replicas"]["source"], "default")
        s = resolved(env={"WB_WORKSPACE": "from-env", "WB_REGISTRY_HOST": "reg.env"})
        self.assertEqual(s["workspace"]["value"], "from-env")
        self.assertEqual(s["workspace"]["from"], "WB_WORKSPACE")
        self.assertEqual(s["registry.host"]["value"], "reg.env")
        s = resolved("-w", "from-flag", env={"WB_WORKSPACE": "from-env"})
        self.assertEqual(s["workspace"], {"value": "from-flag", "source": "flag", "from": "--workspace"})
        # WB_PROFILE selects a profile; --profile beats it.
        self.assertExit(self.wb("profile", "init", "second", "--tenant", "blue"), 0)
        os.remove(os.path.join(self.workdir, "wb.yaml"))
        s = resolved(env={"WB_PROFILE": "second"})
        self.assertEqual(s["tenant"]["value"], "blue")
        s = resolved("--profile", "acme", env={"WB_PROFILE": "second"})
        self.assertEqual(s["tenant"]["value"], "shop")

    def test_bad_env_value_is_named(self):
        r = self.wb("profile", "show", "--resolved", env={"WB_DEFAULTS_REPLICAS": "lots"})
        self.assertOneLineError(r, 2, "WB_DEFAULTS_REPLICAS")


if __name__ == "__main__":
    import unittest
    unittest.main()
