/* SPDX-License-Identifier: MIT */
/* The demo workload: a small key-value store with the allocation habits real servers have. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Requests arrive as text lines ("SET key value", "GET key"). Each one is
 * tokenised into fresh heap strings (short-lived churn), values are kept in
 * a table grown one slot at a time with realloc (a growth chain), and a
 * per-request log record is kept in an audit list nobody frees (a leak).
 */
struct entry {
	char *key, *value;
};

struct table {
	struct entry *e;
	size_t n;
};

struct audit {
	struct audit *next;
	char line[48];
};

static struct audit *audit_log;

static char **tokenize(const char *line, int *count)
{
	char **tok = malloc(3 * sizeof(*tok));
	const char *p = line;

	*count = 0;
	while (*p && *count < 3) {
		size_t n = strcspn(p, " ");
		tok[*count] = malloc(n + 1);
		memcpy(tok[*count], p, n);
		tok[*count][n] = 0;
		(*count)++;
		p += n + (p[n] == ' ');
	}
	return tok;
}

static void free_tokens(char **tok, int count)
{
	for (int i = 0; i < count; i++)
		free(tok[i]);
	free(tok);
}

static void table_set(struct table *t, const char *key, const char *value)
{
	for (size_t i = 0; i < t->n; i++) {
		if (!strcmp(t->e[i].key, key)) {
			free(t->e[i].value);
			t->e[i].value = strdup(value);
			return;
		}
	}
	t->e = realloc(t->e, (t->n + 1) * sizeof(*t->e));
	t->e[t->n].key = strdup(key);
	t->e[t->n].value = strdup(value);
	t->n++;
}

static void audit(const char *line)
{
	struct audit *a = malloc(sizeof(*a));

	snprintf(a->line, sizeof(a->line), "%s", line);
	a->next = audit_log;
	audit_log = a;
}

static void handle(struct table *t, const char *line)
{
	int n;
	char **tok = tokenize(line, &n);

	if (n == 3 && !strcmp(tok[0], "SET")) {
		table_set(t, tok[1], tok[2]);
		audit(line);
	}
	free_tokens(tok, n);
}

int main(int argc, char **argv)
{
	int requests = argc > 1 ? atoi(argv[1]) : 200000;
	struct table t = { 0 };
	char line[64];

	for (int i = 0; i < requests; i++) {
		snprintf(line, sizeof(line), "SET key%d value%d", i % 2000, i);
		handle(&t, line);
	}
	for (size_t i = 0; i < t.n; i++) {
		free(t.e[i].key);
		free(t.e[i].value);
	}
	free(t.e);
	printf("%d requests, %zu keys\n", requests, t.n);
	return 0;
}
