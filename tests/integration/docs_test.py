#!/usr/bin/env python3
"""The documentation and the code agree on every command-line flag.

- README.md's "## profile-service" block is exactly what `profile-service --help` prints: the
  configuration reference cannot drift from the option table it is generated from.
- Every flag of a tool is documented in that tool's README (profilectl: every command's).
- Every `--flag` written anywhere in the project's Markdown is a flag of one of our programs or
  scripts, or of an outside tool the text runs (cmake, ctest, apt-get...), so a renamed or
  misspelt flag in the docs fails here.
"""

import argparse
import os
import re
import subprocess
import sys

FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9]*(?:-[a-z0-9]+)*")

# Flags of outside programs the docs show being run, by program: only those the docs use.
OUTSIDE_FLAGS = {
    "cmake": {"--build", "--target"},
    "ctest": {"--test-dir", "--output-on-failure", "--timeout"},
    "docker": {"--name"},
    "kafka-consumer-groups": {"--bootstrap-server", "--describe", "--group"},
    "kafka-configs": {"--bootstrap-server", "--alter"},
    "kubectl": {"--dry-run"},
}


def run(command):
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"{' '.join(command)} exited {done.returncode}: {done.stderr}"
    return done.stdout + done.stderr


def flags_of(text):
    return set(FLAG.findall(text))


def profilectl_commands(profilectl):
    text = run([profilectl, "--help"])
    section = text.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    return [line.split()[0] for line in section.splitlines() if line.strip()]


def project_markdown(source_dir):
    listed = subprocess.run(["git", "-C", source_dir, "ls-files", "--cached", "--others",
                             "--exclude-standard", "*.md"], capture_output=True, text=True)
    if listed.returncode == 0 and listed.stdout.strip():
        names = listed.stdout.split()
    else:  # not a git checkout (a source archive): every Markdown file outside build trees
        names = []
        for root, dirs, files in os.walk(source_dir):
            dirs[:] = [d for d in dirs if not d.startswith((".", "build"))]
            names += [os.path.relpath(os.path.join(root, f), source_dir)
                      for f in files if f.endswith(".md")]
    return sorted(names)


def readme_block(readme, heading):
    """The first fenced block after `heading`."""
    text = readme.split(f"\n{heading}\n", 1)[1]
    return text.split("```\n", 1)[1].split("```\n", 1)[0]


def check_service_reference(source_dir, service):
    with open(os.path.join(source_dir, "README.md"), encoding="utf-8") as f:
        documented = readme_block(f.read(), "## profile-service")
    actual = run([service, "--help"])
    if documented != actual:
        import difflib
        diff = "".join(difflib.unified_diff(documented.splitlines(True), actual.splitlines(True),
                                            "README.md", "profile-service --help"))
        raise AssertionError("README.md's profile-service reference differs from --help; "
                             f"paste the new help in:\n{diff}")


def check_tool_readmes(source_dir, tools):
    problems = []
    for readme, flags in tools.items():
        with open(os.path.join(source_dir, readme), encoding="utf-8") as f:
            documented = flags_of(f.read())
        for flag in sorted(flags - documented - {"--help"}):
            problems.append(f"{readme} does not mention {flag}")
    assert not problems, "undocumented flags:\n  " + "\n  ".join(problems)


def check_every_mentioned_flag(source_dir, known):
    allowed = set().union(known, *OUTSIDE_FLAGS.values())
    problems = []
    for name in project_markdown(source_dir):
        with open(os.path.join(source_dir, name), encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                for flag in flags_of(line):
                    if flag not in allowed:
                        problems.append(f"{name}:{number}: {flag} is no flag of any program here")
    assert not problems, "flags in the docs that nothing takes:\n  " + "\n  ".join(problems)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    for program in ("profile-service", "event-gen", "replay", "kafka-local", "profilectl",
                    "pipeline-bench", "timer-bench"):
        parser.add_argument(f"--{program}", required=True)
    parser.add_argument("--source-dir", required=True)
    args = parser.parse_args()
    source = args.source_dir

    helps = {name: run([getattr(args, name.replace("-", "_")), "--help"])
             for name in ("profile-service", "event-gen", "replay", "kafka-local",
                          "pipeline-bench", "timer-bench")}
    profilectl_flags = set()
    for command in profilectl_commands(args.profilectl):
        profilectl_flags |= flags_of(run([args.profilectl, command, "--help"]))
    scripts = {}
    for script in ("tools/dev/test.sh", "tools/dev/run-demo.sh"):
        scripts[script] = flags_of(run(["bash", os.path.join(source, script), "--help"]))
    # Python scripts, including the test drivers the test docs show being run by hand.
    integration = os.path.join(source, "tests/integration")
    for script in ["tools/bench/scale_bench.py", "tools/bench/alternate.py",
                   "deploy/kubernetes/update-configmap.py"] + [
            os.path.join("tests/integration", name) for name in sorted(os.listdir(integration))
            if name.endswith("_test.py")]:
        scripts[script] = flags_of(run([sys.executable, os.path.join(source, script), "--help"]))

    check_service_reference(source, args.profile_service)
    check_tool_readmes(source, {
        "tools/event-gen/README.md": flags_of(helps["event-gen"]),
        "tools/replay/README.md": flags_of(helps["replay"]),
        "tools/kafka-local/README.md": flags_of(helps["kafka-local"]),
        "tools/profilectl/README.md": profilectl_flags,
    })
    known = set(profilectl_flags).union(*(flags_of(text) for text in helps.values()),
                                        *scripts.values())
    check_every_mentioned_flag(source, known)
    print("docs and code agree on every flag")


if __name__ == "__main__":
    main()
