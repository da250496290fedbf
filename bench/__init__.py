"""scimwatch benchmarks and long fault runs: `python -m bench` prints one table of figures next to baselines."""
