#!/usr/bin/env python3
"""What dcap-qvl (the PyPI package, Phala's Rust QVL) says of a TDX quote with its collateral.

  dcap_qvl_verdict.py QUOTE COLLATERAL_JSON AT_RFC3339

Prints one JSON object: {"status": ..., "advisory_ids": [...]} when dcap-qvl verifies the quote,
{"error": "..."} when it refuses it. The verify tests compare prelaunch's tdx.tcb-status with it.
"""
import calendar
import json
import sys
import time

import dcap_qvl

quote, collateral, at = sys.argv[1:4]
raw = open(quote, "rb").read()
col = dcap_qvl.QuoteCollateralV3.from_json(open(collateral).read())
now = calendar.timegm(time.strptime(at, "%Y-%m-%dT%H:%M:%SZ"))
try:
    r = dcap_qvl.verify(raw, col, now)
    print(json.dumps({"status": r.status, "advisory_ids": list(r.advisory_ids)}))
except Exception as e:  # dcap-qvl raises ValueError (or its own errors) for every refusal
    print(json.dumps({"error": str(e)}))
