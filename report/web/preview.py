#!/usr/bin/env python3
"""Splice a report document into template.html, as `istar report` does, for previews and tests.

    python3 preview.py DATA.json ECHARTS.min.js OUT.html

Each of the template's four placeholder lines (alone on its line) is replaced by a file's
contents: report.css, echarts.min.js, the JSON (with every "<" written "\\u003c", the same JSON string, so that it cannot
close its <script> element) and report.js. report.css, report.js and template.html are read from
this script's folder. Standard library only.
"""
import os
import sys


def main(argv):
    if len(argv) != 4:
        sys.stderr.write("usage: python3 preview.py DATA.json ECHARTS.min.js OUT.html\n")
        return 2
    data_path, echarts_path, out_path = argv[1:]
    here = os.path.dirname(os.path.abspath(__file__))

    def read(path):
        with open(path, encoding="utf-8") as f:
            return f.read()

    data = read(data_path).replace("<", "\\u003c")
    parts = {
        "/*@ISTAR_CSS@*/": read(os.path.join(here, "report.css")),
        "/*@ISTAR_ECHARTS@*/": read(echarts_path),
        "@ISTAR_DATA@": data,
        "/*@ISTAR_REPORT_JS@*/": read(os.path.join(here, "report.js")),
    }
    out, seen = [], set()
    # One pass over the template's lines: a placeholder is a whole line, and inserted text is
    # never searched again (a placeholder-like string inside the data stays as it is).
    for line in read(os.path.join(here, "template.html")).splitlines(keepends=True):
        key = line.strip()
        if key in parts:
            if key in seen:
                sys.stderr.write("preview.py: placeholder %s appears twice\n" % key)
                return 1
            seen.add(key)
            text = parts[key]
            out.append(text if text.endswith("\n") else text + "\n")
        else:
            out.append(line)
    missing = set(parts) - seen
    if missing:
        sys.stderr.write("preview.py: template lacks %s\n" % ", ".join(sorted(missing)))
        return 1
    with open(out_path, "w", encoding="utf-8") as f:
        f.write("".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
