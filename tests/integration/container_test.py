#!/usr/bin/env python3
"""The container image (deploy/container/Dockerfile), checked without a Docker engine.

No engine runs where the tests run, so the Dockerfile is parsed and held against what it must
agree with: the built binaries (the shared libraries ldd finds, mapped to Debian packages with
dpkg -S; the flags and the default HTTP port of profile-service --help), the repository (the
files COPY takes from the build context, .dockerignore, tools/dev/install-deps.sh) and the
CMake build tree layout. The image runs as a numeric non-root user.

Each check raises CheckFailed with what is wrong; main() stops at the first failure, exit 1.
"""

import argparse
import glob
import json
import os
import re
import shlex
import subprocess
import sys

FINAL_BASE_IMAGE = "debian:bookworm-slim"

# Packages every debian:bookworm-slim image already holds (apt and dpkg depend on them), so the
# runtime stage need not install them. Kept short on purpose: anything else the binaries load
# must be named in the Dockerfile, even where it is in the base image today.
BASE_IMAGE_PACKAGES = {
    "libc6",       # libc, libm, the dynamic loader
    "libgcc-s1",   # libgcc_s
    "libstdc++6",  # libstdc++
    "zlib1g",      # libz
}

# Runtime packages that ldd cannot see, because they provide data rather than libraries.
RUNTIME_DATA_PACKAGES = {
    "tzdata": "the segment catalogue names a time zone, which absl loads from /usr/share/zoneinfo",
    "ca-certificates": "the trust store for brokers reached over TLS (SSL, SASL_SSL)",
}

# Packages of tools/dev/install-deps.sh the image's build stage does without, and why. Any other
# package added to that script must be added to the build stage too (or here, with a reason).
BUILD_EXCLUDED = {
    "python3": "runs the integration tests only",
    "python3-confluent-kafka": "the integration tests' Kafka client",
    "python3-protobuf": "the integration tests' protobuf module",
    "kcat": "a developer's Kafka command-line client",
    "clang-format": "formats the sources; the build never runs it",
    "git": "the build fetches nothing and reads no revision",
    "tzdata": "time zones are needed at run time (the runtime stage has it), not to compile",
    "ca-certificates": "the build downloads nothing over TLS",
    "clang": "compiles the test build (sanitizers, libFuzzer); the image is built with GCC",
    "libclang-rt-14-dev": "clang's sanitizer and libFuzzer runtimes, for the test build only",
    "llvm": "its symbolizer names source lines in sanitizer reports of the test build",
    "prometheus": "Prometheus and promtool, for the tests of deploy/ (deploy_manifests, "
                  "integration_prometheus)",
    "python3-yaml": "the deploy/ tests read its YAML files",
}


class CheckFailed(Exception):
    pass


def require(condition, message):
    if not condition:
        raise CheckFailed(message)


# --- Dockerfile parsing -------------------------------------------------------------------------


class Instruction:
    def __init__(self, line, keyword, args):
        self.line = line          # line number of the instruction's first line
        self.keyword = keyword    # upper case: FROM, RUN, COPY...
        self.args = args          # the rest, continuation lines joined

    def exec_form(self):
        """The JSON array of an exec-form instruction (CMD, ENTRYPOINT), else None."""
        if self.args.startswith("["):
            try:
                value = json.loads(self.args)
            except json.JSONDecodeError:
                return None
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return value
        return None

    def words(self):
        """The arguments as words: the exec form's array, or shell-like splitting."""
        exec_form = self.exec_form()
        return exec_form if exec_form is not None else shlex.split(self.args)

    def __repr__(self):
        return f"line {self.line}: {self.keyword} {self.args}"


class Stage:
    def __init__(self, index, base, name, line):
        self.index = index
        self.base = base
        self.name = name
        self.line = line
        self.instructions = []

    def all(self, keyword):
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword):
        found = self.all(keyword)
        return found[-1] if found else None

    def label(self):
        return f"stage {self.index} ({self.name or 'unnamed'}, FROM {self.base}, line {self.line})"


def parse_dockerfile(text):
    """Instructions, with backslash continuations joined and comment lines dropped (also inside
    a continued instruction, as Docker does)."""
    instructions = []
    current, start = None, 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and current is None):
            continue
        if current is None:
            current, start = "", number
        continued = stripped.endswith("\\")
        current += (stripped[:-1] if continued else stripped) + " "
        if not continued:
            keyword, _, args = current.strip().partition(" ")
            instructions.append(Instruction(start, keyword.upper(), args.strip()))
            current = None
    require(current is None, "the Dockerfile ends inside a continued instruction")
    return instructions


def split_stages(instructions):
    stages = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            words = [w for w in instruction.args.split() if not w.startswith("--platform")]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(len(stages), words[0], name, instruction.line))
        elif instruction.keyword != "ARG" or stages:
            require(stages, f"{instruction!r} comes before the first FROM")
            stages[-1].instructions.append(instruction)
    return stages


def shell_commands(run):
    """The simple commands of a RUN's shell form, split at &&, ||, ; and |."""
    lexer = shlex.shlex(run.args, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands, current = [], []
    for token in lexer:
        if token and set(token) <= set("&|;"):
            if current:
                commands.append(current)
            current = []
        else:
            current.append(token)
    if current:
        commands.append(current)
    # Drop leading VAR=value assignments.
    return [c[next((i for i, w in enumerate(c) if not re.match(r"^\w+=", w)), len(c)):]
            for c in commands]


def apt_installed(stage):
    """Packages named by `apt-get install` (or `apt install`) in the stage's RUN instructions."""
    packages = set()
    for run in stage.all("RUN"):
        for command in shell_commands(run):
            if len(command) >= 2 and command[0] in ("apt-get", "apt") and "install" in command:
                after = command[command.index("install") + 1:]
                packages.update(w for w in after if not w.startswith("-"))
    return packages


def copy_parts(instruction):
    """(options, sources, destination) of a COPY or ADD."""
    words = instruction.words()
    options = {}
    while words and words[0].startswith("--"):
        key, _, value = words.pop(0)[2:].partition("=")
        options[key] = value
    require(len(words) >= 2, f"{instruction!r}: needs a source and a destination")
    return options, words[:-1], words[-1]


def stage_by_reference(stages, reference):
    for stage in stages:
        if stage.name == reference or str(stage.index) == reference:
            return stage
    raise CheckFailed(f"COPY --from={reference}: no such stage")


# --- what the binaries and the repository say ---------------------------------------------------


def run_text(command):
    result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    require(result.returncode == 0,
            f"{' '.join(command)} exited {result.returncode}: {result.stderr.strip()}")
    return result.stdout


def help_options(help_text):
    """{flag: description} of the options `--help` lists ("  --name VALUE" lines)."""
    options, current = {}, None
    for line in help_text.splitlines():
        match = re.match(r"^  (--[a-z0-9][a-z0-9-]*)", line)
        if match:
            current = match.group(1)
            options[current] = ""
        elif current and line.startswith("      "):
            options[current] += " " + line.strip()
        else:
            current = None
    return options


def ldd_libraries(binary):
    """The resolved paths of the shared libraries `ldd` finds for the binary."""
    libraries = []
    for line in run_text(["ldd", binary]).splitlines():
        line = line.strip()
        require("not found" not in line, f"ldd {binary}: {line}")
        if "=>" in line:
            path = line.split("=>", 1)[1].split("(")[0].strip()
        else:
            path = line.split("(")[0].strip()
        if path.startswith("/"):   # linux-vdso has no file
            libraries.append(path)
    require(libraries, f"ldd found no shared library for {binary}: is it dynamically linked?")
    return libraries


def debian_packages_of(paths):
    """{path: the package dpkg -S names for it}, each library tried as ldd printed it, resolved,
    and across the merged /usr (dpkg may know /lib/x or /usr/lib/x only). One dpkg call for them
    all: a call per path took most of a minute."""
    candidates = {}
    for path in paths:
        tried = [path, os.path.realpath(path)]
        for candidate in list(tried):
            if candidate.startswith("/usr/"):
                tried.append(candidate[len("/usr"):])
            else:
                tried.append("/usr" + candidate)
        candidates[path] = tried
    every = sorted({candidate for tried in candidates.values() for candidate in tried})
    # Exit 1 only says that some paths belong to no package, as most of the variants do.
    result = subprocess.run(["dpkg", "-S", *every], capture_output=True, text=True, timeout=60)
    require(result.returncode in (0, 1),
            f"dpkg -S exited {result.returncode}: {result.stderr.strip()}")
    owners = {}
    for line in result.stdout.splitlines():
        owner, separator, owned = line.rpartition(": ")
        if separator and not owner.startswith("diversion by"):
            owners[owned.strip()] = owner.split(":", 1)[0].strip()
    packages = {}
    for path, tried in candidates.items():
        owner = next((owners[candidate] for candidate in tried if candidate in owners), None)
        require(owner, f"dpkg -S finds no package owning {path} (tried {', '.join(tried)})")
        packages[path] = owner
    return packages


def install_deps_packages(source_dir):
    """The `packages=( ... )` array of tools/dev/install-deps.sh."""
    path = os.path.join(source_dir, "tools", "dev", "install-deps.sh")
    with open(path) as f:
        text = f.read()
    match = re.search(r"^packages=\((.*?)^\)", text, re.S | re.M)
    require(match, f"{path}: no packages=( ... ) array found")
    words = []
    for line in match.group(1).splitlines():
        words.extend(line.split("#", 1)[0].split())
    return words


def build_tree_of(binary):
    """The CMake build directory a binary was built in (where CMakeCache.txt is)."""
    directory = os.path.dirname(os.path.abspath(binary))
    while directory != os.path.dirname(directory):
        if os.path.exists(os.path.join(directory, "CMakeCache.txt")):
            return directory
        directory = os.path.dirname(directory)
    raise CheckFailed(f"{binary} is not inside a CMake build tree (no CMakeCache.txt above it)")


def dockerignore_patterns(source_dir):
    path = os.path.join(source_dir, ".dockerignore")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [line.strip() for line in f if line.strip() and not line.startswith("#")]


def dockerignore_regex(pattern):
    """A .dockerignore pattern as a regex over paths relative to the context root: as Go's
    filepath.Match, '*' and '?' stay within one path element; '**' spans any number."""
    pattern = os.path.normpath(pattern.lstrip("/"))
    regex, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            regex, i = regex + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            regex, i = regex + ".*", i + 2
        elif pattern[i] == "*":
            regex, i = regex + "[^/]*", i + 1
        elif pattern[i] == "?":
            regex, i = regex + "[^/]", i + 1
        else:
            regex, i = regex + re.escape(pattern[i]), i + 1
    return re.compile(regex + r"\Z")


def ignored(relative, patterns):
    """Whether .dockerignore keeps `relative` out of the build context: a pattern excludes the
    paths it matches and everything under them; '!' re-includes; the last match wins."""
    relative = os.path.normpath(relative)
    if relative == ".":
        return False
    parts = relative.split(os.sep)
    prefixes = [os.sep.join(parts[:n]) for n in range(1, len(parts) + 1)]
    result = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        regex = dockerignore_regex(pattern[1:] if negate else pattern)
        if any(regex.match(prefix) for prefix in prefixes):
            result = not negate
    return result


# --- the checks -----------------------------------------------------------------------------------


class Context:
    def __init__(self, args):
        self.args = args
        self.dockerfile = args.dockerfile or os.path.join(
            args.source_dir, "deploy", "container", "Dockerfile")
        with open(self.dockerfile) as f:
            self.stages = split_stages(parse_dockerfile(f.read()))
        require(self.stages, f"{self.dockerfile}: no FROM")
        self.final = self.stages[-1]
        self.binaries = [args.profile_service, args.profilectl]
        self._help = None

    def help_text(self):
        if self._help is None:
            self._help = run_text([self.args.profile_service, "--help"])
        return self._help

    def command_line(self):
        """ENTRYPOINT + CMD of the final stage, both required in exec form."""
        entrypoint, cmd = self.final.last("ENTRYPOINT"), self.final.last("CMD")
        require(entrypoint is not None, "the final stage has no ENTRYPOINT")
        for instruction in (entrypoint, cmd):
            if instruction is not None:
                require(instruction.exec_form() is not None,
                        f"{instruction!r}: use the exec form (a JSON array), so that the service "
                        "is PID 1 and receives SIGTERM itself")
        return entrypoint.exec_form() + (cmd.exec_form() if cmd is not None else [])

    def builder_stages(self):
        """The stages the final stage copies from."""
        stages = []
        for copy in self.final.all("COPY"):
            options, _, _ = copy_parts(copy)
            if "from" in options:
                stage = stage_by_reference(self.stages, options["from"])
                if stage not in stages:
                    stages.append(stage)
        return stages


def check_stages(ctx):
    require(len(ctx.stages) >= 2,
            f"{len(ctx.stages)} stage(s): the image must be multi-stage, so that compilers and "
            "-dev packages stay out of it")
    require(ctx.final.base == FINAL_BASE_IMAGE,
            f"the final stage is FROM {ctx.final.base}, expected {FINAL_BASE_IMAGE}")
    builders = ctx.builder_stages()
    require(builders, "the final stage copies nothing from a build stage (COPY --from=...)")
    for stage in builders:
        require(stage.base.startswith("debian:bookworm"),
                f"{stage.label()}: the build stage must be on the runtime's Debian release "
                "(bookworm), or the runtime packages will not carry the libraries it linked")
    return (f"{len(ctx.stages)} stages, final FROM {ctx.final.base}, built in "
            + ", ".join(s.label() for s in builders))


def check_non_root_user(ctx):
    user = ctx.final.last("USER")
    require(user is not None, "the final stage sets no USER: the service would run as root")
    uid, _, gid = user.args.partition(":")
    require(re.fullmatch(r"\d+", uid),
            f"{user!r}: USER must be a numeric uid, so that Kubernetes' runAsNonRoot can verify "
            "it without resolving a name")
    require(int(uid) != 0, f"{user!r}: uid 0 is root")
    require(not gid or (re.fullmatch(r"\d+", gid) and int(gid) != 0),
            f"{user!r}: the group must be numeric and not 0 (root)")
    last_user_index = ctx.final.instructions.index(user)
    later = [i for i in ctx.final.instructions[last_user_index + 1:] if i.keyword == "RUN"]
    if later:
        raise CheckFailed(f"{later[0]!r}: RUN after USER runs as {uid}; create files before it")

    created_user = None
    created_group_ids = set()
    for run in ctx.final.all("RUN"):
        for command in shell_commands(run):
            if not command:
                continue
            options = dict(zip(command, command[1:] + [""]))
            if command[0] == "useradd":
                created_user = (options.get("--uid") or options.get("-u"), command[-1],
                                options.get("--gid") or options.get("-g"))
            elif command[0] == "groupadd":
                created_group_ids.add(options.get("--gid") or options.get("-g"))
    require(created_user is not None, "the final stage creates no user (useradd)")
    require(created_user[0] == uid,
            f"useradd creates '{created_user[1]}' with uid {created_user[0]}, but USER is {uid}")
    if gid:
        require(gid in created_group_ids or gid == created_user[2],
                f"USER {user.args}: no groupadd --gid {gid} nor useradd --gid {gid}")

    # Every volume must be writable by that user.
    owners = {uid, created_user[1]}
    for volume in ctx.final.all("VOLUME"):
        for path in volume.words():
            owned = False
            for run in ctx.final.all("RUN"):
                for command in shell_commands(run):
                    if not command or path not in command:
                        continue
                    if command[0] == "chown":
                        owner = next(w for w in command[1:] if not w.startswith("-"))
                        owned |= owner.split(":")[0] in owners
                    elif command[0] == "install":
                        options = dict(zip(command, command[1:] + [""]))
                        owned |= (options.get("-o") or options.get("--owner")) in owners
            require(owned, f"{volume!r}: {path} is not made owned by uid {uid} (chown or "
                           "install -o): the service could not write its state there")
    return f"USER {user.args}, created by useradd --uid {uid}, owning its volumes"


def check_runtime_libraries(ctx):
    installed = apt_installed(ctx.final)
    require(installed, "the final stage installs no package with apt-get install")
    dev = sorted(p for p in installed if p.endswith("-dev"))
    require(not dev, f"the runtime stage installs -dev packages: {', '.join(dev)}")
    for package, why in RUNTIME_DATA_PACKAGES.items():
        require(package in installed, f"the runtime stage must install {package}: {why}")
    # A sanitizer build (CI's) loads no jemalloc, and with GCC the sanitizer runtimes, which the
    # image's Release build does not: those are left out, the rest must match.
    sanitizer_runtime = re.compile(r"lib(asan|ubsan|lsan|tsan)\.so")
    loaded_by = {}
    for binary in ctx.binaries:
        for library in ldd_libraries(binary):
            if not sanitizer_runtime.match(os.path.basename(library)):
                loaded_by.setdefault(library, []).append(binary)
    packages = debian_packages_of(loaded_by)
    needed = {}
    for library, binaries in loaded_by.items():
        for binary in binaries:
            needed.setdefault(packages[library], set()).add(
                f"{os.path.basename(library)} ({os.path.basename(binary)})")
    available = installed | BASE_IMAGE_PACKAGES
    missing = {p: libs for p, libs in needed.items() if p not in available}
    require(not missing,
            "the runtime stage does not install the packages of these libraries: "
            + "; ".join(f"{p} for {', '.join(sorted(libs))}" for p, libs in sorted(missing.items())))
    return (f"{len(loaded_by)} libraries from {len(needed)} packages, all "
            f"installed or in the base image: {', '.join(sorted(needed))}")


def check_flags(ctx):
    words = ctx.command_line()
    known = help_options(ctx.help_text())
    require(known, f"{ctx.args.profile_service} --help lists no options")
    entrypoint = words[0]
    copied = set()
    for copy in ctx.final.all("COPY"):
        _, sources, destination = copy_parts(copy)
        for source in sources:
            copied.add(os.path.join(destination, os.path.basename(source))
                       if destination.endswith("/") else destination)
    require(entrypoint in copied,
            f"ENTRYPOINT runs {entrypoint}, which no COPY of the final stage puts there")
    require(os.path.basename(entrypoint) == os.path.basename(ctx.args.profile_service),
            f"ENTRYPOINT runs {entrypoint}, not profile-service")
    flags = [w.split("=", 1)[0] for w in words[1:] if w.startswith("--")]
    unknown = [f for f in flags if f not in known]
    require(not unknown,
            f"CMD/ENTRYPOINT use flags profile-service does not have: {', '.join(unknown)}")
    return f"{' '.join(words)}: every flag ({', '.join(flags)}) is in --help"


def check_exposed_port(ctx):
    description = help_options(ctx.help_text()).get("--http-port")
    require(description is not None, "profile-service --help has no --http-port")
    match = re.search(r"Default: (\d+)", description)
    require(match, f"--help gives no default for --http-port: {description.strip()}")
    port, source = match.group(1), "the default of --http-port in --help"
    words = ctx.command_line()
    for i, word in enumerate(words):
        if word == "--http-port" and i + 1 < len(words):
            port, source = words[i + 1], "--http-port in CMD/ENTRYPOINT"
        elif word.startswith("--http-port="):
            port, source = word.split("=", 1)[1], "--http-port in CMD/ENTRYPOINT"
    exposed = [w.split("/")[0] for e in ctx.final.all("EXPOSE") for w in e.args.split()]
    require(exposed == [port],
            f"EXPOSE {' '.join(exposed) or '(none)'}, but the service listens on {port} "
            f"({source})")
    return f"EXPOSE {port} = {source}"


def check_copies(ctx):
    source_dir = ctx.args.source_dir
    patterns = dockerignore_patterns(source_dir)
    from_context = []
    for stage in ctx.stages:
        for copy in stage.all("COPY") + stage.all("ADD"):
            options, sources, _ = copy_parts(copy)
            if "from" in options:
                continue
            for source in sources:
                matches = glob.glob(os.path.join(source_dir, source))
                require(matches, f"{copy!r}: {source} does not exist under {source_dir}")
                require(not ignored(source, patterns),
                        f"{copy!r}: .dockerignore excludes {source} from the build context")
                from_context.append(source)

    # The binaries copied from the build stage: where its cmake puts them, found as the given
    # binaries sit in their own build tree.
    builders = ctx.builder_stages()
    expected = {}
    for stage in builders:
        workdir = stage.last("WORKDIR")
        require(workdir is not None, f"{stage.label()}: no WORKDIR to build in")
        build_dirs, targets = set(), set()
        for run in stage.all("RUN"):
            for command in shell_commands(run):
                if command[:1] != ["cmake"]:
                    continue
                options = dict(zip(command, command[1:] + [""]))
                if "-B" in options:
                    build_dirs.add(options["-B"])
                if "--target" in command:
                    after = command[command.index("--target") + 1:]
                    targets.update(w for w in after[:next(
                        (i for i, w in enumerate(after) if w.startswith("-")), len(after))])
        require(len(build_dirs) == 1,
                f"{stage.label()}: expected one cmake -B build directory, found {build_dirs}")
        build_dir = os.path.join(workdir.args, build_dirs.pop())
        require(ignored(os.path.relpath(build_dir, workdir.args), patterns),
                f".dockerignore must exclude {os.path.relpath(build_dir, workdir.args)}: a "
                "CMakeCache.txt there from a local build would break the image's configure")
        for binary in ctx.binaries:
            name = os.path.basename(binary)
            require(name in targets,
                    f"{stage.label()}: cmake --build does not build the target {name}")
            relative = os.path.relpath(os.path.abspath(binary), build_tree_of(binary))
            expected[os.path.join(build_dir, relative)] = stage
    copied = set()
    for copy in ctx.final.all("COPY"):
        options, sources, _ = copy_parts(copy)
        if "from" not in options:
            continue
        for source in sources:
            require(source in expected,
                    f"{copy!r}: {source} is not where the build stage's cmake puts a binary "
                    f"(expected one of: {', '.join(sorted(expected))})")
            copied.add(source)
    missing = sorted(set(expected) - copied)
    require(not missing, f"the final stage does not copy {', '.join(missing)}")
    return (f"from the context: {', '.join(from_context)} (present, not ignored); "
            f"from the build: {', '.join(sorted(copied))}")


def check_build_packages(ctx):
    builders = ctx.builder_stages()
    wanted = install_deps_packages(ctx.args.source_dir)
    for stage in builders:
        installed = apt_installed(stage)
        missing = [p for p in wanted if p not in installed and p not in BUILD_EXCLUDED]
        require(not missing,
                f"{stage.label()} does not install {', '.join(missing)}, which "
                "tools/dev/install-deps.sh does: add them to the build stage (or to "
                "BUILD_EXCLUDED in this test, with the reason)")
    excluded = [p for p in wanted if p in BUILD_EXCLUDED]
    return (f"{len(wanted) - len(excluded)} packages of tools/dev/install-deps.sh in the build "
            f"stage; left out on purpose: {', '.join(excluded)}")


CHECKS = [
    ("stages", check_stages),
    ("non-root user", check_non_root_user),
    ("runtime libraries", check_runtime_libraries),
    ("flags", check_flags),
    ("exposed port", check_exposed_port),
    ("copies", check_copies),
    ("build packages", check_build_packages),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile-service", required=True)
    parser.add_argument("--profilectl", required=True)
    parser.add_argument("--source-dir", required=True, help="the repository root")
    parser.add_argument("--dockerfile",
                        help="default: SOURCE_DIR/deploy/container/Dockerfile")
    args = parser.parse_args()
    try:
        ctx = Context(args)
    except (CheckFailed, OSError) as error:
        print(f"FAIL: reading the Dockerfile: {error}")
        return 1
    print(f"checking {ctx.dockerfile}")
    for name, check in CHECKS:
        try:
            what = check(ctx)
        except (CheckFailed, OSError, subprocess.SubprocessError) as error:
            print(f"FAIL: {name}: {error}")
            return 1
        print(f"ok: {name}: {what}")
    print("all container checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
