-- PostgreSQL hash-chain baseline (issue 7): copied verbatim below this header from
-- ../shared/research/pg-baseline/schema.sql, the setup measured in ../shared/research/limits.md §3d.
-- Used by scripts/bench.sh (pgbench -n -M prepared against a throwaway cluster on loopback).
CREATE EXTENSION IF NOT EXISTS pgcrypto;
DROP TABLE IF EXISTS audit, audit_head, audit_plain;
-- single-row chain head: serialises appenders (row lock) and holds the last hash
CREATE TABLE audit_head (id int PRIMARY KEY CHECK (id = 1), seq bigint NOT NULL, hash bytea NOT NULL);
INSERT INTO audit_head VALUES (1, 0, '\x0000000000000000000000000000000000000000000000000000000000000000');
CREATE TABLE audit (
  seq        bigint PRIMARY KEY,
  at         timestamptz NOT NULL DEFAULT now(),
  actor      text NOT NULL,
  payload    text NOT NULL,
  prev_hash  bytea NOT NULL,
  hash       bytea NOT NULL
);
CREATE FUNCTION audit_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE h_seq bigint; h_hash bytea;
BEGIN
  SELECT seq, hash INTO h_seq, h_hash FROM audit_head WHERE id = 1 FOR UPDATE;
  NEW.seq := h_seq + 1;
  NEW.prev_hash := h_hash;
  NEW.hash := digest(h_hash || convert_to(NEW.seq::text || '|' || NEW.actor || '|' || NEW.at::text || '|' || NEW.payload, 'UTF8'), 'sha256');
  UPDATE audit_head SET seq = NEW.seq, hash = NEW.hash WHERE id = 1;
  RETURN NEW;
END $$;
CREATE TRIGGER audit_chain_bi BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION audit_chain();
CREATE FUNCTION audit_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'audit is append-only'; END $$;
CREATE TRIGGER audit_no_ud BEFORE UPDATE OR DELETE ON audit FOR EACH ROW EXECUTE FUNCTION audit_immutable();
CREATE TRIGGER audit_no_trunc BEFORE TRUNCATE ON audit FOR EACH STATEMENT EXECUTE FUNCTION audit_immutable();
-- control: same row shape, no trigger/chain
CREATE TABLE audit_plain (seq bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), actor text NOT NULL, payload text NOT NULL);
