/* remote: the known_hosts parser and matcher, fingerprints, base64, and the
 * one function that quotes a remote command line (checked by a real sh). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "remote.h"
#include "unit.h"

/* a real ed25519 public key blob (ssh-keygen output) and its fingerprint */
static const char ED_B64[] = "AAAAC3NzaC1lZDI1NTE5AAAAIFx0doYu1Zez07N28J1iJeiVXLCgIrdASt2Gjm5rUZEO";
static const char ED2_B64[] = "AAAAC3NzaC1lZDI1NTE5AAAAINvHunq5d6zEPmk3CNTFz6bRzVllvI9qX2W14OC2RsGj";

static unsigned char *blob_of(const char *b64, size_t *len)
{
	unsigned char *b = NULL;
	CU_ASSERT_EQUAL_FATAL(kh_base64_decode(b64, strlen(b64), &b, len), 0);
	return b;
}

static int parse(const char *text, struct kh_file *f)
{
	int rc = kh_parse(text, strlen(text), "kh", f);
	err_clear();
	return rc;
}

static enum kh_result check(const char *text, const char *host, int port, const char *b64, int *line)
{
	struct kh_file f;
	size_t len;
	*line = -1;
	if (parse(text, &f))
		return (enum kh_result) - 1;
	unsigned char *b = blob_of(b64, &len);
	enum kh_result r = kh_check(&f, host, port, "ssh-ed25519", b, len, line);
	free(b);
	kh_file_release(&f);
	return r;
}

static void test_base64(void)
{
	struct buf b = BUF_INIT;
	const unsigned char in[] = "any carnal pleas";
	for (size_t n = 0; n <= 16; n++) {
		buf_reset(&b);
		kh_base64_add(&b, in, n, 1);
		unsigned char *out;
		size_t outlen;
		CU_ASSERT_EQUAL(kh_base64_decode(buf_str(&b), b.len, &out, &outlen), 0);
		CU_ASSERT_EQUAL(outlen, n);
		CU_ASSERT(n == 0 || memcmp(out, in, n) == 0);
		free(out);
	}
	unsigned char *out;
	size_t outlen;
	CU_ASSERT_EQUAL(kh_base64_decode("QQ", 2, &out, &outlen), 0); /* padding optional */
	CU_ASSERT_EQUAL(outlen, 1);
	free(out);
	CU_ASSERT_EQUAL(kh_base64_decode("QR==", 4, &out, &outlen), -1); /* stray bits */
	CU_ASSERT_EQUAL(kh_base64_decode("Q", 1, &out, &outlen), -1);
	CU_ASSERT_EQUAL(kh_base64_decode("QQ=A", 4, &out, &outlen), -1);
	CU_ASSERT_EQUAL(kh_base64_decode("QQ===", 5, &out, &outlen), -1);
	CU_ASSERT_EQUAL(kh_base64_decode("a b=", 4, &out, &outlen), -1);
	buf_release(&b);
}

static void test_fingerprint(void)
{
	size_t len;
	unsigned char *b = blob_of(ED_B64, &len);
	char *fp = kh_fingerprint(b, len);
	/* ssh-keygen -lf of that key */
	CU_ASSERT_STRING_EQUAL(fp, "SHA256:uMJvakMWSIj/cBr6Wtc1yMuFL7dN4Jo5vlubRu6UKWc");
	char *t = kh_blob_keytype(b, len);
	CU_ASSERT_STRING_EQUAL(t, "ssh-ed25519");
	free(t);
	free(fp);
	free(b);
	CU_ASSERT_PTR_NULL(kh_blob_keytype((const unsigned char *)"\0\0\0\x09ssh", 7));
	CU_ASSERT_PTR_NULL(kh_blob_keytype((const unsigned char *)"\0\0", 2));
}

static void test_rsa_and_ecdsa(void)
{
	/* ssh-keygen -t rsa / -t ecdsa keys and their ssh-keygen -l fingerprints */
	static const char rsa[] = "AAAAB3NzaC1yc2EAAAADAQABAAAAgQCv11/ebAqyJ82Pct0xioRuBuY8VApHDCNjuZfSecqrQ+kUVzBhx3KTPVFkVHOxoDM67aBkE"
				  "MyAYXbxeLqsTbnR0MsEZpi8VubqDnqAzVoV8uT1VLC3elmoKU0OKqRovMr97IpWZSjSw8FjGIpOjpKAGdWsB6xFBPD7to4"
				  "Syv+rpQ==";
	static const char ec[] = "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBALnqBgR9FmZrot5lU5Ac7qNunnDxhfL63L7fVP9PrtTE5bI"
				 "ZWEi/2AlAQXa3DtBamdH/3BIK3msIfhZtujweto=";
	char text[1024];
	snprintf(text, sizeof text, "h ssh-rsa %s\nh ecdsa-sha2-nistp256 %s\n", rsa, ec);
	struct kh_file f;
	CU_ASSERT_EQUAL_FATAL(parse(text, &f), 0);
	CU_ASSERT_EQUAL_FATAL(f.n, 2);
	char *fp = kh_fingerprint(f.v[0].blob, f.v[0].bloblen);
	CU_ASSERT_STRING_EQUAL(fp, "SHA256:LQn7VBam+t/4L+An9gcQZxNayDlx30jWlLJ10QpNSBQ");
	free(fp);
	fp = kh_fingerprint(f.v[1].blob, f.v[1].bloblen);
	CU_ASSERT_STRING_EQUAL(fp, "SHA256:XXW2o3GsJzb+IE5R5AgK4wPUEOx/+vuXk0eoCW84VzA");
	free(fp);
	int line;
	CU_ASSERT_EQUAL(kh_check(&f, "h", 22, "ecdsa-sha2-nistp256", f.v[1].blob, f.v[1].bloblen, &line), KH_OK);
	CU_ASSERT_EQUAL(line, 2);
	struct buf b = BUF_INIT;
	kh_host_keytypes(&f, "h", 22, &b);
	CU_ASSERT_STRING_EQUAL(buf_str(&b), "ssh-rsa,ecdsa-sha2-nistp256");
	buf_release(&b);
	kh_file_release(&f);
}

static void test_plain_and_port(void)
{
	char text[512];
	int line;
	snprintf(text, sizeof text, "# c\n\nbastion,10.0.0.1 ssh-ed25519 %s comment here\n", ED_B64);
	CU_ASSERT_EQUAL(check(text, "bastion", 22, ED_B64, &line), KH_OK);
	CU_ASSERT_EQUAL(line, 3);
	CU_ASSERT_EQUAL(check(text, "BASTION", 22, ED_B64, &line), KH_OK);
	CU_ASSERT_EQUAL(check(text, "10.0.0.1", 22, ED_B64, &line), KH_OK);
	/* a port-22 entry says nothing about another port */
	CU_ASSERT_EQUAL(check(text, "bastion", 2222, ED_B64, &line), KH_UNKNOWN);
	CU_ASSERT_EQUAL(check(text, "other", 22, ED_B64, &line), KH_UNKNOWN);
	CU_ASSERT_EQUAL(check(text, "bastion", 22, ED2_B64, &line), KH_CHANGED);
	CU_ASSERT_EQUAL(line, 3);
	snprintf(text, sizeof text, "[bastion]:2222 ssh-ed25519 %s\r\n", ED_B64);
	CU_ASSERT_EQUAL(check(text, "bastion", 2222, ED_B64, &line), KH_OK);
	CU_ASSERT_EQUAL(check(text, "bastion", 22, ED_B64, &line), KH_UNKNOWN);
	CU_ASSERT_EQUAL(check(text, "bastion", 222, ED_B64, &line), KH_UNKNOWN);
}

static void test_patterns(void)
{
	char text[512];
	int line;
	snprintf(text, sizeof text, "*.qa.internal,!evil.qa.internal ssh-ed25519 %s\n", ED_B64);
	CU_ASSERT_EQUAL(check(text, "bastion.qa.internal", 22, ED_B64, &line), KH_OK);
	CU_ASSERT_EQUAL(check(text, "evil.qa.internal", 22, ED_B64, &line), KH_UNKNOWN);
	CU_ASSERT_EQUAL(check(text, "qa.internal", 22, ED_B64, &line), KH_UNKNOWN);
	snprintf(text, sizeof text, "b?stion ssh-ed25519 %s\n", ED_B64);
	CU_ASSERT_EQUAL(check(text, "bastion", 22, ED_B64, &line), KH_OK);
	CU_ASSERT_EQUAL(check(text, "bstion", 22, ED_B64, &line), KH_UNKNOWN);
	CU_ASSERT_EQUAL(kh_host_matches("a*b*c", "axxbyyc", 22), 1);
	CU_ASSERT_EQUAL(kh_host_matches("a*b*c", "axxbyy", 22), 0);
	CU_ASSERT_EQUAL(kh_host_matches("[h]:*", "h", 2200), 1);
	CU_ASSERT_EQUAL(kh_host_matches("", "h", 22), 0);
	CU_ASSERT_EQUAL(kh_host_matches("!h", "h", 22), 0);
}

static void test_hashed(void)
{
	/* written by `ssh-keygen -H` from "bastion" and "[bastion]:2222" lines */
	char text[1024];
	int line;
	snprintf(text, sizeof text,
		 "|1|oYqZ3eI3oD4BIxphdQWzhly2eTk=|Kds/clUljxrHdVnr5d2KwFOY+wI= ssh-ed25519 %s\n"
		 "|1|DVJw+WkdKX3fqE0wHfay/X4UFps=|r+gLAuAzqIjhBw3UFT8fHijSz3M= ssh-ed25519 %s\n",
		 ED_B64, ED_B64);
	CU_ASSERT_EQUAL(check(text, "bastion", 22, ED_B64, &line), KH_OK);
	CU_ASSERT_EQUAL(line, 1);
	CU_ASSERT_EQUAL(check(text, "Bastion", 2222, ED_B64, &line), KH_OK);
	CU_ASSERT_EQUAL(line, 2);
	CU_ASSERT_EQUAL(check(text, "bastion", 2223, ED_B64, &line), KH_UNKNOWN);
	CU_ASSERT_EQUAL(check(text, "bastion2", 22, ED_B64, &line), KH_UNKNOWN);
	CU_ASSERT_EQUAL(check(text, "bastion", 22, ED2_B64, &line), KH_CHANGED);
	/* a hashed field that is not base64 matches nothing */
	CU_ASSERT_EQUAL(kh_host_matches("|1|!!|!!", "bastion", 22), 0);
	CU_ASSERT_EQUAL(kh_host_matches("|1|", "bastion", 22), 0);
}

static void test_revoked_and_ca(void)
{
	char text[1024];
	int line;
	snprintf(text, sizeof text, "bastion ssh-ed25519 %s\n@revoked * ssh-ed25519 %s\n", ED_B64, ED_B64);
	CU_ASSERT_EQUAL(check(text, "bastion", 22, ED_B64, &line), KH_REVOKED);
	CU_ASSERT_EQUAL(line, 2);
	/* revoked for another host name still refuses it */
	snprintf(text, sizeof text, "bastion ssh-ed25519 %s\n@revoked other ssh-ed25519 %s\n", ED_B64, ED_B64);
	CU_ASSERT_EQUAL(check(text, "bastion", 22, ED_B64, &line), KH_REVOKED);
	/* a CA line is never read as the host's own key */
	snprintf(text, sizeof text, "@cert-authority bastion ssh-ed25519 %s\n", ED_B64);
	CU_ASSERT_EQUAL(check(text, "bastion", 22, ED_B64, &line), KH_UNKNOWN);
	/* another revoked key does not matter */
	snprintf(text, sizeof text, "bastion ssh-ed25519 %s\n@revoked * ssh-ed25519 %s\n", ED_B64, ED2_B64);
	CU_ASSERT_EQUAL(check(text, "bastion", 22, ED_B64, &line), KH_OK);
}

static void test_malformed(void)
{
	struct kh_file f;
	static const char *const bad[] = {
		"@revokd * ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFx0doYu1Zez07N28J1iJeiVXLCgIrdASt2Gjm5rUZEO\n",
		"@revoked\n",
		"@revoked *\n",
		"host\n",
		"host ssh-ed25519\n",
		"host ssh-ed25519 !!!!\n",
		"host ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIFx0doYu1Zez07N28J1iJeiVXLCgIrdASt2Gjm5rUZEO\n",
		"host ssh-ed25519 AAAA\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CU_ASSERT_EQUAL(kh_parse(bad[i], strlen(bad[i]), "kh", &f), -1);
		CU_ASSERT_PTR_NOT_NULL(err_message());
		CU_ASSERT_EQUAL(f.n, 0);
		err_clear();
	}
	CU_ASSERT_EQUAL(kh_parse("a\0b", 3, "kh", &f), -1);
	err_clear();
	CU_ASSERT_EQUAL(parse("", &f), 0);
	CU_ASSERT_EQUAL(f.n, 0);
	CU_ASSERT_EQUAL(parse("   # only\n\t\n", &f), 0);
	CU_ASSERT_EQUAL(f.n, 0);
}

static void test_keytypes(void)
{
	char text[1024];
	struct kh_file f;
	snprintf(text, sizeof text, "h ssh-ed25519 %s\nh ssh-ed25519 %s\nx ssh-ed25519 %s\n", ED_B64, ED2_B64, ED_B64);
	CU_ASSERT_EQUAL_FATAL(parse(text, &f), 0);
	struct buf b = BUF_INIT;
	kh_host_keytypes(&f, "h", 22, &b);
	CU_ASSERT_STRING_EQUAL(buf_str(&b), "ssh-ed25519");
	buf_reset(&b);
	kh_host_keytypes(&f, "nobody", 22, &b);
	CU_ASSERT_STRING_EQUAL(buf_str(&b), "");
	buf_release(&b);
	kh_file_release(&f);
}

/* run_sh runs `sh -c 'printf "%s\n" ...'` with the quoted line: what the
 * remote shell would receive, and returns its stdout (newly allocated) */
static char *run_sh(const char *line)
{
	int fd[2];
	if (pipe(fd))
		return NULL;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fd[1], 1);
		close(fd[0]);
		execl("/bin/sh", "sh", "-c", line, (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	struct buf out = BUF_INIT;
	char tmp[512];
	ssize_t n;
	while ((n = read(fd[0], tmp, sizeof tmp)) > 0)
		buf_add(&out, tmp, (size_t)n);
	close(fd[0]);
	int st;
	waitpid(pid, &st, 0);
	return buf_detach(&out);
}

static void test_command_line_hostile(void)
{
	static const char *const hostile[] = {
		"plain",
		"two words",
		"it's",
		"\"dq\"",
		"$(touch /tmp/padctl-remote-pwned)",
		"`touch /tmp/padctl-remote-pwned`",
		"a\nb",
		"; rm -rf /",
		"*",
		"$HOME",
		"\\",
		"",
		"-n",
		"'",
		"''\\''",
	};
	size_t n = sizeof hostile / sizeof hostile[0];
	const char **argv = calloc(n + 3, sizeof *argv);
	argv[0] = "printf";
	argv[1] = "[%s]\\n";
	struct buf want = BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		argv[2 + i] = hostile[i];
		buf_addf(&want, "[%s]\n", hostile[i]);
	}
	struct buf line = BUF_INIT;
	remote_command_line(&line, argv);
	unlink("/tmp/padctl-remote-pwned");
	char *got = run_sh(line.s);
	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	CU_ASSERT_STRING_EQUAL(got, want.s);
	CU_ASSERT_NOT_EQUAL(access("/tmp/padctl-remote-pwned", F_OK), 0);
	free(got);
	free(argv);
	buf_release(&line);
	buf_release(&want);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "base64", test_base64 },
		{ "fingerprint as ssh-keygen prints it", test_fingerprint },
		{ "rsa and ecdsa keys", test_rsa_and_ecdsa },
		{ "plain entries and [host]:port", test_plain_and_port },
		{ "wildcards and negation", test_patterns },
		{ "hashed entries", test_hashed },
		{ "@revoked and @cert-authority", test_revoked_and_ca },
		{ "malformed lines are errors", test_malformed },
		{ "key types of a host", test_keytypes },
		{ "remote command line against a real sh", test_command_line_hostile },
		{ NULL, NULL },
	};
	return unit_run("remote", tests);
}
