"""asv benchmarks for fastcorr (``asv run``; configuration in ../asv.conf.json)."""
