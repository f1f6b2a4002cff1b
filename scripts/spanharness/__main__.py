# SPDX-License-Identifier: GPL-2.0
"""Command line of the harness, called by the bash scripts:

  python3 scripts/spanharness bench-summary nested|span FILE [options]
  python3 scripts/spanharness bench-summary shadow JOBDIR --secs N --rounds N
  python3 scripts/spanharness bench-summary kvm-ipi FILE [--append ARGS]
  python3 scripts/spanharness tap LAYER [FILE]      number result lines
  python3 scripts/spanharness test-summary FILE...  count TAP results
  python3 scripts/spanharness unit-tap DIR          unittests as TAP lines
  python3 scripts/spanharness span-plan MODE TEST...   which tests run (may-hang)
  python3 scripts/spanharness span-job JOBDIR TEST...  the lab's job script
  python3 scripts/spanharness span-collect MODE OUT ATTEMPT LRC TEST...
                                                    one lab run's results
  python3 scripts/spanharness nested-job|nested-budget|nested-failed|
                              nested-retry-line|nested-results ...
                                                    the nested layer's (--help)
  python3 scripts/spanharness kselftest-job|kselftest-tap ...
                                                    the kselftest layers'

(``python3 -m spanharness`` with scripts/ on PYTHONPATH works as well.)
"""

import argparse
import os
import pathlib
import sys

if __package__ in (None, ""):
    # run as "python3 scripts/spanharness": import the package by name
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    __package__ = "spanharness"  # noqa: A001

from spanharness import bench, jobs, kselftest, tap  # noqa: E402


def _tristate(v):
    return {"true": True, "false": False, "null": None}[v]


def bench_summary(a):
    if a.what == "shadow":
        try:
            res = bench.shadow(pathlib.Path(a.file), a.secs, a.rounds)
        except (ValueError, OSError) as e:
            sys.exit("bench-shadow: %s" % e)
        import json
        print(json.dumps(res))
        return 0
    text = pathlib.Path(a.file).read_text(errors="replace")
    if a.what == "kvm-ipi":
        try:
            print(bench.kvm_ipi(text, a.append))
        except ValueError as e:
            sys.exit(str(e))
        return 0
    lines = text.splitlines()
    if a.what == "nested":
        res = bench.nested(lines, secs=a.secs, complete=_tristate(a.complete), reps=a.reps,
                           work=a.work, exits=a.exits, l2_smp=a.l2_smp, l1_mem=a.l1_mem,
                           rounds=a.rounds)
    else:
        res = bench.span(lines, rounds=a.rounds, secs=a.secs, complete=_tristate(a.complete),
                         append=a.append, work=a.work, rt=a.rt, nacc=a.nacc)
    print(bench.dumps(res))
    return 0


def tap_number(a):
    src = open(a.file) if a.file else sys.stdin
    results = [l.rstrip("\n") for l in src if l.strip()]
    sys.stdout.write(tap.number(results, a.layer))
    return 0


def test_summary(a):
    c = tap.Counts()
    for f in a.files:
        p = pathlib.Path(f + a.suffix)
        if p.is_file():
            c.add_text(p.read_text(errors="replace"))
        else:
            c.add_missing(str(p))
    for l in c.report:
        print(l)
    if a.elapsed:
        print("tests took %ss" % a.elapsed)
    print(c.line())
    return 1 if c.failed else 0


def unit_tap(a):
    return jobs.unittest_tap(a.dir, a.name)


def _tests_dir():
    return os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                        "tests", "span")


def span_plan(a):
    pending, lines = jobs.span_plan(a.mode, a.tests, jobs.reasons(os.path.join(_tests_dir(), "may-hang")),
                                    bool(os.environ.get("SPAN_RUN_HANGING")))
    for l in lines:
        print("RESULT " + l)
    for t in pending:
        print("RUN " + t)
    return 0


def span_job(a):
    script, total = jobs.span_job(a.tests, _tests_dir())
    with open(os.path.join(a.jobdir, "job.sh"), "w") as f:
        f.write(script)
    print(total)
    return 0


def span_collect(a):
    text = pathlib.Path(a.out).read_text(errors="replace") if os.path.exists(a.out) else ""
    lines, left, says = jobs.span_attempt(a.mode, text, a.tests, a.attempt, a.lrc,
                                          jobs.reasons(os.path.join(_tests_dir(), "known-flaky")))
    for l in says:
        print("SAY " + l)
    for l in lines:
        print("RESULT " + l)
    for t in left:
        print("LEFT " + t)
    return 0


def _nested_dir():
    return os.path.join(os.path.dirname(_tests_dir()), "nested")


def _nested_bounds(a):
    return [jobs.nested_bound(os.path.join(_nested_dir(), t), a.step_bound) for t in a.tests]


def _read(path):
    return pathlib.Path(path).read_text(errors="replace") if path and os.path.exists(path) else ""


def nested_job(a):
    bounds = _nested_bounds(a)
    with open(os.path.join(a.jobdir, "job.sh"), "w") as f:
        f.write(jobs.nested_job(a.tests, bounds, a.deadline))
    print(sum(bounds))
    return 0


def nested_budget(a):
    import time
    if not a.deadline:
        return 1
    bounds = _nested_bounds(a)
    left = a.deadline - int(time.time())
    need = jobs.nested_budget_short(bounds, left)
    if need is None:
        return 1
    print("SHORT %d %d" % (left, need))
    for t, b in zip(a.tests, bounds):
        print("RESULT " + jobs.nested_skip(t, left, b))
    return 0


def nested_failed(a):
    for t in jobs.nested_failed(_read(a.out), a.tests):
        print(t)
    return 0


def nested_retry_line(a):
    print(jobs.nested_retry_line(_read(a.out), a.lrc, a.tests, a.deadline))
    return 0


def nested_results(a):
    retry = _read(a.retry) if a.retry else None
    lines, meas = jobs.nested_results(a.tests, _read(a.first), a.first_lrc, retry, a.retry_lrc,
                                      a.again.split())
    with open(a.measurements, "w") as f:
        f.writelines(m + "\n" for m in meas)
    for l in lines:
        print(l)
    return 0


def _status():
    return kselftest.Status(_read(os.path.join(os.path.dirname(_tests_dir()), "kselftest", "lab-status")))


def kselftest_job(a):
    st = _status()
    tests = a.tests or [l.split(":", 1)[1] for l in _read(a.list).splitlines() if ":" in l]
    run = [t for t in tests if not st.skipped(t, a.all)]
    script, total = kselftest.job(run, st)
    with open(os.path.join(a.jobdir, "job.sh"), "w") as f:
        f.write(script)
    print("TOTAL %d" % total)
    for t in tests:
        print(("SKIP " if st.skipped(t, a.all) else "RUN ") + t)
    return 0


def kselftest_tap(a):
    st = _status()
    text, newpass = kselftest.tap(a.tests, st, _read(a.raw), a.lrc, a.name, a.all)
    with open(a.out, "w") as f:
        f.write(text)
    if newpass:
        print("SAY passing but not listed as pass in tests/kselftest/lab-status: " + " ".join(newpass))
    sl = kselftest.slow(_read(a.times), st)
    if sl:
        print("SAY used more than half their timeout (times: %s): %s" % (a.times_name, " ".join(sl)))
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="spanharness", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bench-summary", help="a benchmark's JSON from its raw lines")
    b.add_argument("what", choices=("nested", "span", "shadow", "kvm-ipi"))
    b.add_argument("file", help="raw lines (shadow: the lab job folder)")
    b.add_argument("--secs", type=int, default=0, help="the lab's run time")
    b.add_argument("--complete", choices=("true", "false", "null"), default="true")
    b.add_argument("--rounds", type=int, default=None)
    b.add_argument("--reps", type=int, default=3)
    b.add_argument("--work", type=int, default=None)
    b.add_argument("--exits", type=int, default=1000)
    b.add_argument("--l2-smp", type=int, default=2)
    b.add_argument("--l1-mem", default="1G")
    b.add_argument("--append", default="", help="the lab's extra kernel command line")
    b.add_argument("--rt", type=int, default=200)
    b.add_argument("--nacc", type=int, default=500)
    b.set_defaults(func=bench_summary)
    t = sub.add_parser("tap", help="number result lines (stdin or FILE) as TAP")
    t.add_argument("layer")
    t.add_argument("file", nargs="?")
    t.set_defaults(func=tap_number)
    s = sub.add_parser("test-summary", help="count TAP results over files")
    s.add_argument("files", nargs="*")
    s.add_argument("--suffix", default="")
    s.add_argument("--elapsed", default="")
    s.set_defaults(func=test_summary)
    u = sub.add_parser("unit-tap", help="run the unittests under DIR, one TAP result line each")
    u.add_argument("dir")
    u.add_argument("--name", default="harness")
    u.set_defaults(func=unit_tap)
    sp = sub.add_parser("span-plan", help="the span tests of MODE to run, the skipped ones' results")
    sp.add_argument("mode")
    sp.add_argument("tests", nargs="*")
    sp.set_defaults(func=span_plan)
    sj = sub.add_parser("span-job", help="write JOBDIR/job.sh running the span tests; print their bound")
    sj.add_argument("jobdir")
    sj.add_argument("tests", nargs="*")
    sj.set_defaults(func=span_job)
    sc = sub.add_parser("span-collect", help="the results of one span lab run")
    sc.add_argument("mode")
    sc.add_argument("out")
    sc.add_argument("attempt", type=int)
    sc.add_argument("lrc")
    sc.add_argument("tests", nargs="*")
    sc.set_defaults(func=span_collect)
    def nested(name, func, help, *args):
        n = sub.add_parser(name, help=help)
        for arg in args:
            n.add_argument(arg)
        n.add_argument("--deadline", type=int, default=None, help="SPAN_TEST_DEADLINE")
        n.add_argument("--step-bound", default=None, help="every test's bound instead of its own")
        n.add_argument("tests", nargs="*")
        n.set_defaults(func=func)
        return n
    nested("nested-job", nested_job, "write JOBDIR/job.sh for the nested tests; print their bounds' sum", "jobdir")
    nested("nested-budget", nested_budget, "exit 0 and print SHORT LEFT NEED and the skips' results "
           "if not even the quickest test fits before the deadline")
    nested("nested-failed", nested_failed, "the tests that failed or have no result in OUT", "out")
    nested("nested-retry-line", nested_retry_line, "the # TODO line of a failed first attempt", "out", "lrc")
    n = nested("nested-results", nested_results, "the result lines of the nested tests; "
               "their measurements into --measurements")
    n.add_argument("--first", required=True)
    n.add_argument("--first-lrc", required=True)
    n.add_argument("--retry", default=None)
    n.add_argument("--retry-lrc", default=None)
    n.add_argument("--again", default="", help="the tests the retry ran (one word)")
    n.add_argument("--measurements", required=True)
    k = sub.add_parser("kselftest-job", help="write JOBDIR/job.sh for the kselftests; print TOTAL "
                       "(their bounds), RUN TEST and SKIP TEST lines")
    k.add_argument("--all", action="store_true", help="also the tests lab-status skips")
    k.add_argument("--list", help="kselftest-list.txt (COLLECTION:TEST lines) when no TEST is given")
    k.add_argument("jobdir")
    k.add_argument("tests", nargs="*")
    k.set_defaults(func=kselftest_job)
    k = sub.add_parser("kselftest-tap", help="write the kselftest layer's TAP (--out) from the runner's "
                       "output; print SAY lines")
    k.add_argument("--all", action="store_true")
    k.add_argument("--name", default="kselftest")
    k.add_argument("--lrc", default="0")
    k.add_argument("--raw", required=True, help="the runner's output")
    k.add_argument("--times", required=True, help="the job's times.txt")
    k.add_argument("--times-name", default="times.txt", help="that file's name in the message")
    k.add_argument("--out", required=True)
    k.add_argument("tests", nargs="*")
    k.set_defaults(func=kselftest_tap)
    a = p.parse_args(argv)
    if a.cmd == "bench-summary":
        defaults = {"nested": (3, 200000), "span": (15, 100000), "shadow": (3, 0), "kvm-ipi": (0, 0)}
        r, w = defaults[a.what]
        a.rounds = r if a.rounds is None else a.rounds
        a.work = w if a.work is None else a.work
    return a.func(a)


if __name__ == "__main__":
    sys.exit(main())
