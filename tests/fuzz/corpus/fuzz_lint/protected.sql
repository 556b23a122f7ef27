SET search_path = ref, public;
ALTER TABLE t ADD COLUMN c int DEFAULT random();
-- padctl:allow ban-drop-table old
DROP TABLE x;
CREATE INDEX ON ref.t (a);
