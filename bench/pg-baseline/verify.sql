-- PostgreSQL hash-chain baseline (issue 7): copied verbatim below this header from
-- ../shared/research/pg-baseline/verify.sql, the setup measured in ../shared/research/limits.md §3d.
-- Used by scripts/bench.sh (pgbench -n -M prepared against a throwaway cluster on loopback).
-- recompute the chain and count mismatches
WITH c AS (SELECT *, lag(hash) OVER (ORDER BY seq) AS lag_hash FROM audit)
SELECT count(*) AS rows,
       count(*) FILTER (WHERE hash <> digest(prev_hash || convert_to(seq::text || '|' || actor || '|' || at::text || '|' || payload, 'UTF8'), 'sha256')) AS bad_hash,
       count(*) FILTER (WHERE lag_hash IS NOT NULL AND prev_hash <> lag_hash) AS bad_link
FROM c;
