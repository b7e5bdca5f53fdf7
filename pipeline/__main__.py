import sys

from pipeline.cli import end_at_once, main

code = main()
if "--when-told" in sys.argv:  # a stage of ``convert``: every file it writes is closed
    end_at_once(code)
raise SystemExit(code)
