COPY t FROM STDIN WITH (FORMAT csv);
a,"b;c"
\.
COPY t TO STDOUT; COPY t FROM '/x';
SELECT 'é';
