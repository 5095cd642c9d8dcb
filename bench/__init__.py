"""fastmlp's benchmark suite: fastmlp, scikit-learn and PyTorch side by side.

Run it from the repository root::

    python -m bench                  # every workload, Fashion-MNIST, a few minutes
    python -m bench --workloads w1   # one workload
    python -m bench --quick          # tiny synthetic data: does the suite run?

Workloads: W1 Fashion-MNIST (100,) relu adam float32 and float64;
W2 784-16-16-10 logistic; W3 (256, 128) relu; W4 prediction latency and
throughput; W5 start-up (cold compile, warm first fit); W6 GridSearchCV
8 configurations x 3 folds; W7 thread scaling. Results go to ``bench/results/``:
``run-<stamp>.json`` and ``latest.json``, ``latest.md``, ``speedup.png`` and
``scaling.png``; the same tables are printed. ``python -m bench.layers`` trains the network shapes fastmlp adds
(residual, dropout, Maxout) on Fashion-MNIST and reports their test accuracy.

Modules: ``run`` (command line), ``workloads`` (what is timed, how),
``measure`` (threads, GEMM peak, FLOPs), ``torch_mlp`` (the PyTorch loop),
``data``, ``machine``, ``report`` (Markdown, plots), ``startup``
(W5's fresh-process probe).
"""
