-- PostgreSQL hash-chain baseline (issue 7): copied verbatim below this header from
-- ../shared/research/pg-baseline/insert_plain.sql, the setup measured in ../shared/research/limits.md §3d.
-- Used by scripts/bench.sh (pgbench -n -M prepared against a throwaway cluster on loopback).
\set r random(1, 1000000000)
INSERT INTO audit_plain(actor, payload) VALUES ('user' || :r, repeat(md5(:r::text), 9) || 'abcdefghijkl');
