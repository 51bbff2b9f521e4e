/* SPDX-License-Identifier: MIT */
/* Production mode: settings from the environment (run hands over the JSON config's), budget alerts while the program runs, the pause signal. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <syslog.h>
#include <unistd.h>

#include "limit.h"
#include "options.h"
#include "pst.h"
#include "stacktab.h"

volatile int pst_paused;

/* Default cap on the preload's own memory: stack table, thread states. */
#define DEFAULT_MAX_MEMORY (512ull << 20)
#define MIN_MAX_MEMORY (32ull << 20)
/* A smaller --max-size leaves no room for a useful trace. */
#define MIN_MAX_SIZE (64ull << 10)

/*
 * Budgets a running process can judge (options.h): absolute limits ("max")
 * only, since there is nothing to compare an increase with.
 * peak_heap_bytes is judged on the resident set, which holds the heap: it
 * may fire early, never late.
 */
static struct pst_budget_limit rt_limit[PST_ALERT_COUNT];
static bool rt_any;

static void say(const char *what, const char *detail)
{
	char line[700];
	int n = snprintf(line, sizeof(line), "prestanda: %s%s\n", what, detail);

	if (n > 0)
		(void)!write(2, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

static bool env_size(enum pst_opt o, uint64_t *out)
{
	int r = pst_option_u64(o, out, true);

	if (r < 0)
		say("ignoring a size that is not one: ", pst_options[o].env);
	return r > 0;
}

/* A signal by number or name: "12", "USR2", "SIGUSR2"; "0" or "none": no toggle. */
static int signal_by_name(const char *v)
{
	static const struct {
		const char *name;
		int sig;
	} names[] = { { "USR1", SIGUSR1 }, { "USR2", SIGUSR2 }, { "HUP", SIGHUP },
		      { "WINCH", SIGWINCH }, { "PWR", SIGPWR }, { "URG", SIGURG } };
	char *end;
	long n;

	if (!strcasecmp(v, "none"))
		return 0;
	if (!strncasecmp(v, "SIG", 3))
		v += 3;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcasecmp(v, names[i].name))
			return names[i].sig;
	n = strtol(v, &end, 10);
	if (*end || n < 0 || n >= NSIG || n == SIGKILL || n == SIGSTOP)
		return -1;
	return (int)n;
}

/* PRESTANDA_BUDGETS, "NAME=MAX,NAME=MAX" as run writes it from the config;
 * a name this preload does not judge is passed over. */
static void read_budgets(void)
{
	const char *v = pst_option_env(PST_OPT_BUDGETS);

	while (v && *v) {
		size_t n = strcspn(v, "=");
		char *end;

		for (int m = 0; m < PST_ALERT_COUNT && v[n] == '='; m++) {
			if (strlen(pst_alert_metrics[m]) != n || strncmp(v, pst_alert_metrics[m], n))
				continue;
			rt_limit[m].max = strtod(v + n + 1, &end);
			rt_limit[m].has_max = rt_any = true;
		}
		v = strchr(v, ',');
		v = v ? v + 1 : NULL;
	}
}

/*
 * The JSON config is read by prestanda run, which hands the preload its
 * settings in the environment: the preload links no JSON library into the
 * program. A PRESTANDA_CONFIG that reaches it was set by hand: say what to
 * do, and record nothing rather than ignore a file that may say
 * "enabled": false.
 */
static bool config_by_hand(void)
{
	const char *path = pst_option_env(PST_OPT_CONFIG);

	if (!path)
		return false;
	say("PRESTANDA_CONFIG is read by prestanda run, not by the preload: nothing is recorded; "
	    "start the program with: prestanda run --config ", path);
	return true;
}

bool pst_prod_config(void)
{
	const char *v;
	double rate;
	uint64_t n;

	pst_cfg.metrics_ms = pst_cfg.flush_ms ? pst_cfg.flush_ms : 1000;
	pst_cfg.max_memory = DEFAULT_MAX_MEMORY;
	pst_cfg.toggle_sig = SIGUSR2;
	if (config_by_hand() || pst_option_is(PST_OPT_ENABLED, "0"))
		return false;
	read_budgets();
	v = pst_option_env(PST_OPT_SAMPLE_RATE);
	if (v) {
		rate = strtod(v, NULL);
		if (rate > 0 && rate <= 1)
			pst_cfg.wait_keep = rate < 1 ? (uint32_t)(rate * 4294967296.0) | 1 : 0;
	}
	if (env_size(PST_OPT_METRICS_MS, &n) && n)
		pst_cfg.metrics_ms = n;
	if (env_size(PST_OPT_MAX_SIZE, &n))
		pst_cfg.max_size = n && n < MIN_MAX_SIZE ? MIN_MAX_SIZE : n;
	if (env_size(PST_OPT_MAX_MEMORY, &n) && n)
		pst_cfg.max_memory = n < MIN_MAX_MEMORY ? MIN_MAX_MEMORY : n;
	v = pst_option_env(PST_OPT_TOGGLE_SIGNAL);
	if (v) {
		int sig = signal_by_name(v);

		if (sig < 0)
			say("PRESTANDA_TOGGLE_SIGNAL: not a signal: ", v);
		else
			pst_cfg.toggle_sig = sig;
	}
	v = pst_option_env(PST_OPT_METRICS_TEXTFILE);
	if (v)
		pst_metrics_set_dir(v);
	pst_cfg.alert_syslog = pst_option_is(PST_OPT_ALERT, "syslog");
	/* a quarter of the memory cap for stack frames, the rest for thread
	 * states (thread.c), which short-lived threads use up fastest */
	pst_stacktab_limit(pst_cfg.max_memory / 4);
	return true;
}

/* Async-signal-safe: a flag, a clock read and one writev. */
static void on_toggle(int sig, siginfo_t *info, void *uc)
{
	uint8_t rec[PST_PROD_REC_MAX], *e;
	int saved = errno, paused = !pst_paused;
	uint64_t ts = pst_now();

	(void)sig;
	(void)info;
	(void)uc;
	pst_paused = paused;
	if (pst_state == PST_ON) {
		e = pst_enc_pause(rec, ts, (uint64_t)paused);
		pst_out_record((uint64_t)syscall(SYS_gettid), ts, rec, (size_t)(e - rec));
	}
	errno = saved;
}

/* Only over the default action: a program's own use of the signal wins. */
static bool toggle_installed;

static void install_toggle(void)
{
	struct sigaction sa, old;

	if (!pst_cfg.toggle_sig || sigaction(pst_cfg.toggle_sig, NULL, &old) ||
	    old.sa_handler != SIG_DFL || (old.sa_flags & SA_SIGINFO))
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_toggle;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	toggle_installed = sigaction(pst_cfg.toggle_sig, &sa, NULL) == 0;
}

/* Detach (attach.c): the toggle signal back to the default we found. */
void pst_prod_stop(void)
{
	struct sigaction sa;

	if (!toggle_installed)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	sigaction(pst_cfg.toggle_sig, &sa, NULL);
	toggle_installed = false;
}

void pst_prod_start(void)
{
	uint8_t rec[PST_PROD_REC_MAX], *e;
	uint64_t ppm = pst_cfg.wait_keep ? ((uint64_t)pst_cfg.wait_keep * 1000000) >> 32 : 1000000;
	uint64_t ts = pst_now();

	if (pst_state != PST_ON && pst_state != PST_INITING)
		return;
	e = pst_enc_settings(rec, ppm, pst_cfg.metrics_ms, pst_cfg.max_size, pst_cfg.max_memory,
			     (uint64_t)pst_cfg.toggle_sig);
	pst_out_record((uint64_t)syscall(SYS_gettid), ts, rec, (size_t)(e - rec));
	install_toggle();
}

static const char *fmt_value(double v, char *buf, size_t len)
{
	snprintf(buf, len, v == (double)(uint64_t)v ? "%.0f" : "%.1f", v);
	return buf;
}

/* One line per interval at most, naming every budget over its limit. */
void pst_prod_check(uint64_t tid, const struct pst_snap *now, const struct pst_snap *prev)
{
	char line[1024], why[256];
	uint8_t rec[1024 + 3 * PST_VARINT_MAX], *e;
	double v[PST_ALERT_COUNT];
	size_t at;
	int n, over = 0;

	if (!rt_any)
		return;
	v[PST_ALERT_HEAP] = (double)now->rss;
	v[PST_ALERT_RSS] = (double)now->rss;
	v[PST_ALERT_CALLS] = (double)now->alloc_calls;
	v[PST_ALERT_BYTES] = (double)now->alloc_bytes;
	v[PST_ALERT_FDS] = (double)now->fds;
	v[PST_ALERT_THREADS] = (double)now->threads;
	v[PST_ALERT_CPU] = prev && now->ts > prev->ts ?
			    (double)(now->cpu_ns - prev->cpu_ns) * 100 / (double)(now->ts - prev->ts) :
			    0;
	n = snprintf(line, sizeof(line), "prestanda: budget exceeded in %s (pid %d): ",
		     program_invocation_short_name, (int)getpid());
	at = n > 0 ? (size_t)n : 0;
	for (int m = 0; m < PST_ALERT_COUNT && at < sizeof(line); m++) {
		if (!rt_limit[m].has_max ||
		    pst_budget_check(&rt_limit[m], pst_alert_metrics[m], 0, v[m], fmt_value, why, sizeof(why)))
			continue;
		n = snprintf(line + at, sizeof(line) - at, "%s%s", over++ ? "; " : "", why);
		at += n > 0 ? (size_t)n : 0;
	}
	if (!over)
		return;
	if (at >= sizeof(line))
		at = sizeof(line) - 1;
	e = pst_enc_alert(rec, now->ts, line + 11, at - 11); /* without "prestanda: " */
	pst_out_record(tid, now->ts, rec, (size_t)(e - rec));
	if (pst_cfg.alert_syslog) {
		syslog(LOG_WARNING, "%s", line);
		return;
	}
	if (at + 1 < sizeof(line))
		line[at++] = '\n';
	(void)!write(2, line, at);
}
