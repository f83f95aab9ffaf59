"""Prints `N passed, M failed` for the JUnit reports of a schemathesis run.

Usage: python3 scripts/junit_summary.py REPORT_DIR EXIT_CODE
Every operation is one test case; a run that failed (EXIT_CODE != 0) without a failing
case counts as one failure. Exits 1 when anything failed.
"""

import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def main() -> int:
    report, code = Path(sys.argv[1]), sys.argv[2]
    cases = failures = 0
    for path in report.glob("*.xml"):
        for case in ET.parse(path).getroot().iter("testcase"):
            cases += 1
            failures += any(c.tag in ("failure", "error") for c in case)
    if code != "0" and failures == 0:
        failures = 1
    print(f"{cases - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
