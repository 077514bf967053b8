"""Shared helpers of the integration tests: hermetic processes, condition waits, Kafka I/O.

Every process a test starts lives in the test's temporary directory, listens on a port the OS
picks, and is killed when the test ends, passes or fails (and, through PR_SET_PDEATHSIG, when
the test process itself is killed, e.g. by a ctest timeout). Waits poll a condition against a
deadline; nothing sleeps for a fixed time to let something happen.
"""

import base64
import ctypes
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request
import uuid

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

INPUT_TOPIC = "customer-events"
OUTPUT_TOPIC = "segment-changes"
DLQ_TOPIC = "customer-events-dlq"
# The service's default group, and its changelog and repartition topics: partitioned like the
# input topic.
GROUP = "cdp-profile-service"
CHANGELOG_TOPIC = "cdp-profile-service-changelog"
REPARTITION_TOPIC = "cdp-profile-service-repartition"

_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def wait_until(predicate, timeout, what, interval=0.05):
    """Returns the first truthy value of predicate(), polled until `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class Child:
    """A started process whose output goes to log files in the test directory."""

    def __init__(self, name, argv, log_dir, env=None, stdin_pipe=False):
        self.name = name
        self.stdout_path = os.path.join(log_dir, f"{name}.out")
        self.stderr_path = os.path.join(log_dir, f"{name}.err")
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(
                argv, stdout=out, stderr=err,
                stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
                env=None if env is None else {**os.environ, **env},
                preexec_fn=_die_with_parent)

    @property
    def pid(self):
        return self.process.pid

    def running(self):
        return self.process.poll() is None

    def check_running(self):
        if not self.running():
            raise AssertionError(f"{self.name} exited early with code {self.process.returncode}:\n"
                                 f"{self.stderr()}")

    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stdout(self):
        with open(self.stdout_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def send_line(self, line):
        self.process.stdin.write(line.encode() + b"\n")
        self.process.stdin.flush()

    def signal(self, signum):
        if self.running():
            self.process.send_signal(signum)

    def wait(self, timeout):
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.name} did not exit within {timeout} s") from None

    def kill(self):
        if self.running():
            self.process.kill()
        self.process.wait()


class Harness:
    """Owns the test's temporary directory and every process started in it."""

    def __init__(self, name):
        self._temp = tempfile.TemporaryDirectory(prefix=f"cdp-{name}-")
        self.dir = self._temp.name
        self.log_dir = self.path("logs")
        os.makedirs(self.log_dir)
        self.children = []
        self._started = {}

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def unique_name(self, name):
        """`name` the first time, then name-1, name-2... (log files and status files)."""
        count = self._started.get(name, 0)
        self._started[name] = count + 1
        return name if count == 0 else f"{name}-{count}"

    def start(self, name, argv, env=None, stdin_pipe=False):
        child = Child(self.unique_name(name), argv, self.log_dir, env, stdin_pipe)
        self.children.append(child)
        return child

    def close(self, failed):
        for child in self.children:
            child.kill()
        if failed:
            for child in self.children:
                tail = child.stderr()[-3000:]
                if tail:
                    print(f"--- {child.name} stderr (last 3000 chars) ---\n{tail}", file=sys.stderr)
            if os.environ.get("CDP_KEEP_FAILED_TEST_DIR"):
                kept = tempfile.mkdtemp(prefix=os.path.basename(self.dir) + "-failed-")
                os.rename(self.dir, os.path.join(kept, "run"))
                os.makedirs(self.dir)
                print(f"--- logs and data kept in {kept}/run", file=sys.stderr)
        self._temp.cleanup()


def run(name, main):
    """Runs main(harness) and exits 0 if it returns, 1 if it raises; children always die."""
    harness = Harness(name)
    failed = True
    try:
        main(harness)
        failed = False
    except Exception:  # noqa: BLE001 - any failure fails the test, with its traceback
        traceback.print_exc()
    finally:
        harness.close(failed)
    print(f"{name}: {'FAILED' if failed else 'PASSED'}")
    sys.exit(1 if failed else 0)


def start_kafka(harness, binary, topics=None, brokers=1, control=False):
    """Starts tools/kafka-local; returns (child, bootstrap servers). With control=True, its
    standard input takes fault injection commands: see KafkaControl."""
    bootstrap_file = harness.path(f"bootstrap-{len(harness.children)}.txt")
    argv = [binary, "--bootstrap-file", bootstrap_file, "--brokers", str(brokers)]
    for topic, partitions in (topics or []):
        argv += ["--topic", f"{topic}:{partitions}"]
    if control:
        argv.append("--control-stdin")
    child = harness.start("kafka-local", argv, stdin_pipe=control)

    def bootstrap():
        child.check_running()
        if os.path.exists(bootstrap_file):
            with open(bootstrap_file) as f:
                return f.read().strip()
        return None

    return child, wait_until(bootstrap, 30, "kafka-local's bootstrap file")


class KafkaControl:
    """Fault injection through kafka-local --control-stdin: each command waits for its answer."""

    def __init__(self, child):
        self.child = child
        self.answered = 0

    def __call__(self, command):
        self.child.send_line(command)
        self.answered += 1

        def answer():
            self.child.check_running()
            answers = [line for line in self.child.stdout().splitlines()
                       if line.startswith(("ok: ", "error: "))]
            return answers[self.answered - 1] if len(answers) >= self.answered else None

        reply = wait_until(answer, 10, f"kafka-local to answer '{command}'")
        assert reply.startswith("ok: "), f"'{command}': {reply}"
        return reply


# Short group timeouts: a killed instance's partitions are handed over in seconds, not minutes.
KAFKA_PROPERTIES = ["session.timeout.ms=6000", "heartbeat.interval.ms=500"]


class Service:
    """A profile-service process and the HTTP address it reported in its status file."""

    def __init__(self, child, status):
        self.child = child
        self.status = status
        self.base_url = f"http://127.0.0.1:{status['http_port']}"

    def get(self, path):
        return http_get(self.base_url + path)

    def metrics(self):
        status, body = self.get("/metrics")
        assert status == 200, f"/metrics answered {status}"
        return parse_metrics(body)


def launch_service(harness, binary, bootstrap, segments, data_dir, extra=(), env=None):
    """Starts profile-service on port 0 without waiting; returns (child, its status file)."""
    name = harness.unique_name("profile-service")
    status_file = harness.path(f"{name}-status.json")
    argv = [binary, "--brokers", bootstrap, "--segments", segments, "--data-dir", data_dir,
            "--http-port", "0", "--status-file", status_file]
    for prop in KAFKA_PROPERTIES:
        argv += ["--kafka-property", prop]
    child = Child(name, argv + list(extra), harness.log_dir, env)
    harness.children.append(child)
    return child, status_file


def start_service(harness, binary, bootstrap, segments, data_dir, extra=(), ready=True):
    """Starts profile-service on port 0; returns once its status file names this process (and,
    with ready=True, /readyz answers 200)."""
    child, status_file = launch_service(harness, binary, bootstrap, segments, data_dir, extra)

    def status():
        child.check_running()
        try:
            with open(status_file) as f:
                parsed = json.load(f)
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return parsed if parsed.get("pid") == child.pid else None

    service = Service(child, wait_until(status, 60, "profile-service's status file"))
    if ready:
        wait_until(lambda: child.check_running() or service.get("/readyz")[0] == 200, 60,
                   "profile-service /readyz to answer 200")
    return service


def http_get(url):
    """Returns (status, body text); errors with a status are answers, not exceptions."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8")


def parse_metrics(text):
    """Prometheus text format -> {(name, frozenset(label items)): value}."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        series, value = line.rsplit(" ", 1)
        labels = {}
        name = series
        if "{" in series:
            name, rest = series.split("{", 1)
            for item in _split_labels(rest.rstrip("}")):
                key, quoted = item.split("=", 1)
                labels[key] = json.loads(quoted)
        samples[(name, frozenset(labels.items()))] = float(value)
    return samples


def _split_labels(text):
    items, current, quoted, escaped = [], "", False, False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            items.append(current)
            current = ""
            continue
        current += char
    if current:
        items.append(current)
    return items


def metric(samples, name, **labels):
    """The value of one series; 0 when the service has not exported it."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def murmur2(data):
    """Kafka's murmur2 hash (the Java client's and librdkafka's murmur2 partitioners)."""
    m, r, mask = 0x5bd1e995, 24, 0xFFFFFFFF
    h = (0x9747b28c ^ len(data)) & mask
    tail = len(data) & ~3
    for i in range(0, tail, 4):
        k = int.from_bytes(data[i:i + 4], "little")
        k = (k * m) & mask
        k ^= k >> r
        k = (k * m) & mask
        h = ((h * m) & mask) ^ k
    rest = len(data) & 3
    if rest == 3:
        h ^= data[tail + 2] << 16
    if rest >= 2:
        h ^= data[tail + 1] << 8
    if rest >= 1:
        h ^= data[tail]
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return h


def partition_of(key, partitions):
    """Where the pipeline's producers (murmur2_random, as Kafka's Java client) put a key, and so
    the partition whose state holds the customer of that id."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def id_in_partition(prefix, partition, partitions):
    """The first PREFIX-N that belongs to `partition`."""
    return next(f"{prefix}-{n}" for n in itertools.count()
                if partition_of(f"{prefix}-{n}", partitions) == partition)


def produce(bootstrap, topic, records, on_delivered=None):
    """Publishes (key, value, headers[, partition]) tuples in order; returns each record's
    (partition, offset) once all are acknowledged. on_delivered() is called per acknowledgement."""
    # Keyed as the Java client and the service's default --partitioner do.
    sink = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                     "linger.ms": 5, "partitioner": "murmur2_random"})
    delivered = [None] * len(records)
    errors = []

    def report(index):
        def on_delivery(error, message):
            if error is not None:
                errors.append(error)
            else:
                delivered[index] = (message.partition(), message.offset())
                if on_delivered is not None:
                    on_delivered()
        return on_delivery

    for index, record in enumerate(records):
        key, value, headers = record[:3]
        kwargs = {"partition": record[3]} if len(record) > 3 else {}
        while True:
            try:
                sink.produce(topic, key=key, value=value, headers=headers,
                             on_delivery=report(index), **kwargs)
                break
            except BufferError:
                sink.poll(0.1)  # the local queue is full: deliver some first
        sink.poll(0)
    remaining = sink.flush(60)
    assert remaining == 0 and not errors, f"{remaining} undelivered, errors: {errors[:3]}"
    # An acknowledgement without an offset was inferred by librdkafka, and the mock cluster does
    # not back that inference (libs/kafka/README.md, "Delivered means written at an offset").
    inferred = [index for index, (_, offset) in enumerate(delivered) if offset < 0]
    assert not inferred, (f"{len(inferred)} records acknowledged without an offset, so maybe "
                          f"not written, e.g. record {inferred[0]}")
    return delivered


def _consumer(bootstrap, group=None):
    return Consumer({"bootstrap.servers": bootstrap,
                     "group.id": group or f"integration-reader-{uuid.uuid4()}",
                     "enable.auto.commit": False, "session.timeout.ms": 6000,
                     "heartbeat.interval.ms": 500})


def watermarks(bootstrap, topic):
    """{partition: (first offset kept, offset after the last record)}."""
    reader = _consumer(bootstrap)
    try:
        metadata = reader.list_topics(topic, timeout=10)
        return {p: reader.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                for p in sorted(metadata.topics[topic].partitions)}
    finally:
        reader.close()


def end_offsets(bootstrap, topic):
    """{partition: offset after the last record}."""
    return {p: high for p, (_, high) in watermarks(bootstrap, topic).items()}


def committed_offsets(bootstrap, group, topic, partitions):
    """The group's committed next offsets; -1001 (invalid) where it has none."""
    reader = _consumer(bootstrap, group)
    try:
        committed = reader.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
        return {tp.partition: tp.offset for tp in committed}
    finally:
        reader.close()


class Record:
    def __init__(self, message):
        self.partition = message.partition()
        self.offset = message.offset()
        self.key = message.key()
        self.value = message.value()
        self.headers = {k: (v.decode("utf-8") if v is not None else None)
                        for k, v in (message.headers() or [])}


def read_all(bootstrap, topic, timeout=60):
    """Every record now in `topic`, per partition in offset order (partition, then offset)."""
    starts, ends = {}, {}
    for p, (low, high) in watermarks(bootstrap, topic).items():
        assert low == 0, (f"{topic} [{p}] starts at offset {low}: the mock cluster dropped older "
                          f"records (it keeps a few MiB per partition), so this test's data is "
                          f"too large for it")
        starts[p], ends[p] = low, high
    pending = {p: end for p, end in ends.items() if end > starts[p]}
    records = {p: [] for p in ends}
    if not pending:
        return []
    reader = _consumer(bootstrap)
    try:
        reader.assign([TopicPartition(topic, p, starts[p]) for p in pending])
        deadline = time.monotonic() + timeout
        while pending:
            if time.monotonic() > deadline:
                raise AssertionError(f"reading {topic}: partitions {sorted(pending)} incomplete")
            for message in reader.consume(num_messages=1000, timeout=0.5):
                if message.error():
                    raise KafkaException(message.error())
                p = message.partition()
                records[p].append(Record(message))
                if p in pending and message.offset() + 1 >= pending[p]:
                    del pending[p]
    finally:
        reader.close()
    # Each offset once, and none skipped: a gap here is the reader's, not what was published.
    result = []
    for p in sorted(records):
        by_offset = {}
        for r in records[p]:
            if r.offset < ends[p]:
                by_offset.setdefault(r.offset, r)
        skipped = sorted(set(range(starts[p], ends[p])) - set(by_offset))
        assert not skipped, (f"reading {topic} [{p}]: {len(skipped)} of the offsets "
                             f"{starts[p]}..{ends[p] - 1} never arrived, e.g. {skipped[:5]}")
        result += [by_offset[offset] for offset in sorted(by_offset)]
    return result


def count_records(bootstrap, topic):
    return sum(end_offsets(bootstrap, topic).values())


def write_fold_events(path, records):
    """Writes records read back from the input topic as `profilectl fold` EVENTS lines."""
    with open(path, "w") as out:
        for r in records:
            line = {"partition": r.partition, "offset": r.offset}
            if r.value is None:
                line["value"] = None
            else:
                try:
                    line["value"] = r.value.decode("utf-8")
                except UnicodeDecodeError:
                    line["value_b64"] = base64.b64encode(r.value).decode()
            if "content-type" in r.headers:
                line["content_type"] = r.headers["content-type"]
            out.write(json.dumps(line) + "\n")
