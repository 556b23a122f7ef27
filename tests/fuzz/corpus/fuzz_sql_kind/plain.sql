CREATE TABLE app.t (i int);
INSERT INTO app.t VALUES (1);
