"""The documentation a new user learns wb from: every command has a man page generated from the
same definitions as `--help`, the pages render cleanly, and the generator refuses sources that
would leave a command undocumented or describe one that does not exist.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "harness"))
from wbtest import WbTestCase, SOURCE_DIR  # noqa: E402

MAN_SRC = os.path.join(SOURCE_DIR, "man", "src")


def help_commands(text):
    """The top-level commands `wb --help` lists (its Subcommands section)."""
    names = []
    section = text.split("Subcommands:", 1)[1]
    for line in section.splitlines():
        m = re.match(r"^  (\S+?)(,.*)?\s{2,}", line)
        if m:
            names.append(m.group(1))
    return names


class ManPages(WbTestCase):
    def render(self, src=MAN_SRC):
        out = tempfile.mkdtemp(prefix="wb-man-")
        self.addCleanup(shutil.rmtree, out, True)
        return self.wb("__man", src, out), out

    def copy_sources(self):
        src = tempfile.mkdtemp(prefix="wb-mansrc-")
        self.addCleanup(shutil.rmtree, src, True)
        for f in os.listdir(MAN_SRC):
            shutil.copy(os.path.join(MAN_SRC, f), src)
        return src

    def test_every_command_in_help_has_a_page_that_documents_it(self):
        r, out = self.render()
        self.assertExit(r, 0)
        commands = help_commands(self.wb("--help").out)
        self.assertIn("app", commands)
        self.assertIn("completion", commands)
        pages = {}
        for f in os.listdir(out):
            with open(os.path.join(out, f)) as fh:
                pages[f] = fh.read()
        for cmd in commands:
            own = "wb-%s.1" % cmd
            # Its own page, or wb(1) / another page naming it in a synopsis or COMMANDS entry.
            documented = own in pages or any(
                re.search(r"(\.B |\\fB)wb %s\b" % re.escape(cmd.replace("-", "\\-")), text) for text in pages.values())
            self.assertTrue(documented, "no man page documents `wb %s`" % cmd)
        for name, text in pages.items():
            for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "EXIT STATUS", "ENVIRONMENT", "FILES", "EXAMPLES",
                            "SEE ALSO"):
                self.assertIn(".SH %s\n" % section, text, "%s has no %s section" % (name, section))

    def test_pages_carry_the_definitions(self):
        r, out = self.render()
        self.assertExit(r, 0)
        with open(os.path.join(out, "wb-app.1")) as f:
            page = f.read()
        # Every option of `wb app create --help` is in the page, with its value name.
        create_help = self.wb("app", "create", "--help").out
        for opt in re.findall(r"^\s+(--[a-z-]+)", create_help, re.M):
            if opt in ("--help", "--help-all"):
                continue
            self.assertIn(opt.replace("-", "\\-"), page, opt)
        self.assertIn("\\fB\\-\\-replicas\\fR \\fIN\\fR", page)
        # The exit statuses are those of `wb help exit-codes`.
        for line in self.wb("help", "exit-codes").out.splitlines()[2:]:
            code = line.split()[0]
            self.assertIn(".TP\n.B %s\n" % code, page)
        self.assertRegex(page, r'\n\.TH WB\\-APP 1 "[0-9-]+" "wb [0-9.]+" "User Commands"\n')
        self.assertTrue(page.startswith('.\\" Generated from man/src/wb-app.1.in'), page[:100])

    def test_a_description_ending_in_parentheses_still_ends_its_sentence(self):
        # Written prose follows a verb's one-line description in the same paragraph, so
        # "... (asks, or --yes)" must end in a full stop before "It removes ..." starts.
        r, out = self.render()
        self.assertExit(r, 0)
        with open(os.path.join(out, "wb-robot.1")) as f:
            self.assertIn("(asks, or \\-\\-yes).\nIt removes the RoleBinding", f.read())
        with open(os.path.join(out, "wb-tenant.1")) as f:
            self.assertIn("where KubeSphere runs).\nIt makes the ClusterRole", f.read())

    def test_a_command_without_a_page_fails_the_build_of_the_pages(self):
        src = self.copy_sources()
        os.remove(os.path.join(src, "wb-logs.1.in"))
        r, _ = self.render(src)
        self.assertOneLineError(r, 2, "`wb logs` has no man page", "man/src/wb-logs.1.in")

    def test_prose_for_something_that_does_not_exist_is_refused(self):
        src = self.copy_sources()
        with open(os.path.join(src, "wb-app.1.in"), "a") as f:
            f.write("@option app create --no-such-flag\nText.\n@end\n")
        r, _ = self.render(src)
        self.assertOneLineError(r, 2, "@option app create --no-such-flag: no such option")
        src = self.copy_sources()
        with open(os.path.join(src, "wb-route.1.in"), "a") as f:
            f.write("@verb route frobnicate\nText.\n@end\n")
        r, _ = self.render(src)
        self.assertOneLineError(r, 2, "@verb route frobnicate: no such command")

    def test_a_page_without_examples_is_refused(self):
        src = self.copy_sources()
        path = os.path.join(src, "wb-logs.1.in")
        with open(path) as f:
            text = f.read().replace(".SH EXAMPLES\n", ".SH SAMPLES\n")
        with open(path, "w") as f:
            f.write(text)
        r, _ = self.render(src)
        self.assertOneLineError(r, 2, "wb-logs.1.in: no EXAMPLES section")

    def test_two_pages_claiming_a_command_are_refused(self):
        src = self.copy_sources()
        path = os.path.join(src, "wb-logs.1.in")
        with open(path) as f:
            text = f.read().replace("@page logs\n", "@page logs app\n")
        with open(path, "w") as f:
            f.write(text)
        r, _ = self.render(src)
        self.assertOneLineError(r, 2, "`wb app` is claimed by two man pages")

    def test_generated_pages_render_without_warnings(self):
        r, out = self.render()
        self.assertExit(r, 0)
        for f in sorted(os.listdir(out)):
            p = subprocess.run(["groff", "-ww", "-man", "-Tutf8", os.path.join(out, f)], capture_output=True,
                               text=True)
            self.assertEqual(p.stderr, "", f)
            self.assertIn("EXIT STATUS", re.sub(".\b", "", p.stdout))
