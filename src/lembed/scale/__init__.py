"""Scale-out: batch indexing on Ray (:mod:`lembed.scale.ray_index`), started behind a guard
that keeps a local Ray on loopback (:mod:`lembed.scale.ray_guard`). Needs ``lembed[ray]``."""
