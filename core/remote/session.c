#include "remote.h"

#include <errno.h>
#include <fcntl.h>
#include <libssh2.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "log.h"

/* the SSH-level keepalive: a lost bastion is noticed within about a minute */
#define KEEPALIVE_INTERVAL_S 15

static int lib_ready;

int remote_lib_init(void)
{
	if (lib_ready)
		return 0;
	if (libssh2_init(0) != 0)
		return fail("could not initialise libssh2");
	lib_ready = 1;
	return 0;
}

static char *local_user(void)
{
	const char *u = getenv("USER");
	if (u && *u)
		return xstrdup(u);
	struct passwd *pw = getpwuid(getuid());
	return xstrdup(pw && pw->pw_name ? pw->pw_name : "root");
}

char *remote_location(const struct cfg_ssh *ssh)
{
	char *u = ssh->user ? xstrdup(ssh->user) : local_user();
	char *loc = xstrfmt("%s@%s:%d", u, ssh->host, ssh->port);
	free(u);
	return loc;
}

const char *remote_label(const struct remote *r)
{
	return r->label;
}

const char *remote_hostkey_fingerprint(const struct remote *r)
{
	return r->fingerprint ? r->fingerprint : "";
}

char *remote_session_error(LIBSSH2_SESSION *s)
{
	char *msg = NULL;
	int len = 0;
	if (!s)
		return xstrdup("no session");
	libssh2_session_last_error(s, &msg, &len, 0);
	return xstrprintable(msg && len ? msg : "unknown error");
}

/* connect_tcp connects to host:port within the deadline, trying each address */
static int connect_tcp(const char *label, const char *host, int port, int timeout_s, int *fdp)
{
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	char portstr[16];
	snprintf(portstr, sizeof portstr, "%d", port);
	int gai = getaddrinfo(host, portstr, &hints, &res);
	if (gai) {
		fail("could not resolve the %s: %s", label, gai_strerror(gai));
		return fail_hint("check ssh.host in the env file and the DNS of this machine");
	}
	int err = 0;
	int fd = -1;
	for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		int rc = connect(fd, a->ai_addr, a->ai_addrlen);
		if (rc && errno == EINPROGRESS) {
			struct pollfd pfd = { fd, POLLOUT, 0 };
			int pr;
			do
				pr = poll(&pfd, 1, timeout_s * 1000);
			while (pr < 0 && errno == EINTR);
			if (pr == 0) {
				err = ETIMEDOUT;
				rc = -1;
			} else {
				socklen_t sl = sizeof err;
				err = 0;
				getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl);
				rc = err ? -1 : 0;
			}
		} else if (rc) {
			err = errno;
		}
		if (rc) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0) {
		fail("could not connect to the %s: %s", label,
		     err == ETIMEDOUT ? "no answer within the connect timeout" : strerror(err));
		fail_detail("connect timeout %d s (database.connect_timeout)", timeout_s);
		return fail_hint("check ssh.host and ssh.port in the env file, and that this machine may reach that "
				 "host (firewall, VPN); `ssh -p PORT USER@HOST true` tries the same");
	}
	/* blocking from here (libssh2's own time limit applies); small messages go out at once */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
	*fdp = fd;
	return 0;
}

/* hostkey_prefs puts the key types known_hosts holds for the host first, as
 * OpenSSH does, so a host known by its RSA key is not reported unknown
 * because it also has an ed25519 key. */
static void hostkey_prefs(LIBSSH2_SESSION *s, const struct kh_file *kh, const char *host, int port)
{
	struct buf known = BUF_INIT, pref = BUF_INIT;
	kh_host_keytypes(kh, host, port, &known);
	if (!known.len) {
		buf_release(&known);
		return;
	}
	const char **algs = NULL;
	int n = libssh2_session_supported_algs(s, LIBSSH2_METHOD_HOSTKEY, &algs);
	if (n <= 0) {
		buf_release(&known);
		return;
	}
	/* first the algorithms of the known types, then the rest */
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < n; i++) {
			const char *a = algs[i];
			/* rsa-sha2-* are signatures with an ssh-rsa key */
			const char *type = strncmp(a, "rsa-sha2-", 9) == 0 ? "ssh-rsa" : a;
			int is_known = 0;
			const char *p = known.s;
			size_t tl = strlen(type);
			while (p && *p) {
				if (!strncmp(p, type, tl) && (p[tl] == ',' || !p[tl]))
					is_known = 1;
				p = strchr(p, ',');
				if (p)
					p++;
			}
			if (is_known == (pass == 0)) {
				if (pref.len)
					buf_addch(&pref, ',');
				buf_adds(&pref, a);
			}
		}
	libssh2_free(s, algs);
	libssh2_session_method_pref(s, LIBSSH2_METHOD_HOSTKEY, pref.s);
	buf_release(&known);
	buf_release(&pref);
}

static int load_known_hosts(const char *path, struct kh_file *kh)
{
	char *text = NULL;
	size_t len = 0;
	int rc = fs_read_file(path, 16 << 20, &text, &len);
	if (rc) {
		/* 1: there is no such file (fs_read_file reports only other failures) */
		if (rc > 0)
			fail("could not read the known_hosts file \"%s\": it does not exist", path);
		fail_detail("it is ssh.known_hosts, the host keys padctl trusts");
		return fail_hint("create it with the SSH host's key (see docs/ssh.md: ssh-keyscan, then check the "
				 "fingerprint), or set ssh.known_hosts in the env file");
	}
	rc = kh_parse(text, len, path, kh);
	free(text);
	return rc;
}

static int trust_hint(const struct remote *r, const char *keytype)
{
	/* ssh-keygen -F names a host on another port than 22 as [host]:port */
	char *name = r->port == 22 ? xstrdup(r->host) : xstrfmt("[%s]:%d", r->host, r->port);
	fail_hint("ask the host's administrator for its %s fingerprint (on the host: ssh-keygen -lf "
		  "/etc/ssh/ssh_host_*_key.pub); if it is %s, add the key with `ssh-keyscan -p %d -t %s %s >> %s` "
		  "and check that `ssh-keygen -lF '%s' -f %s` prints that fingerprint",
		  keytype, r->fingerprint, r->port, keytype, r->host, r->known_hosts, name, r->known_hosts);
	free(name);
	return -1;
}

/* other_types explains an unknown key when known_hosts holds keys of other
 * types for the host: the host did not offer one of those. libssh2 1.10
 * verifies RSA host keys only with SHA-1 signatures (ssh-rsa), which
 * OpenSSH 8.8 and later do not offer by default. */
static void other_types(const struct remote *r, const struct kh_file *kh)
{
	struct buf types = BUF_INIT;
	kh_host_keytypes(kh, r->host, r->port, &types);
	if (types.len) {
		fail_detail("%s holds keys of type %s for this host, which the handshake did not choose",
			    r->known_hosts, types.s);
		if (strstr(types.s, "ssh-rsa"))
			fail_detail("this libssh2 checks an RSA host key only with ssh-rsa (SHA-1) signatures, which "
				    "OpenSSH 8.8 and later no longer make: add the host's ed25519 or ecdsa key");
	}
	buf_release(&types);
}

static int check_hostkey(struct remote *r, const struct kh_file *kh)
{
	size_t len = 0;
	int type = 0;
	const char *key = libssh2_session_hostkey(r->s, &len, &type);
	if (!key || !len)
		return fail("could not read the host key of the %s", r->label);
	const unsigned char *blob = (const unsigned char *)key;
	char *keytype = kh_blob_keytype(blob, len);
	if (!keytype)
		return fail("the %s sent a malformed host key", r->label);
	r->fingerprint = kh_fingerprint(blob, len);
	int line = 0;
	enum kh_result res = kh_check(kh, r->host, r->port, keytype, blob, len, &line);
	int rc = 0;
	switch (res) {
	case KH_OK:
		log_verbose("%s: host key %s %s matches %s:%d", r->label, keytype, r->fingerprint, r->known_hosts,
			    line);
		break;
	case KH_REVOKED:
		fail("refusing the %s: its host key is revoked", r->label);
		fail_detail("%s key %s is marked @revoked in %s line %d", keytype, r->fingerprint, r->known_hosts,
			    line);
		fail_hint("the host presents a key that was withdrawn: tell the host's administrator; do not remove "
			  "the @revoked line to get past this");
		rc = -1;
		break;
	case KH_CHANGED:
		fail("refusing the %s: its host key has changed", r->label);
		fail_detail("it presented %s key %s; %s line %d holds another %s key for it (someone may be "
			    "intercepting the connection, or the host was reinstalled)",
			    keytype, r->fingerprint, r->known_hosts, line, keytype);
		rc = trust_hint(r, keytype);
		break;
	case KH_UNKNOWN:
		fail("refusing the %s: its host key is not in %s", r->label, r->known_hosts);
		fail_detail("it presented %s key %s; padctl never trusts a key on first use and never writes "
			    "known_hosts",
			    keytype, r->fingerprint);
		other_types(r, kh);
		rc = trust_hint(r, keytype);
		break;
	}
	free(keytype);
	return rc;
}

/* ---------------------------------------------------------------- authentication */

static int auth_identity(struct remote *r, const struct cfg_ssh *ssh, struct buf *tried)
{
	const char *pass = NULL;
	if (ssh->passphrase_env) {
		pass = getenv(ssh->passphrase_env);
		if (!pass) {
			fail("environment variable \"%s\" is not set", ssh->passphrase_env);
			fail_detail("the identity %s of the %s takes its passphrase from it (ssh.passphrase_env)",
				    ssh->identity, r->label);
			return fail_hint("export %s=... before running padctl", ssh->passphrase_env);
		}
	}
	if (access(ssh->identity, R_OK) != 0) {
		fail("could not read the identity file \"%s\": %s", ssh->identity, strerror(errno));
		fail_detail("it is ssh.identity of the %s", r->label);
		return fail_hint(
			"set ssh.identity to a private key file you can read, or remove it to use the ssh agent");
	}
	buf_addf(tried, "publickey with the identity file %s", ssh->identity);
	if (libssh2_userauth_publickey_fromfile_ex(r->s, r->user, (unsigned)strlen(r->user), NULL, ssh->identity,
						   pass) == 0)
		return 0;
	char *why = remote_session_error(r->s);
	buf_addf(tried, " (%s)", why);
	free(why);
	return 1;
}

static int auth_agent(struct remote *r, struct buf *tried)
{
	if (!getenv("SSH_AUTH_SOCK")) {
		buf_adds(tried, "no ssh agent (SSH_AUTH_SOCK is not set) and no ssh.identity");
		return 1;
	}
	LIBSSH2_AGENT *agent = libssh2_agent_init(r->s);
	if (!agent || libssh2_agent_connect(agent) != 0) {
		buf_adds(tried, "the ssh agent at SSH_AUTH_SOCK, which did not answer");
		if (agent)
			libssh2_agent_free(agent);
		return 1;
	}
	int rc = 1, nkeys = 0;
	if (libssh2_agent_list_identities(agent) == 0) {
		struct libssh2_agent_publickey *id = NULL, *prev = NULL;
		while (libssh2_agent_get_identity(agent, &id, prev) == 0) {
			nkeys++;
			if (libssh2_agent_userauth(agent, r->user, id) == 0) {
				rc = 0;
				break;
			}
			prev = id;
		}
	}
	buf_addf(tried, "publickey with the ssh agent's %d key%s", nkeys, nkeys == 1 ? "" : "s");
	libssh2_agent_disconnect(agent);
	libssh2_agent_free(agent);
	return rc;
}

static int authenticate(struct remote *r, const struct cfg_ssh *ssh)
{
	char *methods = libssh2_userauth_list(r->s, r->user, (unsigned)strlen(r->user));
	if (!methods) {
		if (libssh2_userauth_authenticated(r->s))
			return 0;
		char *why = remote_session_error(r->s);
		fail("could not ask the %s how to log in: %s", r->label, why);
		free(why);
		return -1;
	}
	char *offered = xstrdup(methods);
	struct buf tried = BUF_INIT;
	int rc;
	if (!strstr(offered, "publickey")) {
		rc = 1;
		buf_adds(&tried, "nothing (padctl logs in by public key only)");
	} else if (ssh->identity) {
		rc = auth_identity(r, ssh, &tried);
	} else {
		rc = auth_agent(r, &tried);
	}
	if (rc > 0) {
		fail("could not log in to the %s as \"%s\"", r->label, r->user);
		fail_detail("the server offers: %s; padctl tried: %s", offered, tried.s);
		fail_hint("add the public key to ~%s/.ssh/authorized_keys on the host, or set ssh.identity (and "
			  "ssh.passphrase_env) or load the key into ssh-agent (ssh-add); `ssh -v` shows the same "
			  "exchange",
			  r->user);
	}
	free(offered);
	buf_release(&tried);
	return rc ? -1 : 0;
}

/* ---------------------------------------------------------------- open / close */

int remote_open(const struct cfg_ssh *ssh, const char *target, int timeout_s, struct remote **out,
		enum remote_stage *stage)
{
	*out = NULL;
	*stage = REMOTE_STAGE_CONNECT;
	if (timeout_s <= 0)
		timeout_s = 10;
	if (remote_lib_init())
		return -1;
	struct remote *r = xcalloc(1, sizeof *r);
	r->fd = -1;
	r->host = xstrdup(ssh->host);
	r->port = ssh->port;
	r->user = ssh->user ? xstrdup(ssh->user) : local_user();
	r->known_hosts = xstrdup(ssh->known_hosts ? ssh->known_hosts : "~/.ssh/known_hosts");
	r->target = xstrdup(target);
	{
		char *h = xstrprintable(r->host), *u = xstrprintable(r->user);
		r->label = xstrfmt("ssh host \"%s@%s:%d\" of target \"%s\"", u, h, r->port, target);
		free(h);
		free(u);
	}
	struct kh_file kh = { NULL, 0 };
	/* the trust file first: a run that could not check the key does not connect */
	if (load_known_hosts(r->known_hosts, &kh))
		goto fail;
	if (connect_tcp(r->label, r->host, r->port, timeout_s, &r->fd))
		goto fail;
	r->s = libssh2_session_init();
	if (!r->s) {
		fail("could not create an SSH session for the %s", r->label);
		goto fail;
	}
	libssh2_session_set_blocking(r->s, 1);
	libssh2_session_set_timeout(r->s, (long)timeout_s * 1000);
	hostkey_prefs(r->s, &kh, r->host, r->port);
	if (libssh2_session_handshake(r->s, r->fd) != 0) {
		char *why = remote_session_error(r->s);
		fail("could not start an SSH session with the %s: %s", r->label, why);
		free(why);
		fail_hint("check that ssh.host and ssh.port name an SSH server (`ssh -v -p PORT HOST` shows the "
			  "exchange)");
		goto fail;
	}
	libssh2_keepalive_config(r->s, 1, KEEPALIVE_INTERVAL_S);
	*stage = REMOTE_STAGE_HOSTKEY;
	if (check_hostkey(r, &kh))
		goto fail;
	*stage = REMOTE_STAGE_AUTH;
	if (authenticate(r, ssh))
		goto fail;
	/* the time limit was for setting up; commands and tunnels set their own */
	libssh2_session_set_timeout(r->s, 0);
	*stage = REMOTE_STAGE_READY;
	kh_file_release(&kh);
	*out = r;
	return 0;
fail:
	kh_file_release(&kh);
	remote_close(r);
	return -1;
}

void remote_close(struct remote *r)
{
	if (!r)
		return;
	if (r->s && r->fd >= 0)
		remote_sftp_close(r);
	if (r->s) {
		if (r->fd >= 0)
			libssh2_session_disconnect(r->s, "padctl is done");
		libssh2_session_free(r->s);
	}
	if (r->fd >= 0)
		close(r->fd);
	remote_forget(r);
}

void remote_forget(struct remote *r)
{
	free(r->host);
	free(r->user);
	free(r->known_hosts);
	free(r->target);
	free(r->label);
	free(r->fingerprint);
	free(r);
}
