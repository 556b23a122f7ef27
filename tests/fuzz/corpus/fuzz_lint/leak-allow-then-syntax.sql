SET search_path = ref, public;
ALTER TABLE t ADD COLUMN c int DEFAULT random();
-- padctl:allow ban-drop-table ole oROP TABSET search_path = ref, pubi
COPY ref.t FROM STDIN;21
\ TABLE a (IMARY KElc;
ALTER TABLE t ADD COLUMN c int DEFAULT randY, on