"""``python -m codeml_repro.cli``, as the tests and benchmarks call it."""

from codeml_repro.cli import main

if __name__ == "__main__":
    main()
