DO $body$
BEGIN
  EXECUTE 'COMMIT';
END
$body$;
/* begin; */ -- commit;
CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;
COPY t FROM stdin;
