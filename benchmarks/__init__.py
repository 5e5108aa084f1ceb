"""gureum's benchmark suite: `python -m benchmarks.run [--quick] [--peers] [--out DIR]`.

It starts what it measures (gureum, the do-nothing floor servers and, with `--peers`, the peers),
drives them with one lean client, stops everything and writes `results.json`, `RESULTS.md` and
`results.png`. Performance is measured here, never asserted in timed tests.
"""
