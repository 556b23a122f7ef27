\restrict k3y
SET statement_timeout = 0;
COPY public.t (a, b) FROM stdin;
1	\N
2	;x
\.
SELECT 2;
copy t from STDIN;
\.
\unrestrict k3y
