"""One admission controller per server process: every session's heavy work goes through it.

A hosted class is one Streamlit process (about 1 GB, a fraction of a core) shared by
every student. Work is submitted as *jobs* and the controller decides when each may
hold memory and when it may compute:

- **Memory.** A job reserves its estimated working set (``job.bytes``) while admitted;
  the sum stays within ``Limits.memory``. A job larger than the whole budget is
  refused (:class:`Refused`); one that does not fit now waits in a FIFO queue. A
  light job (at most ``Limits.light`` of the budget) may pass a heavy one that waits
  for memory, and heavy jobs together leave ``Limits.reserve`` of the budget free for
  light ones, so a default run is not stuck behind d = 100 ones. A paused job keeps
  its memory for ``Limits.idle_ttl`` seconds, or until a queued job needs it.
- **CPU.** At most ``Limits.workers`` jobs compute at once (default: the CPUs this
  process may use), each for a time slice of ``Limits.quantum`` seconds (one solver
  iteration at least), plus one *express* worker that takes light jobs only: one AM
  step at d = 100 can take tens of seconds, and a default run must not wait for it.
  The next slice goes to the job whose session used the least compute over the last
  minute; a session past ``Limits.cpu_per_minute`` seconds in
  the last minute waits while other sessions' jobs are waiting (work-conserving: a
  lone user is never slowed).
- **The server first.** Worker threads (but the express one) run at a lower CPU priority
  (``WORKER_NICE``), so the web server and the pages' scripts are scheduled first when the
  CPU is short.
- **Liveness.** A job whose browser session is gone is *held* within about a second: it
  gets no slices, and a slice under way is interrupted at the solver's next checkpoint
  (a CG iteration, an LSQR product: ``shallowres.interrupt``), its partial step dropped.
  A session back within ``Limits.grace`` seconds (a reconnect) carries on from there;
  after that the job is cut (``job.cut``) and its memory released; freed heap is handed
  back to the operating system (``malloc_trim``), so the server shrinks after a class leaves.

Jobs implement :class:`Job`. Lock order: the controller's lock may be held while a
job's own lock is taken, never the other way round.
"""
from __future__ import annotations

import collections
import ctypes
import ctypes.util
import functools
import gc
import json
import logging
import math
import os
import threading
import time
import tracemalloc
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Literal, Protocol

from shallowres.interrupt import Cancelled, cancellable
from shallowres.validation import MB

log = logging.getLogger("shallowres.admission")

Slice = Literal["more", "idle", "done"]
WINDOW = 60.0   # seconds over which a session's compute is counted


class Job(Protocol):
    """What the controller needs of a unit of work (a run, a theory computation, a sweep)."""

    session_id: str
    bytes: int

    def run_slice(self, deadline: float) -> Slice:
        """Compute until ``time.perf_counter() >= deadline`` (at least one step) or until there is
        nothing left to do now. "more": wants more CPU; "idle": paused, keeps its memory;
        "done": finished, its memory can go."""

    def release(self) -> None:
        """Drop the working set (it can be rebuilt on the next ``run_slice``). Must be quick."""

    def cut(self, reason: str) -> None:
        """The server stops the job for good (``reason`` is shown to the student). Must be quick."""

    def estimate_seconds(self) -> float:
        """Rough compute seconds still to go (for the queue's waiting-time estimate)."""


class Refused(ValueError):
    """A job needs more memory than the server's whole budget for runs."""

    def __init__(self, needed: int, budget: int):
        self.needed, self.budget = needed, budget
        super().__init__(f"this run needs about {needed / MB:,.0f} MB, more than the "
                         f"{budget / MB:,.0f} MB this server has for all runs together")


def available_cpus() -> int:
    """CPUs this process may use: its affinity, capped by a cgroup CPU quota (containers)."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:      # not on Linux
        n = os.cpu_count() or 1
    for path, parse in (("/sys/fs/cgroup/cpu.max", lambda s: s.split()),
                        ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", lambda s: [s.strip(), None])):
        try:
            with open(path) as f:
                quota, period = parse(f.read())
            if period is None:
                with open("/sys/fs/cgroup/cpu/cpu.cfs_period_us") as f:
                    period = f.read().strip()
            if quota not in ("max", "-1"):
                n = min(n, max(1, math.ceil(int(quota) / int(period))))
            break
        except (OSError, ValueError):
            continue
    return max(1, n)


@dataclass(frozen=True)
class Limits:
    """The controller's settings. ``from_env`` reads them from the environment."""

    memory: int = 600 * MB          # all admitted jobs together (a 1 GB instance, minus the server itself)
    workers: int = 1                # jobs computing at once
    quantum: float = 0.1            # seconds per time slice
    cpu_per_minute: float = 30.0    # a session's compute seconds per minute while others wait
    idle_ttl: float = 60.0          # a paused job keeps its memory this long
    grace: float = 10.0             # a job of a disconnected session is cut after this long (the server:
                                    # at least Streamlit's server.disconnectedSessionTTL)
    light: float = 0.1              # jobs up to this fraction of ``memory`` may pass a waiting heavy one
    reserve: float = 0.1            # heavy jobs together leave this fraction of ``memory`` to light ones

    ENV = {"memory": "SHALLOWRES_MEMORY_MB", "workers": "SHALLOWRES_WORKERS",
           "cpu_per_minute": "SHALLOWRES_CPU_SECONDS_PER_MINUTE", "idle_ttl": "SHALLOWRES_IDLE_TTL"}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, secrets: Mapping | None = None) -> Limits:
        """Defaults, overridden by ``secrets`` (e.g. ``st.secrets["shallowres"]``: memory_mb, workers,
        cpu_seconds_per_minute, idle_ttl) and then by environment variables (names in ``ENV``).
        Raises ValueError naming the variable for a value that is not a positive number."""
        env = os.environ if env is None else env
        limits = cls(workers=available_cpus())
        keys = {"memory": "memory_mb", "workers": "workers", "cpu_per_minute": "cpu_seconds_per_minute",
                "idle_ttl": "idle_ttl"}
        for name, var in cls.ENV.items():
            for source, key in ((secrets or {}, keys[name]), (env, var)):
                if key not in source:
                    continue
                try:
                    value = float(source[key])
                except (TypeError, ValueError):
                    value = math.nan
                if not (math.isfinite(value) and value > 0):
                    raise ValueError(f"{key} must be a positive number; got {source[key]!r}")
                value = int(value * MB) if name == "memory" else (max(1, int(value)) if name == "workers"
                                                                     else value)
                limits = replace(limits, **{name: value})
        return limits


@dataclass
class _Ticket:
    """The controller's record of one job."""

    job: Job
    submitted: float
    admitted: float | None = None
    wants_cpu: bool = True
    idle_since: float | None = None
    dead_since: float | None = None
    running: bool = False
    cut: bool = False               # cut while a worker computed it: released when the slice ends
    started: bool = False           # has had a slice (its wait is counted)


@dataclass(frozen=True)
class Place:
    """Where a job stands: ``state`` is "queued" (``ahead`` jobs before it, about ``eta`` s),
    "admitted" (holds its memory; ``running`` while a worker computes it) or "none"."""

    state: str
    ahead: int = 0
    eta: float = 0.0
    running: bool = False


@dataclass
class Stats:
    """A snapshot of the controller, for the page and the load test."""

    memory_held: int = 0
    memory: int = 0
    admitted: int = 0
    queued: int = 0
    computing: int = 0
    workers: int = 0
    released: int = 0
    cut: int = 0
    slices: int = 0
    collections: int = 0            # full collections and heap trims by the reaper (``collect``)
    wanting: int = 0                # jobs that want CPU now (``busy``)
    usage: dict = field(default_factory=dict)
    waits: dict = field(default_factory=lambda: {"light": [], "heavy": []})   # submit -> first slice, s


WAITS_KEPT = 200            # the latest waits per kind in Stats.waits
GC_EVERY = 30.0             # seconds between full collections while no job computes (``collect``)


@functools.cache
def _libc() -> ctypes.CDLL:
    """The C library (glibc's malloc controls); raises OSError where it cannot be loaded."""
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")


def malloc_trim() -> bool:
    """Hand freed heap pages back to the OS (glibc); False where unavailable."""
    try:
        return bool(_libc().malloc_trim(0))
    except (OSError, AttributeError):
        return False


def collect() -> None:
    """A full garbage collection, then the freed heap back to the OS. What closed browser sessions
    held (Streamlit's session objects are in reference cycles) is otherwise freed only by Python's
    occasional automatic full collection: Streamlit's own after each script run is off
    (``runner.postScriptGC``), for the live pages' sake."""
    gc.collect()
    malloc_trim()


def tune_malloc(mmap_threshold: int = 1 * MB, trim_threshold: int = 1 * MB) -> bool:
    """Serve allocations of ``mmap_threshold`` bytes and more by mmap, so a freed NumPy array goes
    back to the OS at once, and give each heap's free top back once it exceeds ``trim_threshold``.
    glibc otherwise raises both as large blocks are freed: after one 2.5 MB array the trim
    threshold is 5 MB, and each of the server's 16 heaps (8 per core, one per thread until then)
    kept a free top of up to 5 MB, which ``malloc_trim`` does not touch in threads' heaps (measured
    after mixed10: 71 MB resident in them, 3-5 MB free tops in most). False where unavailable."""
    try:
        libc = _libc()
        ok = libc.mallopt(-3, int(mmap_threshold))               # M_MMAP_THRESHOLD
        return bool(libc.mallopt(-1, int(trim_threshold)) and ok)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        return False


class CallJob:
    """A one-shot computation (a page's cached theory or sweep computation) run as a job:
    ``fn()`` runs in one slice on a worker thread, under a cancel check, so it waits for
    memory and CPU like a run does. See :meth:`Controller.call`."""

    def __init__(self, fn: Callable[[], object], session_id: str, nbytes: int, seconds: float = 1.0):
        self.fn, self.session_id, self.bytes, self.seconds = fn, session_id, int(nbytes), seconds
        self.result: object = None
        self.error: BaseException | None = None
        self.finished = threading.Event()
        self.cancel = threading.Event()

    def run_slice(self, deadline: float) -> Slice:
        try:
            with cancellable(self.cancel.is_set):
                self.result = self.fn()
        except Cancelled as e:
            if not self.cancel.is_set():  # held by the controller (its page went away): again later
                return "more"
            self.error = e
        except BaseException as e:        # handed to the waiting page
            self.error = e
        self.finished.set()
        return "done"

    def release(self) -> None:
        self.fn = None            # the result stays with the waiting page

    def cut(self, reason: str) -> None:
        self.cancel.set()
        self.error = self.error or RuntimeError(f"stopped by the server: {reason}")
        self.finished.set()

    def estimate_seconds(self) -> float:
        return self.seconds


WORKER_NICE = 10     # solver threads yield the CPU to the server's own threads (pages stay live)


def lower_priority(nice: int = WORKER_NICE) -> bool:
    """Give the calling thread a CPU priority ``nice`` steps lower than the process's (Linux schedules
    threads one by one), so that the web server and the pages' scripts run first when the CPU is
    short; False where unsupported."""
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
        return True
    except (AttributeError, OSError):
        return False


class Controller:
    """Admission control and fair scheduling for one server process (see the module doc).

    ``is_alive(session_id)`` says whether a browser session is still connected (the
    Streamlit runtime's ``is_active_session``); ``clock`` is the time source for the
    queue, the TTLs and the compute window (tests pass a fake one). ``start=False``
    starts no threads: tests then call :meth:`work_once` and :meth:`reap` themselves.
    """

    def __init__(self, limits: Limits | None = None, is_alive: Callable[[str], bool] | None = None,
                 clock: Callable[[], float] = time.monotonic, start: bool = True):
        self.limits = limits or Limits()
        self._is_alive = is_alive
        self._clock = clock
        self._cond = threading.Condition()
        self._tickets: dict[int, _Ticket] = {}          # id(job) -> ticket (queued or admitted)
        self._queue: list[_Ticket] = []                 # waiting for memory, in order
        self._usage: dict[str, collections.deque] = {}  # session -> (time, seconds) of its slices
        self._stats = Stats(memory=self.limits.memory, workers=self.limits.workers)
        self._closed = False
        self._trim_due = False
        self._idle_hooks: dict[Callable[[], None], None] = {}     # run before each idle collection
        self._threads: list[threading.Thread] = []
        if start:
            for i in range(self.limits.workers):
                self._spawn(self._worker, f"shallowres-worker-{i}")
            self._spawn(lambda: self._worker(express=True), "shallowres-express")
            self._spawn(self._reaper, "shallowres-reaper")

    def on_idle(self, hook: Callable[[], None]) -> None:
        """Call ``hook()`` on the reaper's thread before each full collection while no job wants
        the CPU (every ``GC_EVERY`` s): for caches outside the controller's books to drop what
        has gone unused (``dashboard.train_objects``). Adding a hook twice keeps one."""
        with self._cond:
            self._idle_hooks[hook] = None

    def idle_collect(self) -> None:
        """The idle hooks, then a full collection and a heap trim (``collect``)."""
        with self._cond:
            hooks = list(self._idle_hooks)
        for hook in hooks:
            try:
                hook()
            except Exception:           # a cache's trouble must not stop the reaper
                log.exception("idle hook %r failed", hook)
        collect()
        with self._cond:
            self._stats.collections += 1

    def _spawn(self, target, name: str) -> None:
        th = threading.Thread(target=target, name=name, daemon=True)
        th.start()
        self._threads.append(th)

    # ----- what sessions call --------------------------------------------------------

    def submit(self, job: Job) -> None:
        """Ask for CPU for ``job``: admitted at once if its memory fits, else queued.
        Raises :class:`Refused` if it can never fit."""
        if job.bytes > self.limits.memory:
            raise Refused(job.bytes, self.limits.memory)
        with self._cond:
            tk = self._tickets.get(id(job))
            if tk is None:
                tk = self._tickets[id(job)] = _Ticket(job, self._clock())
                self._queue.append(tk)
            tk.wants_cpu, tk.idle_since, tk.dead_since = True, None, None
            self._admit()
            self._cond.notify_all()

    def call(self, fn: Callable[[], object], *, session_id: str, nbytes: int, seconds: float = 1.0,
             poll: Callable[[Place], None] | None = None):
        """Run ``fn()`` as a job (waiting for memory and a CPU slot like any run) and return its
        result; re-raise its exception. ``poll(place)`` is called about every 0.2 s while it
        waits or computes (a page shows the queue there; an exception it raises, such as
        Streamlit's rerun, cancels the computation). Raises :class:`Refused` if it can never fit."""
        job = CallJob(fn, session_id, nbytes, seconds)
        self.submit(job)
        try:
            while not job.finished.wait(0.2):
                if poll is not None:
                    poll(self.place(job))
        except BaseException:
            job.cancel.set()
            self.forget(job)
            raise
        if job.error is not None:
            raise job.error
        return job.result

    def ensure(self, job: Job) -> None:
        """``job`` wants CPU (its page says it runs): submit it again if the controller no longer
        holds it as wanting CPU (released or idled meanwhile). A no-op otherwise."""
        if not getattr(job, "active", True):     # it ended meanwhile
            return
        with self._cond:
            tk = self._tickets.get(id(job))
            if tk is not None and tk.wants_cpu:
                return
        log.warning("a job that wants CPU had no ticket wanting it: submitted again")
        self.submit(job)

    def withdraw(self, job: Job) -> None:
        """``job`` wants no CPU for now (stopped or paused): it leaves the queue, or keeps its
        memory as an idle job (released after ``idle_ttl`` or when a queued job needs it)."""
        with self._cond:
            tk = self._tickets.get(id(job))
            if tk is None:
                return
            if tk in self._queue:
                self._queue.remove(tk)
                del self._tickets[id(job)]
            elif not tk.running:
                tk.wants_cpu, tk.idle_since = False, self._clock()
            self._admit()
            self._cond.notify_all()

    def forget(self, job: Job) -> None:
        """Drop ``job`` (a reset, or a new run replacing it): release its memory if it holds any."""
        with self._cond:
            tk = self._tickets.pop(id(job), None)
            if tk is None:
                return
            if tk in self._queue:
                self._queue.remove(tk)
            if tk.admitted is not None:
                job.release()
                self._stats.released += 1
                self._trim_due = True
            self._admit()
            self._cond.notify_all()

    def place(self, job: Job) -> Place:
        """Where ``job`` stands now (queue position and a rough wait, or admitted)."""
        with self._cond:
            tk = self._tickets.get(id(job))
            if tk is None:
                return Place("none")
            if tk.admitted is not None:
                return Place("admitted", running=tk.running)
            ahead = self._queue.index(tk)
            work = sum(t.job.estimate_seconds() for t in self._tickets.values()
                       if t.admitted is not None and t.wants_cpu)
            work += sum(t.job.estimate_seconds() for t in self._queue[:ahead])
            return Place("queued", ahead, work / self.limits.workers)

    def busy(self) -> int:
        """Jobs that want CPU now (queued or admitted and not paused)."""
        with self._cond:
            return sum(t.wants_cpu for t in self._tickets.values())

    def usage(self, session_id: str) -> float:
        """Compute seconds the session used over the last minute."""
        with self._cond:
            return self._recent(session_id)

    def stats(self) -> Stats:
        with self._cond:
            s = replace(self._stats)
            s.memory_held = self._held()
            s.admitted = sum(t.admitted is not None for t in self._tickets.values())
            s.queued = len(self._queue)
            s.computing = sum(t.running for t in self._tickets.values())
            s.wanting = self.busy()            # the condition's lock is reentrant
            s.usage = {sid: self._recent(sid) for sid in self._usage}
            s.waits = {k: list(v) for k, v in self._stats.waits.items()}
            return s

    def close(self) -> None:
        """Stop the threads (tests; a server's controller lives as long as the process)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for th in self._threads:
            th.join(timeout=5)

    # ----- scheduling ----------------------------------------------------------------

    def _held(self) -> int:
        return sum(t.job.bytes for t in self._tickets.values() if t.admitted is not None)

    def _recent(self, sid: str) -> float:
        q = self._usage.get(sid)
        if not q:
            return 0.0
        now = self._clock()
        while q and q[0][0] < now - WINDOW:
            q.popleft()
        if not q:
            del self._usage[sid]
            return 0.0
        return sum(s for _, s in q)

    def _admit(self) -> None:
        """Admit queued jobs in order while they fit; idle jobs give their memory up first;
        light jobs may pass a heavy one that cannot fit yet."""
        blocked = False
        for tk in list(self._queue):
            light = self._light(tk.job)
            over = self._held() + tk.job.bytes - self._room(light)     # bytes past the room it may fill
            if over > 0:
                self._evict_idle(over)
                over = self._held() + tk.job.bytes - self._room(light)
            if over <= 0 and (not blocked or light):
                self._queue.remove(tk)
                tk.admitted = self._clock()
            else:
                blocked = True

    def _room(self, light: bool) -> float:
        """Memory a job may fill up to: heavy jobs leave ``Limits.reserve`` to light ones,
        unless nothing is held (a job alone may use the whole budget)."""
        return self.limits.memory * (1.0 if light or self._held() == 0 else 1.0 - self.limits.reserve)

    def _evict_idle(self, amount: int) -> None:
        """Release idle (paused) jobs, oldest first, until ``amount`` bytes are free."""
        idle = sorted((t for t in self._tickets.values() if t.admitted is not None and not t.wants_cpu
                       and not t.running), key=lambda t: t.idle_since or 0.0)
        for tk in idle:
            if amount <= 0:
                break
            amount -= tk.job.bytes
            self._release(tk)

    def _release(self, tk: _Ticket) -> None:
        tk.job.release()
        del self._tickets[id(tk.job)]
        self._stats.released += 1
        self._trim_due = True

    def _light(self, job: Job) -> bool:
        return job.bytes <= self.limits.light * self.limits.memory

    def _pick(self, express: bool = False) -> _Ticket | None:
        ready = [t for t in self._tickets.values() if t.admitted is not None and t.wants_cpu and not t.running
                 and t.dead_since is None and (not express or self._light(t.job))]
        if not ready:
            return None
        under = [t for t in ready if self._recent(t.job.session_id) < self.limits.cpu_per_minute]
        pool = under or ready
        return min(pool, key=lambda t: (self._recent(t.job.session_id), t.admitted))

    def work_once(self, wait: float = 0.0, express: bool = False) -> bool:
        """Run one time slice of the fairest ready job (``express``: of the fairest light one);
        False if none was ready (after ``wait`` s)."""
        with self._cond:
            tk = self._pick(express)
            if tk is None and wait > 0:
                self._cond.wait(wait)
                tk = self._pick(express)
            if tk is None:
                return False
            tk.running = True
            if not tk.started:
                tk.started = True
                waits = self._stats.waits["light" if self._light(tk.job) else "heavy"]
                waits.append(round(self._clock() - tk.submitted, 3))
                del waits[:-WAITS_KEPT]
        start = time.perf_counter()
        try:
            # the job's solver checkpoints also hear a hold: its session went away mid-slice
            with cancellable(lambda: tk.dead_since is not None):
                result = tk.job.run_slice(start + self.limits.quantum)
        except Exception as e:       # a job's own failure must not kill the worker
            log.exception("job failed")
            tk.job.cut(f"the computation failed: {e}")
            result = "done"
        used = time.perf_counter() - start
        with self._cond:
            tk.running = False
            self._stats.slices += 1
            self._usage.setdefault(tk.job.session_id, collections.deque()).append((self._clock(), used))
            if self._tickets.get(id(tk.job)) is tk:
                if result == "done" or tk.cut:
                    self._release(tk)
                elif result == "idle":
                    tk.wants_cpu, tk.idle_since = False, self._clock()
            self._admit()
            self._cond.notify_all()
        return True

    def reap(self) -> None:
        """Cut jobs of sessions gone for ``grace`` s, release jobs idle for ``idle_ttl`` s, trim the heap."""
        now = self._clock()
        with self._cond:
            for tk in list(self._tickets.values()):
                if self._is_alive is not None and not self._is_alive(tk.job.session_id):
                    if tk.dead_since is None:
                        log.info("session %s is gone: its job is held", tk.job.session_id)
                        tk.dead_since = now
                    if now - tk.dead_since >= self.limits.grace and not tk.cut:
                        tk.job.cut("the page was closed or lost its connection")
                        tk.cut = True
                        self._stats.cut += 1
                        if tk in self._queue:
                            self._queue.remove(tk)
                            del self._tickets[id(tk.job)]
                        elif not tk.running:     # else released when its slice ends
                            self._release(tk)
                        continue
                else:
                    tk.dead_since = None
                if tk.admitted is not None and not tk.wants_cpu and not tk.running \
                        and now - (tk.idle_since or now) >= self.limits.idle_ttl:
                    self._release(tk)
            for sid in list(self._usage):
                self._recent(sid)          # drops sessions with no compute in the last minute
            self._admit()
            trim, self._trim_due = self._trim_due, False
            self._cond.notify_all()
        if trim:
            malloc_trim()

    def _worker(self, express: bool = False) -> None:
        if not express:          # light jobs are short: the express worker keeps the server's priority
            lower_priority()
        while not self._closed:
            self.work_once(wait=1.0, express=express)

    def _reaper(self) -> None:
        stats_file = os.environ.get(STATS_ENV)
        beats, collected = 0, time.monotonic()
        while not self._closed:
            with self._cond:
                self._cond.wait(1.0)
            if not self._closed:
                self.reap()
                beats += 1
                if time.monotonic() - collected >= GC_EVERY and self.busy() == 0:
                    self.idle_collect()
                    collected = time.monotonic()
                if stats_file:
                    write_stats(self.stats(), stats_file)
                    if beats % HEAP_EVERY == 0:
                        write_malloc_info(f"{stats_file}.malloc.xml")
                        if tracemalloc.is_tracing():
                            write_heap_top(f"{stats_file}.heap.txt")


STATS_ENV = "SHALLOWRES_STATS_FILE"     # if set, the reaper writes Stats there as JSON every second


HEAP_EVERY = 15     # seconds between heap listings, when the server runs under PYTHONTRACEMALLOC


def write_heap_top(path: str, limit: int = 30) -> None:
    """The live Python allocations (NumPy's included) by source line, largest first, in ``path``:
    what a server holds after its sessions closed (the load test's ``--trace``)."""
    snap = tracemalloc.take_snapshot()
    lines = snap.statistics("traceback" if tracemalloc.get_traceback_limit() > 1 else "lineno")
    total = sum(s.size for s in lines)
    out = [f"{total / MB:.1f} MB traced in {len(lines)} places"]
    for s in lines[:limit]:
        where = " <- ".join(f"{f.filename.rsplit('site-packages/', 1)[-1]}:{f.lineno}" for f in s.traceback)
        out.append(f"{s.size / MB:8.2f} MB {s.count:8d} blocks  {where}")
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(out) + "\n")
    os.replace(tmp, path)


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                      "fsmblks", "uordblks", "fordblks", "keepcost")]


def malloc_stats() -> dict[str, float]:
    """glibc's heap in MB (``mallinfo2``, glibc 2.33+; {} where unavailable): ``heap``, the bytes
    its arenas hold; ``in_use`` and ``free`` of them; ``mmapped``, large blocks served by mmap.
    Free bytes are returned to the OS only as whole pages (``malloc_trim``)."""
    try:
        libc = _libc()
        libc.mallinfo2.restype = _Mallinfo2
        m = libc.mallinfo2()
    except (OSError, AttributeError):
        return {}
    return {"heap": m.arena / MB, "in_use": m.uordblks / MB, "free": m.fordblks / MB, "mmapped": m.hblkhd / MB}


def write_malloc_info(path: str) -> bool:
    """glibc's own account of each arena (``malloc_info``, XML: free chunks by size, the top chunk,
    the memory each arena holds) in ``path``, for the load test; False where unavailable."""
    try:
        libc = _libc()
        libc.fopen.restype = ctypes.c_void_p
        fp = libc.fopen(f"{path}.tmp".encode(), b"w")
        if not fp:
            return False
        libc.malloc_info(0, ctypes.c_void_p(fp))
        libc.fclose(ctypes.c_void_p(fp))
    except (OSError, AttributeError):
        return False
    os.replace(f"{path}.tmp", path)
    return True


def write_stats(stats: Stats, path: str) -> None:
    """``stats`` (and glibc's :func:`malloc_stats`) as JSON in ``path``, replaced atomically (for
    the load test; never the page)."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump({**{k: v for k, v in asdict(stats).items() if k != "usage"}, "malloc": malloc_stats()}, f)
    os.replace(tmp, path)
