#!/usr/bin/env python3
"""Copies deploy/config/segments.yaml into configmap.yaml's `segments.yaml` key.

The segment catalogue lives in deploy/config/segments.yaml; the ConfigMap carries a copy, which
tests/integration/deploy_static_test.py requires to be equal. Run this after editing the
catalogue:

    deploy/kubernetes/update-configmap.py          # rewrite configmap.yaml
    deploy/kubernetes/update-configmap.py --check  # exit 1 if configmap.yaml is out of date

Everything in configmap.yaml up to the `  segments.yaml: |` line (which must be the last key) is
kept as it is, comments included; what follows it is replaced by the catalogue, indented.
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIGMAP = os.path.join(HERE, "configmap.yaml")
SEGMENTS = os.path.join(HERE, "..", "config", "segments.yaml")
KEY_LINE = "  segments.yaml: |\n"
INDENT = "    "


def render(configmap_text, segments_text):
    head, found, _ = configmap_text.partition(KEY_LINE)
    if not found:
        sys.exit(f"{CONFIGMAP}: no line {KEY_LINE.strip()!r} (it must be the last key of data)")
    if not segments_text.endswith("\n") or segments_text.endswith("\n\n"):
        sys.exit(f"{SEGMENTS} must end with exactly one newline to be copied verbatim into a "
                 f"YAML literal block")
    if "\t" in segments_text:
        sys.exit(f"{SEGMENTS} contains a tab, which a YAML block cannot hold verbatim")
    body = "".join(INDENT + line if line.strip() else "\n"
                   for line in segments_text.splitlines(keepends=True))
    return head + KEY_LINE + body


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="only check that configmap.yaml is up to date")
    args = parser.parse_args()
    with open(CONFIGMAP) as f:
        current = f.read()
    with open(SEGMENTS) as f:
        wanted = render(current, f.read())
    if args.check:
        if current != wanted:
            sys.exit("deploy/kubernetes/configmap.yaml is out of date: run "
                     "deploy/kubernetes/update-configmap.py")
        return
    if current != wanted:
        with open(CONFIGMAP, "w") as f:
            f.write(wanted)
        print("updated deploy/kubernetes/configmap.yaml")


if __name__ == "__main__":
    main()
