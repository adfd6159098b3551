"""socklab_bench - `make bench` as a package, one module a job.

    conf      constants of the workload, the bulk sizes, log and warn
    pin       CPU pinning (--pin), shared with the side runs
    procs     every process the bench starts: servers, bounded commands
    memory    RSS and PSS of a server's process tree, sampled under load
    digest    loadgen's JSON: every field the driver reads is read there
    columns   the one list of figures: CSV columns, report cells, glossary
    models    what bin/server says of its models; pool sizes; externals
    run       the orchestration: the plan, the rounds, one loadgen run
    refs      the references: the floors, iperf3, hyperfine, --one
    collate   the rounds made into representatives, floors and a ranking
    plots     plotdata/ and the gnuplot SVGs
    report    report.md: the frame; tables and headline: its sections
    fmt       how numbers are printed
    cli       the options and main()

bench/bench.py is the entry point; bench/rank.py (the ranking with ties)
stays a script of its own, imported here.  Python 3 standard library
only.
"""
