#!/usr/bin/env python3
"""Checks the JUnit XML of `tcpsim check --junit` with tools that share
nothing with tcpsim: Python's `xmlschema` package against .ci/junit.xsd
(the Ant/Jenkins JUnit format, written from its documentation), and
Python's own XML parser for what a schema cannot say.

    python3 .ci/junit-check.py REPORT.xml [MIN_FILES]

It checks that

1. the schema itself is a valid XSD 1.0, and refuses a report with a
   testcase that lacks its required `name` and one with a negative count
   (so that 2 cannot pass by accepting everything);
2. REPORT.xml validates against it;
3. the counts add up: each testsuite's tests/failures/errors are its
   testcases, the ones with a <failure> and the ones with an <error>; the
   root's are the sums of its testsuites'; every testcase has a `time`
   and the classname of its testsuite (the file), and each file has
   exactly one testcase `golden` unless it is one `valid` error case;
4. there are at least MIN_FILES testsuites (default 1).

Prints what it checked and exits 1 on a failure, 2 on bad usage.
"""

import copy
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import xmlschema


def fail(msg):
    print(f"junit-check: FAIL: {msg}")
    sys.exit(1)


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__.strip().splitlines()[4], file=sys.stderr)
        sys.exit(2)
    report = Path(sys.argv[1])
    min_files = int(sys.argv[2]) if len(sys.argv) == 3 else 1
    schema = xmlschema.XMLSchema10(Path(__file__).with_name("junit.xsd"))

    tree = ET.parse(report)
    root = tree.getroot()

    # 1. The schema refuses what is wrong.
    for what, spoil in [
        ("a testcase without name", lambda r: r.find(".//testcase").attrib.pop("name")),
        ("a negative count", lambda r: r.set("tests", "-1")),
        ("an unknown child", lambda r: r.find(".//testcase").append(ET.Element("oops"))),
    ]:
        bad = copy.deepcopy(root)
        spoil(bad)
        if schema.is_valid(ET.tostring(bad, encoding="unicode")):
            fail(f"the schema accepts {what}")

    # 2. The report validates.
    errors = list(schema.iter_errors(str(report)))
    for e in errors[:10]:
        print(f"junit-check: {e.reason} at {e.path}")
    if errors:
        fail(f"{report}: {len(errors)} schema errors")

    # 3. The counts.
    if root.tag != "testsuites":
        fail(f"root is <{root.tag}>, expected <testsuites>")
    suites = root.findall("testsuite")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for s in suites:
        name = s.get("name")
        cases = s.findall("testcase")
        counts = {
            "tests": len(cases),
            "failures": sum(1 for c in cases if c.find("failure") is not None),
            "errors": sum(1 for c in cases if c.find("error") is not None),
        }
        for k, v in counts.items():
            if int(s.get(k, "0")) != v:
                fail(f"testsuite {name}: {k}={s.get(k)} but {v} such testcases")
            totals[k] += v
        for c in cases:
            if c.get("classname") != name:
                fail(f"testsuite {name}: testcase {c.get('name')} has classname {c.get('classname')}")
            if c.get("time") is None:
                fail(f"testsuite {name}: testcase {c.get('name')} has no time")
        names = [c.get("name") for c in cases]
        if names != ["valid"] and names.count("golden") != 1:
            fail(f"testsuite {name}: {names.count('golden')} golden testcases")
    for k, v in totals.items():
        if int(root.get(k, "0")) != v:
            fail(f"testsuites: {k}={root.get(k)} but the testsuites hold {v}")

    # 4. Not vacuous.
    if len(suites) < min_files:
        fail(f"{len(suites)} testsuites, expected at least {min_files}")
    print(
        f"junit-check: {report} valid against .ci/junit.xsd (xmlschema {xmlschema.__version__}); "
        f"{len(suites)} testsuites, {totals['tests']} testcases, "
        f"{totals['failures']} failures, {totals['errors']} errors; counts add up"
    )


if __name__ == "__main__":
    main()
