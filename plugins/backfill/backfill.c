/* backfill: a data migration (backfills/<name>.yml) in key-ordered batches.
 *
 * Each batch is one transaction: the pre-checks (their keys are recorded as
 * failures and left out), the batch SQL, and the host's records of what it
 * wrote (padctl.migration_mapping) and of the run's counts, all committed
 * together. The next batch starts after the last key (a keyset read, never
 * an OFFSET) among the rows that have no mapping and no recorded failure, so
 * a re-run skips what is done and a killed run resumes after its last
 * committed batch. A batch the server fails is split in halves until the
 * failing source rows stand alone; each is recorded with the server's error
 * and the run goes on. In dry_run every batch runs and is rolled back.
 * Memory holds one batch at a time. */
#include <padctl/plugin.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_FAILURE_LINES 20
#define LOG_EVERY_MS 10000.0

struct bf {
	const struct padctl_host *h;
	struct padctl_step *st;
	const struct padctl_backfill_v1 *svc;
	const struct padctl_backfill_def *def;
	int dry;
	uint64_t goal, done, failed, written, batches;
	uint64_t isolated; /* source rows the server failed, isolated so far (for the next split's size) */
	uint64_t *per_target; /* rows written per def->targets[i] */
	unsigned shown; /* failure lines logged */
	double t0, last_log;
	int tty;
	int fast; /* the service's run_mapped may be tried */
	char timeout_sql[64];
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static const struct padctl_option options[] = {
	{ "name", PADCTL_OPT_STRING, 0, "the backfill (backfills/NAME.yml); `- backfill: NAME` gives it as the phase" },
	{ "limit", PADCTL_OPT_INT, 0, "stop after this many source rows" },
	{ "batch", PADCTL_OPT_INT, 0, "source rows per batch (default: the file's batch_size)" },
	{ "dry_run", PADCTL_OPT_BOOL, 0, "run every batch and roll it back" },
	{ "retry_failed", PADCTL_OPT_BOOL, 0, "retry only the recorded failures" },
	{ NULL, 0, 0, NULL },
};

static int opt_bool(struct bf *b, const char *name)
{
	const char *v = b->h->option(b->st, name);
	return v && (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on") || !strcmp(v, "True") ||
		     !strcmp(v, "TRUE") || !strcmp(v, "Yes") || !strcmp(v, "On"));
}

static long opt_long(struct bf *b, const char *name, long dflt)
{
	const char *v = b->h->option(b->st, name);
	if (!v)
		return dflt;
	char *end;
	long n = strtol(v, &end, 10);
	return *end ? dflt : n;
}

/* keys_literal writes keys[0..n) as a bigint[] literal */
static char *keys_literal(char *const *keys, size_t n)
{
	size_t len = 3;
	for (size_t i = 0; i < n; i++)
		len += strlen(keys[i]) + 1;
	char *s = malloc(len);
	if (!s)
		return NULL;
	char *p = s;
	*p++ = '{';
	for (size_t i = 0; i < n; i++) {
		size_t k = strlen(keys[i]);
		if (i)
			*p++ = ',';
		memcpy(p, keys[i], k);
		p += k;
	}
	*p++ = '}';
	*p = '\0';
	return s;
}

static void show_failure(struct bf *b, const char *key, const char *reason)
{
	if (b->shown++ < MAX_FAILURE_LINES)
		b->h->log(b->st, PADCTL_LOG_WARN, "%s row %s=%s %s: %s", b->def->source_table, b->def->source_key, key,
			  b->dry ? "would fail" : "failed", reason);
}

static void report(struct bf *b, int force)
{
	double t = now_ms();
	double secs = (t - b->t0) / 1000.0;
	uint64_t n = b->done + b->failed;
	double rate = secs > 0 ? (double)n / secs : 0;
	double left = rate > 0 && b->goal > n ? (double)(b->goal - n) / rate : 0;
	if (b->tty) {
		char label[160];
		snprintf(label, sizeof label, "rows  %.0f rows/s  %" PRIu64 " failed  %.0f s left", rate, b->failed,
			 left);
		b->h->progress(b->st, n, b->goal, label);
	} else if (force || t - b->last_log >= LOG_EVERY_MS) {
		b->h->log(b->st, PADCTL_LOG_INFO,
			  "%" PRIu64 " of %" PRIu64 " rows, %.0f rows/s, %" PRIu64 " failed, about %.0f s left", n,
			  b->goal, rate, b->failed, left);
		b->last_log = t;
	}
}

/* isolatable: the server failed the batch for something one of its rows
 * holds (bad data: class 22, a constraint: 23, a RAISE: P0, a value too
 * large: 54, a statement timeout), which bisection isolates. Anything else
 * (a missing table or column, a permission, a lost connection, the host's
 * contract checks, padctl told to stop) would fail every row alike: it ends
 * the run instead of recording every source row as failed. */
static int isolatable(struct bf *b)
{
	const char *s = b->h->error_sqlstate(b->st);
	if (!s || b->h->cancelled(b->st))
		return 0;
	return !strncmp(s, "22", 2) || !strncmp(s, "23", 2) || !strncmp(s, "P0", 2) || !strncmp(s, "54", 2) ||
	       !strcmp(s, "57014");
}

static int cmp_i64(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, c = *(const int64_t *)y;
	return a < c ? -1 : a > c;
}

/* add_bad appends a failing key with its reason (and SQLSTATE, or NULL) */
static void add_bad(char ***key, char ***reason, char ***state, size_t *n, const char *k, const char *why,
		    const char *code)
{
	*key = realloc(*key, (*n + 1) * sizeof **key);
	*reason = realloc(*reason, (*n + 1) * sizeof **reason);
	*state = realloc(*state, (*n + 1) * sizeof **state);
	(*key)[*n] = strdup(k);
	(*reason)[*n] = strdup(why);
	(*state)[*n] = code ? strdup(code) : NULL;
	(*n)++;
}

/* landed_fast counts what run_mapped's summary says a batch of n good keys
 * wrote and adds the keys that wrote nothing to the failures */
static void landed_fast(struct bf *b, const struct padctl_rows *sum, size_t n, uint64_t *add,
		       char ***bad_key, char ***bad_reason, char ***bad_state, size_t *nbad)
{
	const struct padctl_host *h = b->h;
	uint64_t written = 0, missing = 0;
	for (int r = 0; r < h->rows_count(sum); r++) {
		const char *kind = h->rows_value(sum, r, 0), *v = h->rows_value(sum, r, 1);
		if (!kind || !v)
			continue;
		if (!strcmp(kind, "target")) {
			const char *cnt = h->rows_value(sum, r, 2);
			uint64_t c = cnt ? strtoull(cnt, NULL, 10) : 0;
			written += c;
			for (size_t t = 0; t < b->def->ntargets; t++)
				if (!strcmp(b->def->targets[t], v))
					add[t] += c;
		} else if (!strcmp(kind, "missing")) {
			missing++;
			add_bad(bad_key, bad_reason, bad_state, nbad, v, "the batch SQL wrote no row for this source row",
				NULL);
		}
	}
	b->done += n - missing;
	b->written += written;
	for (size_t t = 0; t < b->def->ntargets; t++)
		b->per_target[t] += add[t];
}

/* run_once runs keys[0..n) as one transaction; with parts > 0 the server
 * isolates the rows that fail (the service's isolate, in that many parts)
 * and the rest commits. 1: the server failed it (the transaction was rolled
 * back, the error is still recorded), -1: fatal */
static int run_once(struct bf *b, char **keys, size_t n, long parts)
{
	const struct padctl_host *h = b->h;
	struct padctl_step *st = b->st;
	const struct padctl_backfill_def *def = b->def;
	struct padctl_rows *rows = NULL;
	struct padctl_rows *fails = NULL;
	char **bad_key = NULL, **bad_reason = NULL, **bad_state = NULL;
	size_t nbad = 0;
	int64_t *iso = NULL; /* keys the server isolated, sorted */
	size_t niso = 0;
	char *lit = NULL;
	int64_t *seen = NULL, *gk = NULL;
	size_t nseen = 0;
	uint64_t *add = calloc(def->ntargets ? def->ntargets : 1, sizeof *add);
	int rc = 0;
	char **good = calloc(n, sizeof *good);
	if (!good || !add) {
		free(good);
		free(add);
		return h->fail(st, NULL, "out of memory");
	}
	if (h->tx_begin(st))
		goto server;
	if (def->statement_timeout_ms && h->sql_exec(st, b->timeout_sql, NULL))
		goto server;
	lit = keys_literal(keys, n);
	for (size_t c = 0; lit && c < def->nchecks; c++) {
		const char *p[] = { lit };
		if (h->sql_query(st, def->checks[c].sql, 1, p, &rows))
			goto server;
		for (int r = 0; r < h->rows_count(rows); r++) {
			const char *k = h->rows_value(rows, r, 0);
			const char *why = h->rows_value(rows, r, 1);
			if (!k)
				continue;
			/* a pre-check may only set aside keys of its batch */
			int mine = 0;
			for (size_t i = 0; i < n && !mine; i++)
				mine = !strcmp(keys[i], k);
			if (!mine)
				continue;
			int dup = 0;
			for (size_t i = 0; i < nbad && !dup; i++)
				dup = !strcmp(bad_key[i], k);
			if (dup)
				continue;
			char msg[512];
			snprintf(msg, sizeof msg, "pre-check \"%s\": %s", def->checks[c].name, why ? why : "failed");
			add_bad(&bad_key, &bad_reason, &bad_state, &nbad, k, msg, NULL);
		}
		h->rows_free(rows);
		rows = NULL;
	}
	size_t ngood = 0;
	for (size_t i = 0; i < n; i++) {
		int isbad = 0;
		for (size_t j = 0; j < nbad && !isbad; j++)
			isbad = !strcmp(bad_key[j], keys[i]);
		if (!isbad)
			good[ngood++] = keys[i];
	}
	if (ngood) {
		free(lit);
		lit = keys_literal(good, ngood);
		const char *p[] = { lit };
		if (!lit)
			goto server;
		if (!parts && b->fast) {
			/* the batch SQL and its mapping rows in one statement on the server */
			int fr = b->svc->run_mapped(st, def, lit, &rows);
			if (fr < 0)
				goto server;
			if (fr == 0) {
				landed_fast(b, rows, ngood, add, &bad_key, &bad_reason, &bad_state, &nbad);
				h->rows_free(rows);
				rows = NULL;
				goto recorded;
			}
			b->fast = 0; /* not for this SQL: the rows travel, mapped() records them */
		}
		if (parts ? b->svc->isolate(st, def, lit, parts, &rows, &fails) : h->sql_query(st, def->sql, 1, p, &rows))
			goto server;
		int nf = h->rows_count(fails);
		iso = malloc((size_t)(nf ? nf : 1) * sizeof *iso);
		for (int r = 0; iso && r < nf; r++) {
			const char *k = h->rows_value(fails, r, 0);
			const char *why = h->rows_value(fails, r, 2);
			if (!k)
				continue;
			iso[niso++] = strtoll(k, NULL, 10);
			add_bad(&bad_key, &bad_reason, &bad_state, &nbad, k, why ? why : "failed",
				h->rows_value(fails, r, 1));
		}
		qsort(iso, niso, sizeof *iso, cmp_i64);
		int nr = h->rows_count(rows);
		seen = malloc((size_t)(nr ? nr : 1) * sizeof *seen);
		for (int r = 0; r < nr; r++) {
			const char *sid = h->rows_value(rows, r, 0);
			const char *tt = h->rows_value(rows, r, 1);
			seen[nseen++] = sid ? strtoll(sid, NULL, 10) : INT64_MIN;
			for (size_t t = 0; tt && t < def->ntargets; t++)
				if (!strcmp(def->targets[t], tt))
					add[t]++;
		}
		qsort(seen, nseen, sizeof *seen, cmp_i64);
		/* every key must have written something, and nothing but the batch's keys */
		gk = malloc(ngood * sizeof *gk);
		if (!gk) {
			h->tx_rollback(st);
			rc = h->fail(st, NULL, "out of memory");
			goto out;
		}
		size_t nwrote = 0;
		for (size_t i = 0; i < ngood; i++) {
			int64_t k = strtoll(good[i], NULL, 10);
			gk[i] = k;
			if (bsearch(&k, seen, nseen, sizeof *seen, cmp_i64)) {
				nwrote++;
				continue;
			}
			if (niso && bsearch(&k, iso, niso, sizeof *iso, cmp_i64))
				continue; /* failed alone: recorded with the server's error */
			add_bad(&bad_key, &bad_reason, &bad_state, &nbad, good[i],
				"the batch SQL wrote no row for this source row", NULL);
		}
		qsort(gk, ngood, sizeof *gk, cmp_i64);
		for (size_t i = 0; i < nseen; i++) {
			if (i && seen[i] == seen[i - 1])
				continue;
			if (!bsearch(&seen[i], gk, ngood, sizeof *gk, cmp_i64)) {
				h->tx_rollback(st);
				rc = h->fail(st, "return only the keys of the batch ($1) as source_id",
					     "%s:%d: the batch SQL of backfill \"%s\" returned source_id %" PRId64
					     ", which is not a key of its batch",
					     def->file, def->sql_line, def->name, seen[i]);
				goto out;
			}
		}
		if (!b->dry && b->svc->mapped(st, def, rows)) {
			if (isolatable(b))
				goto server;
			h->tx_rollback(st);
			rc = -1;
			goto out;
		}
		h->rows_free(rows);
		rows = NULL;
		b->done += nwrote;
		b->written += nseen;
		for (size_t t = 0; t < def->ntargets; t++)
			b->per_target[t] += add[t];
	}
recorded:
	for (size_t i = 0; i < nbad; i++) {
		show_failure(b, bad_key[i], bad_reason[i]);
		if (!b->dry && (bad_state[i] ? b->svc->failed_as(st, def, bad_key[i], bad_state[i], bad_reason[i])
					    : b->svc->failed(st, def, bad_key[i], bad_reason[i]))) {
			h->tx_rollback(st);
			rc = -1;
			goto out;
		}
	}
	b->failed += nbad;
	b->isolated += niso;
	b->batches++;
	if (b->dry) {
		h->tx_rollback(st);
	} else if (b->svc->counts(st, def, b->done, b->failed, b->written, b->batches, 0) || h->tx_commit(st)) {
		/* nothing of this batch counts: undo the tallies */
		b->batches--;
		b->failed -= nbad;
		b->isolated -= niso;
		if (!isolatable(b)) {
			rc = -1;
			goto out;
		}
		goto server_rolled_back;
	}
	goto out;
server:
	h->rows_free(rows);
	rows = NULL;
	h->tx_rollback(st);
server_rolled_back:
	rc = isolatable(b) ? 1 : -1;
out:
	if (rows)
		h->rows_free(rows);
	h->rows_free(fails);
	for (size_t i = 0; i < nbad; i++) {
		free(bad_key[i]);
		free(bad_reason[i]);
		free(bad_state[i]);
	}
	free(bad_key);
	free(bad_reason);
	free(bad_state);
	free(iso);
	free(lit);
	free(seen);
	free(gk);
	free(good);
	free(add);
	return rc;
}

/* a failing batch the server could not isolate (a statement timeout, say)
 * is split into this many parts, each retried alone */
#define BISECT_PARTS 4
/* the most parts the server isolates a failing batch in at first */
#define ISOLATE_PARTS_MAX 1024
#define ISOLATE_PARTS_PER_BAD 8.0

/* run_keys runs keys[0..n), splitting what the server fails until the failing
 * rows stand alone; each of those is recorded with the server's error */
static int run_keys(struct bf *b, char **keys, size_t n)
{
	uint64_t done0 = b->done, written0 = b->written;
	uint64_t *pt0 = malloc(b->def->ntargets * sizeof *pt0 + 1);
	if (pt0)
		memcpy(pt0, b->per_target, b->def->ntargets * sizeof *pt0);
	int rc = run_once(b, keys, n, 0);
	if (rc == 1 && n > 1 && PADCTL_SERVICE_HAS(b->svc, struct padctl_backfill_v1, failed_as)) {
		/* the batch failed for something in its rows: the server isolates
		 * them in one statement (subtransactions, no round trips, the batch
		 * SQL planned once), in parts of about an eighth of the rows
		 * expected per bad row at the rate seen so far: most parts land at
		 * once, and the rows run again while a bad row is searched for
		 * (about a part's worth per bad row) stay few; a part costs little
		 * more than its rows (bench/README.md, backfill) */
		b->done = done0;
		b->written = written0;
		if (pt0)
			memcpy(b->per_target, pt0, b->def->ntargets * sizeof *pt0);
		b->h->error_clear(b->st);
		uint64_t seen = b->done + b->failed + n;
		double expect = (double)n * (double)(b->isolated + 1) / (double)seen;
		long parts = (long)(ISOLATE_PARTS_PER_BAD * (expect < 1 ? 1 : expect) + 0.5);
		if (parts > ISOLATE_PARTS_MAX)
			parts = ISOLATE_PARTS_MAX;
		if ((size_t)parts > n)
			parts = (long)n;
		rc = run_once(b, keys, n, parts);
	}
	if (rc == 1) {
		/* rolled back: what run_once counted did not happen */
		b->done = done0;
		b->written = written0;
		if (pt0)
			memcpy(b->per_target, pt0, b->def->ntargets * sizeof *pt0);
	}
	free(pt0);
	if (rc <= 0)
		return rc;
	if (n == 1) {
		b->failed++;
		if (b->dry) {
			const char *why = PADCTL_SERVICE_HAS(b->svc, struct padctl_backfill_v1, error_text)
						  ? b->svc->error_text(b->st)
						  : NULL;
			show_failure(b, keys[0], why ? why : "the server failed it");
			b->h->error_clear(b->st);
			return 0;
		}
		const char *why = PADCTL_SERVICE_HAS(b->svc, struct padctl_backfill_v1, error_text)
					  ? b->svc->error_text(b->st)
					  : NULL;
		show_failure(b, keys[0], why ? why : "the server's error is recorded in padctl.backfill_failures");
		if (b->svc->failed(b->st, b->def, keys[0], NULL))
			return -1;
		return b->svc->counts(b->st, b->def, b->done, b->failed, b->written, b->batches, 0);
	}
	b->h->error_clear(b->st);
	/* quarters, not halves: the parts without a bad row land at once, and a
	 * bad row is reached through half as many levels, so the rows run and
	 * rolled back again (most of a failing batch's cost) are fewer for the
	 * same number of statements (bench/README.md, backfill) */
	size_t parts = n < BISECT_PARTS ? n : BISECT_PARTS;
	for (size_t i = 0, from = 0; i < parts; i++) {
		size_t to = n * (i + 1) / parts;
		if (run_keys(b, keys + from, to - from))
			return -1;
		from = to;
	}
	return 0;
}

static void pause_ms(struct bf *b, long ms)
{
	while (ms > 0 && !b->h->cancelled(b->st)) {
		long slice = ms > 100 ? 100 : ms;
		struct timespec ts = { 0, slice * 1000000L };
		nanosleep(&ts, NULL);
		ms -= slice;
	}
}

static int backfill_run(const struct padctl_host *h, struct padctl_step *st, void *state)
{
	(void)state;
	struct bf b;
	memset(&b, 0, sizeof b);
	b.h = h;
	b.st = st;
	b.svc = h->service(st, "backfill", PADCTL_BACKFILL_V1);
	if (!b.svc)
		return h->fail(st, "upgrade padctl: this plugin needs its \"backfill\" service",
			       "this padctl offers no \"backfill\" service version 1");
	const char *name = h->option(st, "name");
	if (!name)
		name = h->phase(st);
	if (!name)
		return h->fail(st,
			       "name the backfill: `- backfill: NAME` in the pipeline, or `padctl backfill ENV NAME`",
			       "no backfill named");
	if (b.svc->load(st, name, &b.def))
		return -1;
	const struct padctl_backfill_def *def = b.def;
	long batch = opt_long(&b, "batch", def->batch_size);
	long limit = opt_long(&b, "limit", 0);
	if (batch < 1 || batch > 100000)
		return h->fail(st, "give a batch size from 1 to 100000", "batch size %ld is out of range", batch);
	if (limit < 0)
		return h->fail(st, "give a limit of 0 (none) or more", "limit %ld is negative", limit);
	int retry = opt_bool(&b, "retry_failed");
	b.dry = opt_bool(&b, "dry_run") || h->dry_run(st);
	b.fast = PADCTL_SERVICE_HAS(b.svc, struct padctl_backfill_v1, run_mapped);
	uint64_t total, todo, recorded;
	if (b.svc->start(st, def, b.dry, retry, &total, &todo, &recorded))
		return -1;
	if (h->dry_run(st)) {
		/* the engine's dry run is read-only: say what a run would take on */
		h->log(st, PADCTL_LOG_INFO,
		       "backfill %s: %" PRIu64 " of %" PRIu64 " source rows to do, %" PRIu64
		       " recorded failures (a dry run of the engine runs no batch; `padctl backfill --dry-run` does)",
		       name, todo, total, recorded);
		return 0;
	}
	b.goal = limit && (uint64_t)limit < todo ? (uint64_t)limit : todo;
	b.per_target = calloc(def->ntargets ? def->ntargets : 1, sizeof *b.per_target);
	if (!b.per_target)
		return h->fail(st, NULL, "out of memory");
	b.tty = isatty(STDERR_FILENO);
	snprintf(b.timeout_sql, sizeof b.timeout_sql, "SET LOCAL statement_timeout = %ld", def->statement_timeout_ms);
	h->log(st, PADCTL_LOG_INFO,
	       "backfill %s%s: %" PRIu64 " source rows in %s, %" PRIu64 " %s, %" PRIu64
	       " recorded failures; this run: %" PRIu64 " rows in batches of %ld",
	       name,
	       b.dry ? " (dry run: every "
		       "batch is rolled back)"
		     : "",
	       total, def->source_table, todo, retry ? "to retry" : "to do", recorded, b.goal, batch);
	b.t0 = b.last_log = now_ms();
	char after[32] = "";
	char **keys = calloc((size_t)batch, sizeof *keys);
	int rc = keys ? 0 : h->fail(st, NULL, "out of memory");
	while (!rc && b.done + b.failed < b.goal) {
		if (h->cancelled(st)) {
			rc = h->fail(st, "run it again: it resumes after the last committed batch",
				     "stopped after %" PRIu64 " source rows", b.done + b.failed);
			break;
		}
		uint64_t left = b.goal - (b.done + b.failed);
		long n = left < (uint64_t)batch ? (long)left : batch;
		struct padctl_rows *kr;
		if (b.svc->next_keys(st, def, *after ? after : NULL, n, &kr)) {
			rc = -1;
			break;
		}
		size_t nread = (size_t)h->rows_count(kr), nk = 0;
		for (size_t i = 0; i < nread; i++) {
			const char *flag = h->rows_value(kr, (int)i, 1);
			if (flag && !strcmp(flag, "t"))
				keys[nk++] = strdup(h->rows_value(kr, (int)i, 0));
		}
		if (nread)
			snprintf(after, sizeof after, "%s", h->rows_value(kr, (int)nread - 1, 0));
		h->rows_free(kr);
		if (!nread)
			break;
		if (!nk)
			continue;
		rc = run_keys(&b, keys, nk);
		for (size_t i = 0; i < nk; i++)
			free(keys[i]);
		report(&b, 0);
		if (!rc && def->pause_ms && b.done + b.failed < b.goal)
			pause_ms(&b, def->pause_ms);
	}
	free(keys);
	double secs = (now_ms() - b.t0) / 1000.0;
	if (!rc || !h->cancelled(st)) {
		int crc = b.svc->counts(st, def, b.done, b.failed, b.written, b.batches, 1);
		if (!rc)
			rc = crc;
	}
	if (!rc) {
		char per[512] = "";
		size_t off = 0;
		for (size_t t = 0; t < def->ntargets && off < sizeof per; t++)
			off += (size_t)snprintf(per + off, sizeof per - off, "%s%s %" PRIu64, t ? ", " : "",
						def->targets[t], b.per_target[t]);
		h->log(st, PADCTL_LOG_INFO,
		       "backfill %s: %" PRIu64 " source rows %s, %" PRIu64 " failed, %" PRIu64
		       " target rows %s (%s) in %" PRIu64 " batches, %.2f s, %.0f rows/s",
		       name, b.done, b.dry ? "would be done" : "done", b.failed, b.written,
		       b.dry ? "would be written" : "written", per, b.batches, secs,
		       secs > 0 ? (double)(b.done + b.failed) / secs : 0);
		if (b.shown > MAX_FAILURE_LINES)
			h->log(st, PADCTL_LOG_WARN, "... and %u more failed rows", b.shown - MAX_FAILURE_LINES);
		if (b.failed && !b.dry)
			h->log(st, PADCTL_LOG_WARN,
			       "%" PRIu64 " source rows failed and are recorded: `padctl backfill "
			       "%s %s --status` lists them; fix them, then run with --retry-failed",
			       b.failed, h->env(st), name);
	}
	free(b.per_target);
	return rc;
}

static const struct padctl_plugin backfill = {
	.abi = PADCTL_PLUGIN_ABI,
	.size = sizeof(struct padctl_plugin),
	.name = "backfill",
	.version = "1.0.0",
	.kind = PADCTL_KIND_BACKFILL,
	.summary = "run a data migration (backfills/NAME.yml) in batches, resumable, isolating failing rows",
	.options = options,
	.run = backfill_run,
};

PADCTL_EXPORT const struct padctl_plugin *padctl_plugin_entry(void)
{
	return &backfill;
}
