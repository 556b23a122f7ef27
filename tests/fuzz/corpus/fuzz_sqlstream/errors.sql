SELECT 1;
SELECT (;
\i other.sql
