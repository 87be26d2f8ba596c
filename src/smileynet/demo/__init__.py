"""demo: the whole pipeline on a generated world (`smileynet demo`, `make demo`).

`world` writes what a real user would have (archives of posts, the images they link to, two
benchmarks); `server` hosts the images on 127.0.0.1; `pipeline` runs the real commands in order.
"""
