DO $body$
BEGIN
  PERFORM 1; -- ;
END
$body$;
CREATE FUNCTION "Fn"() RETURNS text AS $$ SELECT $q$;$q$ $$ LANGUAGE sql;
SELECT E'a\';b', 'it''s;', "a;b" FROM x /* ; /* nested ; */ */;
